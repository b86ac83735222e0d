"""`python -m resnet predict IMAGE…`: the top-k ImageNet classes of each image, with device and latency."""

from __future__ import annotations

import sys

from resnet import engines, images
from resnet.commands.options import add_network_arguments, load_classifier, print_json
from resnet.devices import PRECISIONS
from resnet.errors import ImageError, UserError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "predict", help="top-k ImageNet classes of one or more images",
        description="Decode each image with Pillow, crop it to the network's input, preprocess it as "
                    "keras.applications does and classify all of them as one batch. Latency is the batch's "
                    "crop → preprocess → forward pass → top-k time. A file that cannot be read is reported as "
                    "'error: …' and the exit status is 2; the others are still classified.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help=f"{images.FORMAT_NAMES} file")
    add_network_arguments(p, what="every result")
    p.add_argument("--top", type=int, default=5, help="how many classes to show (default 5)")
    p.add_argument("--json", action="store_true",
                   help='print a JSON list of {"file", "top": [{"index", "label", "probability"}], "latency_ms", '
                        '"device", "engine", "precision", "pretrained"}')
    p.add_argument("--cam", action="store_true",
                   help='with --json, add to each photo "cam": {"layer", "class", "map"}: the top-1 class\'s heat map '
                        "(Grad-CAM at the last feature map, from the same forward pass), rows of values in [0, 1]")
    p.add_argument("--engine", choices=engines.ENGINES, default=None,
                   help="forward pass: " + "; ".join(f"{kind.name}, {kind.what}" for kind in engines.KINDS.values())
                        + "; auto picks the one that answers these photos soonest, set-up included (default: "
                          "$RESNET_ENGINE, else auto)")
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="fp32 (what keras.applications computes) or bf16 (faster, where the CPU or GPU has bfloat16 "
                        "instructions) (default: $RESNET_PRECISION, else fp32)")
    p.set_defaults(func=main)


def main(args) -> int:
    if args.top < 1:
        raise UserError(f"--top must be at least 1, not {args.top}")
    if args.cam and not args.json:
        raise UserError("--cam adds the heat map to the JSON: add --json")
    decoded, names, failed = [], [], False
    for path in args.images:
        try:
            decoded.append(images.read_image_file(path))
        except ImageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
            continue
        names.append(path)
    if not decoded:
        return 2

    classifier = load_classifier(args, engine=choose_engine(args.engine, args.precision, len(decoded)),
                                 precision=args.precision, crop_mode=args.crop_mode, heat_maps=args.cam)
    predictions = classifier.classify(decoded, names=names, top=args.top)

    if args.json:
        print_json([p.to_json(cam=args.cam) for p in predictions])
    else:
        for prediction in predictions:
            print(format_prediction(prediction, classifier.weights_source))
    return 2 if failed else 0


def choose_engine(asked: str | None, precision: str | None, photos: int) -> str:
    """"auto" here means the engine that answers these photos soonest: a conversion is paid only when the photos
    earn it back (engines.KINDS). bf16 is fast only on the engine that has it (OpenVINO on a CPU)."""
    asked = asked or engines.default_engine()
    precision = precision or engines.default_precision()
    engines.check_precision(precision, asked)
    if asked != "auto":
        return asked
    return engines.resolve_engine("auto") if precision == "bf16" else engines.engine_for_photos(photos)


def format_prediction(prediction, weights_source: str) -> str:
    lines = [f"{prediction.source}: {prediction.device}, {prediction.engine} {prediction.precision}, "
             f"{prediction.latency_ms:.1f} ms "
             f"for a batch of {prediction.batch_size}; weights: {weights_source}"]
    if not prediction.pretrained:
        lines.append(f"  {prediction.caption}")
    width = max(len(score.label) for score in prediction.top)
    for rank, score in enumerate(prediction.top, 1):
        lines.append(f"  {rank}. {score.label:<{width}}  #{score.index:<4d} {score.probability:8.2%}")
    return "\n".join(lines)
