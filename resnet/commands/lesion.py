"""`python -m resnet lesion PHOTO`: the top-5 of the intact network and of the network without each block (Veit et
al. 2016)."""

from __future__ import annotations

from resnet.commands.options import add_photo_arguments, load_photo, print_json
from resnet.errors import UserError
from resnet.inference import UNTRAINED_LABEL, top_scores
from resnet.lesion import LesionNet, removal_name
from resnet.residual_blocks import find_blocks, residual_blocks


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lesion", help="remove residual blocks and compare the top-5 (Veit et al. 2016)",
        description="Classify PHOTO with the intact network and with each residual block removed (the block then "
                    "passes on its shortcut alone), all in one batch. 'kept' is the probability the lesioned "
                    "network gives the intact network's top-1 class.")
    add_photo_arguments(p, what="every result")
    p.add_argument("--blocks", metavar="B1,B2",
                   help="blocks to remove one at a time, by keras.applications name (conv3_block2,conv4_block1); "
                        "join blocks with '+' to remove them together (conv3_block2+conv3_block3); "
                        "default: every block in turn")
    p.add_argument("--top", type=int, default=5, help="how many classes to show (default 5)")
    p.add_argument("--json", action="store_true",
                   help='print {"file", "intact": [{"index", "label", "probability"}], "lesions": [{"block", '
                        '"top", "kept"}], "pretrained", "weights"}')
    p.set_defaults(func=main)


def removals(text: str | None) -> list[tuple[str, ...]] | None:
    if text is None:
        return None
    parts = [tuple(name.strip() for name in part.split("+")) for part in text.split(",")]
    if not parts or any(not all(part) for part in parts):
        raise UserError(f"--blocks takes block names separated by commas (or '+'), like conv3_block2,conv4_block1; "
                        f"not {text!r}")
    return parts


def main(args) -> int:
    if args.top < 1:
        raise UserError(f"--top must be at least 1, not {args.top}")
    chosen = removals(args.blocks)
    for removed in chosen or ():
        find_blocks(args.arch, removed)  # an unknown name is refused before a network is built
    chosen = chosen or [(block.name,) for block in residual_blocks(args.arch)]
    classifier, _, model_input = load_photo(args)
    result = LesionNet(classifier.model, args.arch)(model_input, chosen)
    document = {
        "file": args.image,
        "arch": args.arch,
        "pretrained": classifier.pretrained,
        "weights": classifier.weights_source,
        "intact": [_item(s) for s in top_scores(result.intact, classifier.labels, args.top)],
        "lesions": [{"block": removal_name(removed), "top": [_item(s) for s in top_scores(row, classifier.labels,
                                                                                          args.top)],
                     "kept": float(kept)}
                    for removed, row, kept in zip(result.removed, result.lesioned, result.kept, strict=True)],
    }
    if args.json:
        print_json(document)
    else:
        print(format_lesions(document))
    return 0


def _item(score) -> dict:
    return {"index": score.index, "label": score.label, "probability": score.probability}


def format_lesions(document: dict) -> str:
    best = document["intact"][0]
    lines = [f"{document['file']}: {document['arch']}, weights: {document['weights']}"]
    if not document["pretrained"]:
        lines.append(f"  {UNTRAINED_LABEL}")
    lines.append(f"  intact: {best['label']} #{best['index']} {best['probability']:.2%}")
    width = max(len(lesion["block"]) for lesion in document["lesions"])
    lines.append(f"  {'without':<{width}}  {'kept':>8}  top-1 then")
    for lesion in document["lesions"]:
        first = lesion["top"][0]
        lines.append(f"  {lesion['block']:<{width}}  {lesion['kept']:8.2%}  {first['label']} #{first['index']} "
                     f"{first['probability']:.2%}")
    return "\n".join(lines)
