"""Starting the network tier on Ray: a Ray instance that listens on loopback only and asks for a token, Serve's one
proxy on the head node bound to 127.0.0.1 (or the host asked for), and the application of `deployments`.

What keeps Ray closed (issue 20's probe found a dozen Ray ports on every interface and a world-readable token file):
- RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0: Ray takes 127.0.0.1 as the node's address instead of rewriting it to the
  machine's other address, so its gRPC servers, agents and metrics ports bind to loopback (a multi-machine cluster
  needs its private network address instead: set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1 and run `ray start` there);
- include_dashboard=False: no dashboard and no job API, which runs arbitrary code;
- RAY_AUTH_MODE=token with RAY_AUTH_TOKEN_PATH pointing at a token file written here with mode 0600
  (`token_path`), unless the operator set RAY_AUTH_MODE or the token already;
- proxy_location="HeadOnly", HTTP on 127.0.0.1: one proxy, never two fighting for a port; a reverse proxy in front
  is what reaches it from elsewhere;
- every Serve replica opens an inter-deployment gRPC server that Ray 2.60 binds to "[::]:0", every interface, with
  no setting to change it (ray/serve/_private/replica.py); `bind_replica_ports`, run in each of this job's worker
  processes (runtime_env's worker_process_setup_hook), binds it to the node's own address instead: loopback here, the
  private address in a cluster. tests/test_serving_ray.py fails if a Ray port listens anywhere else.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
from pathlib import Path

from resnet import paths

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
APP_NAME = "resnet"


def token_path() -> Path:
    """The Ray token file this server writes: RESNET_CACHE_DIR's `serve/ray_auth_token`."""
    return paths.cache_root() / "serve" / "ray_auth_token"


def secure_environment(environ=None) -> Path | None:
    """Set the variables that keep Ray on loopback and behind a token (see the module's docstring) in `environ`
    (default os.environ, which Ray's processes inherit); returns the token file, or None where the operator chose
    another way (RAY_AUTH_MODE or RAY_AUTH_TOKEN already set)."""
    environ = os.environ if environ is None else environ
    environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    constants = sys.modules.get("ray._private.ray_constants")
    if environ is os.environ and constants is not None:
        # Read by Ray at import: a process that imported Ray already (a test session) gets what the variable says.
        constants.ENABLE_RAY_CLUSTER = environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"].lower() in ("1", "true")
    if "RAY_AUTH_MODE" in environ or "RAY_AUTH_TOKEN" in environ:
        return None
    path = Path(environ.get("RAY_AUTH_TOKEN_PATH") or token_path())
    if not path.is_file() or not path.read_text().strip():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created 0600 from the start: never readable by others, not even between the write and a chmod.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as f:
            f.write(secrets.token_hex(32))
    os.chmod(path, 0o600)
    environ["RAY_AUTH_MODE"] = "token"
    environ["RAY_AUTH_TOKEN_PATH"] = str(path)
    if environ is os.environ and "ray._raylet" in sys.modules:
        # Ray reads its configuration once, at import: a process that imported it already must read it again (as
        # Ray does itself when it turns token auth on), or it would talk to its own cluster without the token.
        from ray._raylet import Config

        Config.initialize("")
    return path


def bind_replica_ports() -> None:
    """In a Ray worker process: bind Serve's per-replica gRPC server to this node's address, not every interface."""
    import ray
    from ray._common import tls_utils
    from ray.serve._private import replica

    node = ray.util.get_node_ip_address()
    host = f"[{node}]" if ":" in node else node

    def on_this_node(server, address):
        if address.startswith("[::]:"):
            address = f"{host}:{address.rsplit(':', 1)[1]}"
        return tls_utils.add_port_to_grpc_server(server, address)

    replica.add_port_to_grpc_server = on_this_node


def init_ray(address: str | None = None, **options):
    """ray.init on loopback with a token and no dashboard (a new local instance, or `address`'s cluster)."""
    secure_environment()
    import ray

    if ray.is_initialized():
        return ray
    # The replicas import `resnet` from this checkout, wherever Ray starts them.
    env_vars = {"PYTHONPATH": os.pathsep.join(filter(None, [str(paths.ROOT), os.environ.get("PYTHONPATH")]))}
    for name in ("RESNET_CACHE_DIR", "XDG_CACHE_HOME", "KERAS_HOME", "RESNET_WEIGHTS", "RESNET_WEIGHTS_DIR"):
        if os.environ.get(name):
            env_vars[name] = os.environ[name]
    if address is None:
        options.setdefault("include_dashboard", False)
    runtime_env = {"env_vars": env_vars, "worker_process_setup_hook": "resnet.serving.launch.bind_replica_ports"}
    ray.init(address=address, runtime_env=runtime_env, logging_level="WARNING",
             log_to_driver=False, **options)
    return ray


def start(*, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, address: str | None = None, blocking: bool = False,
          **application_options):
    """Start Ray (or join `address`), Serve's proxy on `host`:`port`, and the application; its handle."""
    init_ray(address)
    from ray import serve

    from resnet.serving.deployments import application

    serve.start(proxy_location="HeadOnly", http_options={"host": host, "port": port})
    return serve.run(application(**application_options), name=APP_NAME, route_prefix="/", blocking=blocking)


def main(argv=None) -> int:
    """The driver `python -m resnet serve` becomes (its options, already checked there): start, then wait."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m resnet.serving.launch")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--weights", default="imagenet")
    parser.add_argument("--roles", default="answer,explain,train")
    parser.add_argument("--answer-replicas", type=int, default=1)
    parser.add_argument("--address", default=None)
    args = parser.parse_args(argv)
    # `docker stop` and process managers send SIGTERM: leave through Python's exit, so that ray.init's exit hook
    # stops the Ray processes this driver started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        start(host=args.host, port=args.port, address=args.address, blocking=True, arch=args.arch,
              weights=args.weights, roles=tuple(args.roles.split(",")), answer_replicas=args.answer_replicas)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: BLE001 -- the operator reads one line; Ray has logged the rest
        print(f"error: the network tier did not start: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
