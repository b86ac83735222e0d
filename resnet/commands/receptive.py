"""`python -m resnet receptive`: the theoretical receptive field of one unit (a box of input pixels) and its
effective one (Luo et al. 2016), in the residual network and in its plain twin."""

from __future__ import annotations

from resnet import images
from resnet.architectures import build, get
from resnet.commands.options import print_json
from resnet.errors import UserError
from resnet.receptive import FieldProbe, field_layers, noise_images, plain_twin


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "receptive", help="theoretical and effective receptive field of one unit, residual net and plain twin",
        description="Place a unit at POSITION of LAYER's map and print the box of input pixels it can see (from "
                    "the per-layer table: receptive field, jump and where the first window starts, padding "
                    "included) and how its input gradient |d unit / d input| spreads: the radii around the box's "
                    "centre holding 50% and 90% of it, and its share inside the box. The plain twin holds the "
                    "residual network's own kernels, without the shortcuts.")
    p.add_argument("--arch", default="resnet50", help="architecture name (default resnet50)")
    p.add_argument("--layer", default=None,
                   help="a layer with a spatial map, e.g. conv3_block4_out (default: the middle block's output)")
    p.add_argument("--position", default=None, metavar="ROW,COLUMN",
                   help="the unit's place on the layer's map, counted from 0 (default: the middle)")
    p.add_argument("--input-size", type=int, default=None,
                   help="input side in pixels (default: the network's own, e.g. 224)")
    p.add_argument("--weights", default="random",
                   help="'random' (seeded, default: Luo et al.'s setting), 'imagenet' or a weights file")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and noise images (default 0)")
    p.add_argument("--image", metavar="PHOTO", default=None,
                   help="the photo the gradient is taken at (default: noise images, averaged)")
    p.add_argument("--crop", dest="crop_mode", choices=images.CROP_MODES, default="center",
                   help="how PHOTO becomes the input")
    p.add_argument("--json", action="store_true",
                   help='print {"arch", "layer", "position", "map_size", "input_size", "theoretical": {"size", '
                        '"jump", "top", "left", "bottom", "right"}, "effective": {"residual": {"radius_50", '
                        '"radius_90", "mass_in_box", "peak"}, "plain": {…}}, "weights", "pretrained", "inputs"}')
    p.set_defaults(func=main)


def _position(text: str) -> tuple[int, int]:
    try:
        row, column = (int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"--position takes ROW,COLUMN, like 14,14; not {text!r}") from None
    return row, column


def main(args) -> int:
    arch = get(args.arch)
    wanted = _position(args.position) if args.position else None
    layer = args.layer or field_layers(args.arch)[len(field_layers(args.arch)) // 2]
    rgb = images.read_image_file(args.image) if args.image else None
    size = args.input_size or arch.input_shape[0]
    weights = None if args.weights == "random" else args.weights
    model = build(args.arch, input_shape=(size, size, 3), weights=weights, seed=args.seed)
    residual = FieldProbe(model)
    if layer not in set(residual.rows.name):
        raise UserError(f"{args.arch} has no layer {layer!r}; block outputs such as {field_layers(args.arch)[1]} "
                        "work, and `python -m resnet summary` lists every layer")
    height, width = residual.map_size(layer)
    position = wanted or (height // 2, width // 2)
    box = residual.box(layer, position)  # refuses a position off the map before any gradient is taken
    if rgb is not None:
        crop = images.crop_for_model(rgb, (size, size), crop_mode=args.crop_mode)
        inputs = images.preprocess(crop, arch.preprocessing)
        described = args.image
    else:
        inputs = noise_images((size, size, 3), arch.preprocessing, seed=args.seed)
        described = f"{len(inputs)} noise images (seed {args.seed})"
    fields = {"residual": residual.field(layer, position, inputs),
              "plain": FieldProbe(plain_twin(model, args.arch)).field(layer, position, inputs)}
    document = {
        "arch": args.arch, "layer": layer, "position": list(position), "map_size": [height, width],
        "input_size": [size, size],
        "theoretical": {"size": box.size, "jump": residual.jump(layer),
                        **box.to_json()},
        "effective": {name: field.to_json() for name, field in fields.items()},
        "weights": "random (seed %d)" % args.seed if weights is None else str(weights),
        "pretrained": weights is not None,
        "inputs": described,
    }
    if args.json:
        print_json(document)
    else:
        print(format_fields(document))
    return 0


def format_fields(document: dict) -> str:
    theory = document["theoretical"]
    height, width = document["map_size"]
    row, column = document["position"]
    lines = [f"{document['arch']} {document['layer']} ({height}×{width} map), unit at row {row}, column {column}; "
             f"input {document['input_size'][0]}×{document['input_size'][1]}; weights: {document['weights']}; "
             f"inputs: {document['inputs']}",
             f"  theoretical field: {theory['size']}×{theory['size']} px, rows {theory['top']}…{theory['bottom']}, "
             f"columns {theory['left']}…{theory['right']} (jump {theory['jump']} px; beyond 0…"
             f"{document['input_size'][0] - 1} is padding)",
             f"  {'effective field':<14} {'50% within':>11} {'90% within':>11} {'in the box':>11}  peak at"]
    for name, field in document["effective"].items():
        if field["radius_50"] is None:
            lines.append(f"  {name:<14} the unit does not depend on the input here (every ReLU on its way is off)")
            continue
        lines.append(f"  {name:<14} {field['radius_50']:8.1f} px {field['radius_90']:8.1f} px "
                     f"{field['mass_in_box']:11.1%}  {tuple(field['peak'])}")
    return "\n".join(lines)
