"""The options several sub-commands share, what they load (which network for `summary` and `diagram`, which
classifier and photo for `predict`, `lesion`, `shortcuts`), and how they print --json. Not a sub-command itself (see
COMMANDS)."""

from __future__ import annotations

import json
import sys

from resnet import images
from resnet.architectures import WITH_WEIGHTS, ModelSpec
from resnet.errors import WeightsUnavailable
from resnet.inference import Classifier


# ---- a network of the table, with random weights (summary, diagram) ------------------------------------------------

def add_model_arguments(parser) -> None:
    """The options that pick a network and how it is built."""
    parser.add_argument("--arch", default="resnet50", help="architecture name, e.g. resnet50, resnet20, resnet50v2 "
                                                          "(default resnet50)")
    parser.add_argument("--input-size", type=int, default=None,
                        help="input side in pixels (default: the network's own, e.g. 224)")
    parser.add_argument("--classes", type=int, default=None, help="classifier outputs (default: the network's own)")
    parser.add_argument("--no-top", dest="include_top", action="store_false",
                        help="leave out the classifier head (include_top=False)")
    parser.add_argument("--plain", action="store_true", help="the plain twin: same layers, no shortcuts")
    parser.add_argument("--no-bn", dest="batch_norm", action="store_false", help="drop every BatchNormalization")


def model_spec(args) -> ModelSpec:
    return ModelSpec(arch=args.arch, input_size=args.input_size, classes=args.classes,
                     include_top=args.include_top, plain=args.plain, batch_norm=args.batch_norm)


# ---- a classifier with weights, and a photo for it (predict, lesion, shortcuts) ------------------------------------

def add_photo_arguments(p, *, what: str) -> None:
    p.add_argument("image", metavar="PHOTO", help=f"{images.FORMAT_NAMES} file")
    add_network_arguments(p, what=what)


def add_network_arguments(p, *, what: str) -> None:
    """The options that say which network classifies a photo, and how the photo is cropped for it."""
    p.add_argument("--arch", default="resnet50",
                   help=f"architecture with ImageNet weights: {', '.join(WITH_WEIGHTS)} (default resnet50)")
    p.add_argument("--weights", default="imagenet",
                   help="'imagenet' (keras.applications' file, found via RESNET_WEIGHTS, RESNET_WEIGHTS_DIR or the "
                        "Keras cache) or the path of a weights file (default imagenet)")
    p.add_argument("--allow-untrained", action="store_true",
                   help=f"without ImageNet weights, use random ones ({what} is then marked UNTRAINED)")
    p.add_argument("--crop", dest="crop_mode", choices=images.CROP_MODES, default="center",
                   help="center: fill the input and cut the middle out (default); squash: resize the whole image")


def load_classifier(args, **options) -> Classifier:
    """The classifier `add_network_arguments` asked for; a note on stderr when it runs on random weights."""
    try:
        classifier = Classifier.load(args.arch, args.weights, allow_untrained=args.allow_untrained, **options)
    except WeightsUnavailable as exc:
        hint = "" if args.allow_untrained else "; or pass --allow-untrained to see what random weights do"
        raise WeightsUnavailable(f"{exc}{hint}") from None
    if classifier.weights_problem:
        print(f"note: {classifier.weights_problem}", file=sys.stderr)
    return classifier


def load_photo(args):
    """(classifier, crop, model input) for the photo: the image is read first, so a bad file costs no network."""
    rgb = images.read_image_file(args.image)
    # TensorFlow's engine, never traced here: these commands run the network their own way
    classifier = load_classifier(args, engine="tf", warm_up=False)
    crop = images.crop_for_model(rgb, classifier.input_size, crop_mode=args.crop_mode)
    return classifier, crop, images.preprocess(crop, classifier.preprocessing)


# ---- output ------------------------------------------------------------------------------------------------------

def print_json(document) -> None:
    """A command's --json answer on stdout, indented, ending with a newline (notes go to stderr)."""
    json.dump(document, sys.stdout, indent=2)
    print()
