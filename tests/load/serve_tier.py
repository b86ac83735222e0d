"""The network tier's figures (issue 20), measured on this machine: `python -m resnet serve` started as a user starts
it, then cold start to the first answer, each process's memory, the latency of a burst of simultaneous /v1/predict
requests, and the CPU seconds each request costs Serve's proxy, the ingress replica and the Answer replica.

    .venv/bin/python tests/load/serve_tier.py                       # 30 at once, 3 bursts, fp32 (bf16 too if offered)
    .venv/bin/python tests/load/serve_tier.py --burst 10 --bursts 5 --replicas 2

A script, not a test: it takes both cores for a minute or two. The IR is exported first (its own step, timed), into
a fresh cache unless --cache names one.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from resnet import paths  # noqa: E402
from resnet.serving.client import ServeClient, ServeUnavailable  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree(root: int) -> list[int]:
    """`root` and its descendants, and every process of this user whose name says Ray started it (Ray's workers
    are children of the raylet, itself a child of the driver)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                found.add(child)
                frontier.append(child)
    return sorted(found)


def name_of(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return "?"
    return command if command.startswith("ray::") else Path(command).name or "?"


def memory(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB."""
    try:
        values = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
        return int(values["Rss"].split()[0]) / 1024, int(values["Pss"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        return 0.0, 0.0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError):
        return 0.0


def role_of(name: str) -> str:
    if "ProxyActor" in name:
        return "proxy"
    if "Ingress" in name:
        return "ingress replica"
    if "Answer" in name:
        return "Answer replica"
    return "Ray's own"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=30)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="serve-tier-"))
    env = {**os.environ, "RESNET_CACHE_DIR": str(cache)}
    report = {}

    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "resnet", "serve", "--export"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    report["export_s"] = round(time.perf_counter() - began, 1)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "resnet", "serve", "--port", str(port), "--roles", "answer",
                               "--answer-replicas", str(args.replicas)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    photo = paths.FIRST_SAMPLE.read_bytes()
    client = ServeClient(url, pool_size=args.burst)
    try:
        while True:
            try:
                first = client.request("POST", "/v1/predict", body=photo)
                break
            except ServeUnavailable:
                if server.poll() is not None or time.perf_counter() - began > 300:
                    raise SystemExit("the tier did not start") from None
                time.sleep(0.2)
        report["cold_start_to_first_answer_s"] = round(time.perf_counter() - began, 1)
        report["pretrained"] = first["pretrained"]

        precisions = client.request("GET", "/v1/health")["answer"]["precisions"]
        pids = tree(server.pid)
        for precision in precisions:
            client.request("POST", "/v1/predict", params={"precision": precision}, body=photo)  # made, warm
            before = {pid: cpu_seconds(pid) for pid in pids}
            latencies = []
            for _ in range(args.bursts):
                def ask(_):
                    start = time.perf_counter()
                    client.request("POST", "/v1/predict", params={"precision": precision}, body=photo)
                    return time.perf_counter() - start

                with ThreadPoolExecutor(args.burst) as pool:
                    latencies.append(sorted(pool.map(ask, range(args.burst))))
                time.sleep(0.5)
            requests = args.burst * args.bursts
            spent: dict[str, float] = {}
            for pid in pids:
                role = role_of(name_of(pid))
                spent[role] = spent.get(role, 0.0) + cpu_seconds(pid) - before.get(pid, 0.0)
            flat = sorted(x for burst in latencies for x in burst)
            report[precision] = {
                "p50_s": round(flat[len(flat) // 2], 2),
                "p99_s": round(flat[min(len(flat) - 1, int(len(flat) * 0.99))], 2),
                "last_of_each_burst_s": [round(b[-1], 2) for b in latencies],
                "cpu_s_per_request": {role: round(seconds / requests, 4) for role, seconds in sorted(spent.items())},
            }

        processes = []
        for pid in tree(server.pid):
            rss, pss = memory(pid)
            processes.append({"pid": pid, "name": name_of(pid), "role": role_of(name_of(pid)),
                              "rss_mb": round(rss), "pss_mb": round(pss)})
        report["processes"] = processes
        for role in ("Answer replica", "ingress replica", "proxy", "Ray's own"):
            mine = [p for p in processes if p["role"] == role]
            report[f"{role} MB (RSS, PSS)"] = (sum(p["rss_mb"] for p in mine), sum(p["pss_mb"] for p in mine))
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
