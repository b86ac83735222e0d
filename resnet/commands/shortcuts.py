"""`python -m resnet shortcuts PHOTO`: per residual block, ‖F(x)‖ / ‖x‖ — what the residual branch adds against
what the shortcut carries — for one photo."""

from __future__ import annotations

from resnet.commands.options import add_photo_arguments, load_photo, print_json
from resnet.inference import UNTRAINED_LABEL
from resnet.shortcuts import ShortcutProbe


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "shortcuts", help="per block, what the residual branch adds against what the shortcut carries",
        description="Run PHOTO through the network and print, for every residual block, the Euclidean norms of "
                    "what its shortcut carries (x, or the 1×1 projection of x) and of what its residual branch adds "
                    "(F(x)), over the whole map, and their ratio ‖F(x)‖ / ‖x‖.")
    add_photo_arguments(p, what="every figure")
    p.add_argument("--json", action="store_true",
                   help='print {"file", "arch", "pretrained", "weights", "blocks": [{"block", "kind", '
                        '"shortcut_norm", "residual_norm", "ratio"}]}')
    p.set_defaults(func=main)


def main(args) -> int:
    classifier, _, model_input = load_photo(args)
    signals = ShortcutProbe(classifier.model, args.arch)(model_input)
    if args.json:
        print_json({"file": args.image, "arch": args.arch, "pretrained": classifier.pretrained,
                    "weights": classifier.weights_source, "blocks": [s.to_json() for s in signals]})
        return 0
    print(f"{args.image}: {args.arch}, weights: {classifier.weights_source}")
    if not classifier.pretrained:
        print(f"  {UNTRAINED_LABEL}")
    print(f"  {'block':<14} {'shortcut':<10} {'‖x‖':>12} {'‖F(x)‖':>12} {'‖F(x)‖/‖x‖':>11}")
    for s in signals:
        print(f"  {s.block:<14} {s.kind:<10} {s.shortcut_norm:12.4g} {s.residual_norm:12.4g} {s.ratio:11.3f}")
    return 0
