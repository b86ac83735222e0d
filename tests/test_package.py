"""The rooms of the code, as the README's layout describes them: the library never reaches into the app or Streamlit,
its modules import each other one way (no circles), and pages lay out without building models themselves."""

import ast
from pathlib import Path

import pytest
from tests.fresh_python import loaded, run_python

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "resnet"
APP = ROOT / "app"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of the file (late imports count too), as dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def library_graph() -> dict[str, set[str]]:
    """resnet's modules → the resnet modules each imports (the package's own __init__ left out: it only gathers)."""
    modules = {module_name(path): path for path in LIBRARY.rglob("*.py")}
    inner = set(modules) - {"resnet"}
    return {name: imported(path) & inner - {name} for name, path in modules.items() if name != "resnet"}


def test_the_library_never_imports_streamlit_or_the_app():
    for path in LIBRARY.rglob("*.py"):
        reached = {name.split(".")[0] for name in imported(path)}
        assert not reached & {"streamlit", "app"}, path.relative_to(ROOT)


def test_the_library_has_no_import_circle():
    graph = library_graph()
    assert "resnet.weights" in graph and "resnet.architectures" in graph["resnet.inference"]  # the graph is real
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for other in sorted(graph.get(name, ())):
            if state.get(other) == "open":
                pytest.fail("import circle: " + " → ".join([*trail[trail.index(other):], name, other]))
            if other not in state:
                visit(other, [*trail, name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_pages_and_panels_build_no_model_themselves():
    # Building, weights and arithmetic on tensors live in resnet/; a page asks for them through the library.
    for path in [*APP.rglob("*.py")]:
        reached = {name.split(".")[0] for name in imported(path)}
        assert not reached & {"keras", "tensorflow", "openvino"}, path.relative_to(ROOT)


# The rooms a page needs when the networks run elsewhere (RESNET_SERVE_URL): loading them must not load TensorFlow,
# whose import alone is ~700 MB of the server (resnet.memory_budget).
LIGHT_ROOMS = ("resnet", "resnet.errors", "resnet.paths", "resnet.images", "resnet.weights", "resnet.limits",
               "resnet.upload_quota", "resnet.uploads", "resnet.datasets", "resnet.styles", "resnet.architectures",
               "resnet.table", "resnet.architecture_charts", "resnet.pictures")


def test_the_rooms_a_thin_page_needs_import_no_tensorflow():
    code = (f"import importlib\nfor name in {LIGHT_ROOMS!r}: importlib.import_module(name)\n"
            + loaded(("tensorflow", "keras", "openvino")))
    heavy = run_python(code)
    assert heavy == "none", f"importing {LIGHT_ROOMS} loaded {heavy}"
