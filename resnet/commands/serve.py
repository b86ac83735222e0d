"""`python -m resnet serve`: the network tier (issue 20) on Ray Serve, on this machine; `--export` saves the Answer
role's IR and exits (for an image build, so that the first start does not pay for it)."""

from __future__ import annotations

import os
import sys

from resnet.architectures import WITH_WEIGHTS
from resnet.errors import UserError

NOT_INSTALLED = ("Ray Serve is an optional install: run `make serve` or pip install -r requirements-serve.txt")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="serve the networks over HTTP on Ray Serve (the lecture-hall tier)",
        description="Start Ray on this machine (loopback only, token auth, no dashboard) and Ray Serve's HTTP proxy "
                    "on --host:--port with the roles: Answer (top-k and heat maps, OpenVINO, no TensorFlow), Explain "
                    "and Train. The page uses it with RESNET_SERVE_URL=http://HOST:PORT. The API is documented in "
                    "resnet/serving/api.py. Weights as everywhere else (RESNET_WEIGHTS, RESNET_WEIGHTS_DIR, the Keras "
                    "cache); without them the answers say they are untrained.")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    p.add_argument("--host", default="127.0.0.1",
                   help="HTTP address (default 127.0.0.1; put a reverse proxy in front rather than 0.0.0.0)")
    p.add_argument("--arch", default="resnet50", choices=WITH_WEIGHTS, help="the network (default resnet50)")
    p.add_argument("--weights", default="imagenet",
                   help="'imagenet' (found, never fetched, by the Answer role) or a weights file (default imagenet)")
    p.add_argument("--roles", default="answer,explain,train",
                   help="roles to deploy, comma-separated (default answer,explain,train; answer is always there)")
    p.add_argument("--answer-replicas", type=int, default=1, help="Answer replicas (default 1)")
    p.add_argument("--address", default=None, help="join this Ray cluster instead of starting one (e.g. auto)")
    p.add_argument("--export", action="store_true",
                   help="only save the Answer role's OpenVINO IR into the cache (RESNET_CACHE_DIR) and exit")
    p.set_defaults(func=main)


def main(args) -> int:
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port must be 1 to 65535, not {args.port}")
    if args.answer_replicas < 1:
        raise UserError(f"--answer-replicas must be at least 1, not {args.answer_replicas}")
    roles = tuple(dict.fromkeys(["answer", *filter(None, (r.strip() for r in args.roles.split(",")))]))
    unknown = [r for r in roles if r not in ("answer", "explain", "train")]
    if unknown:
        raise UserError(f"unknown role {unknown[0]!r}; use some of answer, explain, train")
    if args.export:
        return export(args)
    try:
        import ray.serve  # noqa: F401 -- only asked whether it is there: this process is replaced below
    except ImportError:
        raise UserError(NOT_INSTALLED) from None
    print(f"starting the network tier on http://{args.host}:{args.port} ({', '.join(roles)}); Ctrl-C stops it",
          file=sys.stderr)
    # A fresh process without TensorFlow (this one loaded it to list the commands): the driver stays alive as long
    # as the tier, and should hold Ray's client, not 700 MB of TensorFlow.
    command = [sys.executable, "-m", "resnet.serving.launch", "--host", args.host, "--port", str(args.port),
               "--arch", args.arch, "--weights", args.weights, "--roles", ",".join(roles),
               "--answer-replicas", str(args.answer_replicas)] + (["--address", args.address] if args.address else [])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)
    return 0  # not reached: execv replaces this process


def export(args) -> int:
    from resnet.serving.answer import choose_weights, ensure_ir

    choice = choose_weights(args.arch, args.weights)
    if choice.problem:
        print(f"note: {choice.problem}; exporting random weights (seed {choice.seed}), answers will say so",
              file=sys.stderr)
    print(ensure_ir(args.arch, choice))
    return 0
