"""`python -m resnet weights`: fetch and verify the ImageNet files (what `make weights` runs on a connected machine)."""

from resnet.architectures import ARCHITECTURES, WITH_WEIGHTS
from resnet.weights import imagenet_weights_path


def register(subparsers):
    p = subparsers.add_parser("weights", help="fetch and verify ImageNet weights into Keras' cache",
                              description="Fetch (if needed) and md5-check keras.applications' ImageNet files; "
                                          "print where each one is.")
    p.add_argument("--arch", nargs="+", default=["resnet50"], choices=WITH_WEIGHTS, metavar="NAME",
                   help=f"networks to fetch (default resnet50; any of {', '.join(WITH_WEIGHTS)})")
    p.add_argument("--no-top", action="store_true", help="the files without the 1000-class top")
    p.add_argument("--offline", action="store_true", help="only look: never download")
    p.set_defaults(func=run)


def run(args) -> int:
    for name in args.arch:
        weights_name = ARCHITECTURES[name].imagenet_weights
        path = imagenet_weights_path(weights_name, include_top=not args.no_top, download=not args.offline)
        print(f"{name}: {path}")
    return 0
