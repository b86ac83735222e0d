"""`python -m resnet diagram`: a block diagram of one block, one stage, the whole network or its blocks collapsed,
written as SVG or PNG."""

from __future__ import annotations

from pathlib import Path

from resnet import architectures, diagrams
from resnet.commands.options import add_model_arguments, model_spec
from resnet.errors import UserError
from resnet.naming import stage_name


def register(subparsers) -> None:
    p = subparsers.add_parser("diagram", help="draw a block, a stage, the whole network or its collapsed blocks",
                              description="Write a plot_model-style diagram. With no --block, --stage or --collapsed "
                                          "the whole network is drawn. Rendered files are cached under "
                                          "$RESNET_CACHE_DIR/diagrams (default $XDG_CACHE_HOME/resnet-explorer, else "
                                          "~/.cache/resnet-explorer).")
    add_model_arguments(p)
    p.add_argument("--block", choices=diagrams.BLOCK_KINDS,
                   help="one block: the first identity block, or the first projection (shape-changing) block; "
                        "with --stage, the first one in that stage")
    p.add_argument("--stage", type=int,
                   help="one stage: 1 is the stem, 2… the residual stages, 6 the head; with --collapsed, the "
                        "only stage opened into blocks")
    p.add_argument("--collapsed", action="store_true", help="one node per block, with edges between blocks")
    p.add_argument("--expand", action="append", default=[], metavar="BLOCK",
                   help="with --collapsed, open a block into its layers, e.g. conv3_block2 (repeatable)")
    p.add_argument("--show-shapes", action="store_true", help="input and output shapes")
    p.add_argument("--show-dtype", action="store_true", help="output dtypes")
    p.add_argument("--hide-layer-names", dest="show_layer_names", action="store_false", help="layer types only")
    p.add_argument("--show-activations", dest="show_layer_activations", action="store_true",
                   help="activation functions of the layers that have one")
    p.add_argument("--show-trainable", action="store_true", help="mark trainable and frozen layers")
    p.add_argument("--rankdir", choices=("TB", "LR"), default="TB", help="top to bottom (default) or left to right")
    p.add_argument("-o", "--output", required=True, type=Path, help="FILE.svg or FILE.png")
    p.set_defaults(func=main)


def view_from(args) -> diagrams.View:
    if args.collapsed:
        # Every block is one node: the residual stages are open (or only --stage), the stem and head stay one node.
        residual = range(2, 2 + len(architectures.get(args.arch).depths))
        stages = [stage_name(stage) for stage in ([args.stage] if args.stage else residual)]
        return diagrams.View("collapsed", expand=tuple(stages + args.expand))
    if args.expand:
        raise UserError("--expand works with --collapsed only: add --collapsed, or drop --expand.")
    if args.block:
        return diagrams.View("block", block_kind=args.block, stage=args.stage)
    if args.stage is not None:
        return diagrams.View("stage", stage=args.stage)
    return diagrams.View("whole")


def main(args) -> int:
    fmt = args.output.suffix.lower().lstrip(".")
    if fmt not in diagrams.FORMATS:
        raise UserError(f"cannot tell the format of {args.output}: name the file .svg or .png.")
    options = diagrams.PlotOptions(show_shapes=args.show_shapes, show_dtype=args.show_dtype,
                                   show_layer_names=args.show_layer_names,
                                   show_layer_activations=args.show_layer_activations,
                                   show_trainable=args.show_trainable, rankdir=args.rankdir)
    image = diagrams.render(model_spec(args), view_from(args), options, fmt=fmt)
    try:
        args.output.write_bytes(image)
    except OSError as exc:
        raise UserError(f"cannot write {args.output}: {exc.strerror}; choose another path.") from None
    print(f"wrote {args.output} ({len(image):,} bytes)")
    return 0
