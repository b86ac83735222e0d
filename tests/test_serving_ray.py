"""The network tier on Ray Serve, as a cluster would run it: two Ray nodes simulated on this machine
(ray.cluster_utils.Cluster), one proxy on 127.0.0.1, two Answer replicas on the session's IR. Answers through HTTP
equal the in-process ones; a replica killed in the middle of a burst costs no request its top-5; no Ray port listens
beyond loopback and the token file is its owner's alone.

One cluster for the module (about 30 s to start on two busy cores): the Ray tests are a small share of the suite.
"""

import os
import re
import socket
import stat
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from resnet import paths  # noqa: E402
from resnet.serving.client import RemoteClassifier, ServeClient  # noqa: E402

BURST = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tier(answer_ir):
    from ray import serve
    from ray.cluster_utils import Cluster

    from resnet.serving import launch
    from resnet.serving.deployments import application

    token = launch.secure_environment()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    cluster.add_node(num_cpus=2)
    launch.init_ray(address=cluster.address)
    port = free_port()
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    serve.run(application("resnet50", roles=("answer",), answer_replicas=2, folder=str(answer_ir)),
              name=launch.APP_NAME, route_prefix="/")
    try:
        yield {"url": f"http://127.0.0.1:{port}", "token": token}
    finally:
        serve.shutdown()
        ray.shutdown()
        cluster.shutdown()


def test_answers_through_serve_equal_the_in_process_classifiers(tier, reference_classifier):
    from resnet import images

    remote = RemoteClassifier(tier["url"])
    data = paths.FIRST_SAMPLE.read_bytes()
    [prediction] = remote.classify_each([("cat.jpg", data)])
    [expected] = reference_classifier.classify([data])
    probabilities = reference_classifier.engine.answer(images.preprocess(prediction.crop[None], "caffe"))[0][0]
    assert [s.index for s in prediction.top] == [s.index for s in expected.top]
    assert max(abs(s.probability - probabilities[s.index]) for s in prediction.top) <= 1e-5
    for index, heat_map in expected.cams.items():
        np.testing.assert_allclose(prediction.cams[index], heat_map, atol=1e-5)
    # the photo's bytes, cropped by the tier, give the same answer
    answer = remote.client.request("POST", "/v1/predict", params={"top": 5}, body=data)
    assert [s["index"] for s in answer["top"]] == [s.index for s in expected.top]
    assert "error" in remote.client._pool.request("POST", tier["url"] + "/v1/predict?top=0", body=data).json()


def ray_pids() -> set[int]:
    """Ray's processes of this session: the descendants of this process that Ray started (its head and node
    processes, agents, workers, replicas). Other servers the suite started (Streamlit for the browser tests) are
    not Ray's and are left out; this process's own Ray core worker is left out with it (it binds the way every
    worker does, and every worker is in the list)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = set(), list(children.get(os.getpid(), []))
    while stack:
        pid = stack.pop()
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if command.startswith("ray::") or "/ray/" in command or command.split(" ")[0].endswith(("gcs_server",
                                                                                             "raylet")):
            found.add(pid)
        stack.extend(children.get(pid, []))
    return found


def listening(pids: set[int]) -> list[tuple[str, str, int]]:
    """(address, process name, pid) of every listening TCP socket of `pids`."""
    table = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in table.splitlines():
        fields = line.split()
        for name, pid in re.findall(r'\("([^"]+)",pid=(\d+)', line):
            if int(pid) in pids:
                found.append((fields[3], name, int(pid)))
    return found


def test_no_ray_port_listens_beyond_loopback_and_the_token_is_the_owners(tier):
    from ray._private.authentication.authentication_utils import is_token_auth_enabled

    sockets = listening(ray_pids())
    names = {name for _, name, _ in sockets}
    assert {"gcs_server", "raylet"} <= names and any("Proxy" in n for n in names), names  # the listing is real
    assert any("ServeRepli" in n for n in names), names  # the replicas' own gRPC servers are in it
    loopback = re.compile(r"^(127\.\d+\.\d+\.\d+|\[::1\]|\[::ffff:127\.\d+\.\d+\.\d+\]):\d+$")
    exposed = [(address, name) for address, name, _ in sockets if not loopback.match(address)]
    assert not exposed, f"Ray listens beyond loopback: {exposed}"
    assert is_token_auth_enabled()
    token = tier["token"]
    assert token is not None and stat.S_IMODE(token.stat().st_mode) == 0o600 and len(token.read_text()) >= 32


def replica_actors() -> list[str]:
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == "serve" and "Answer" in a["name"] and "REPLICA" in a["name"].upper()]


def test_a_replica_killed_in_a_burst_costs_no_request_its_top5(tier):
    client = ServeClient(tier["url"], pool_size=BURST)
    data = paths.FIRST_SAMPLE.read_bytes()
    victims = replica_actors()
    assert len(victims) == 2, victims
    results, started = [None] * BURST, threading.Event()

    def ask(i):
        started.set()
        begin = time.perf_counter()
        answer = client.request("POST", "/v1/predict", params={"top": 5}, body=data)
        results[i] = (answer, time.perf_counter() - begin)

    with ThreadPoolExecutor(BURST) as pool:
        futures = [pool.submit(ask, i) for i in range(BURST)]
        started.wait(10)
        time.sleep(0.4)
        ray.kill(ray.get_actor(victims[0], namespace="serve"), no_restart=True)
        for future in futures:
            future.result()  # a request that failed twice raises here
    assert all(len(answer["top"]) == 5 for answer, _ in results)
    assert len({tuple(s["index"] for s in answer["top"]) for answer, _ in results}) == 1
    latencies = sorted(seconds for _, seconds in results)
    print(f"\nburst of {BURST} with a replica killed at 0.4 s: {client.retries} retried, "
          f"p50 {latencies[BURST // 2]:.2f} s, max {latencies[-1]:.2f} s")
    deadline = time.monotonic() + 60  # Serve replaces the replica
    while time.monotonic() < deadline and (len(replica_actors()) < 2 or victims[0] in replica_actors()):
        time.sleep(0.5)
    assert len(replica_actors()) == 2 and victims[0] not in replica_actors()
