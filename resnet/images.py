"""From uploaded bytes to what a ResNet sees: decode, normalise to RGB, crop, preprocess.

Pure functions, no Streamlit. Every problem a user can cause raises `ImageError` with one line that names the file,
says what was wrong and what to do.
"""

from __future__ import annotations

import io
import math
from os import PathLike
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from resnet import paths
from resnet.datasets import lab_input
from resnet.errors import ImageError

# --- Limits (the only place they are set; .streamlit/config.toml repeats MAX_UPLOAD_MB as server.maxUploadSize) ---
MAX_UPLOAD_MB = 20
MAX_MEGAPIXELS = 40  # well under Pillow's own bomb threshold (~89 MP), so our check fires first
MAX_SIDE = 16384
MAX_ASPECT_RATIO = 20  # longer side : shorter side
MIN_SIDE = 32  # the stride-32 trunk would see less than one cell of real detail
MAX_PHOTOS = 10  # photos classified in one request: each one decodes to up to 120 MB before it is cropped


def over_max_photos(name: str) -> ImageError:
    """The refusal of a photo past MAX_PHOTOS in one request (it is not read)."""
    return ImageError(f"{' '.join(name.split())}: not classified, over {MAX_PHOTOS} photos at once; remove some "
                      "and try again")

# Pillow's format names; MPO is what Pillow calls the multi-picture JPEGs many phone cameras write.
SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "GIF", "TIFF"})
# The file extensions of those formats: what an upload widget accepts and a folder of samples may hold.
UPLOAD_TYPES = ("jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff")
FORMAT_NAMES = "JPEG, PNG, WebP, BMP, GIF or TIFF"  # SUPPORTED_FORMATS, as a user knows them
_FORMAT_HINT = f"use {FORMAT_NAMES}"

# Formats Pillow cannot open at all, recognised by their first bytes so the user hears "unsupported", not "not an
# image".
_SIGNATURES = (
    (0, b"%PDF-", "PDF"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (0, b"<svg", "SVG"),
    (0, b"<?xml", "SVG/XML"),
)

# Resampling filter: Pillow's BILINEAR widens its kernel when shrinking (antialiasing), so a 12 MP phone photo
# becomes a smooth 224 px image; keras' load_img default (nearest) aliases fine texture, which ResNets notice.
RESAMPLE = Image.Resampling.BILINEAR
CROP_MODES = ("center", "squash")  # how a photo becomes the model's input size: `crop_for_model`
# How its pixels are then scaled for a weight family (`preprocess`); "lab": the gradient lab's own nets.
PREPROCESSING_MODES = ("caffe", "tf", "lab")


def decode_image(data: bytes, *, name: str = "image", min_side: int = MIN_SIDE) -> np.ndarray:
    """Decode image bytes to an H×W×3 uint8 RGB array, upright as the camera meant it.

    `min_side` is the one guard a caller may change: the gradient lab trains on images as small as 8 px.
    """
    return np.array(open_image(data, name=name, min_side=min_side), dtype=np.uint8)


def open_image(data: bytes, *, name: str = "image", min_side: int = MIN_SIDE,
               fit: tuple[int, int] | None = None) -> Image.Image:
    """`decode_image` as an RGB Pillow image: what `crop_for_model` takes without a copy to and from numpy (the
    answering path's way, 0.1 ms of a photo's ~1.5 ms around the network).

    `fit` = (height, width) the image is going to be cropped to: a JPEG at least twice that size is decoded at a
    half, a quarter or an eighth of its size (libjpeg's DCT scaling, as Pillow's `draft`), never smaller than the
    crop needs. A 24-megapixel phone photo then decodes to 1.1 MB instead of 72 MB, eight times faster; the limits
    above still apply to its full size.
    """
    name = _one_line(name)
    _check_size(len(data), name)
    _check_signature(data, name)
    try:
        # Not closed by a `with`: closing a Pillow image frees its pixels, and these are the result. Nothing is left
        # open once it is loaded: the bytes are in memory.
        img = Image.open(io.BytesIO(data))
        fmt = img.format or "unknown"
        if fmt not in SUPPORTED_FORMATS:
            raise ImageError(f"{name}: unsupported format {fmt}; {_FORMAT_HINT}")
        _check_dimensions(img.size, name, min_side)
        if fit is not None and fmt in ("JPEG", "MPO"):
            # Any orientation (EXIF may turn it): each side at least the crop's longer side over the shorter side.
            scale = max(fit) / min(img.size)
            img.draft(None, (math.ceil(img.width * scale), math.ceil(img.height * scale)))
        try:
            img.load()  # force a full decode now: truncation shows up here, not later in the model
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageError(
                f"{name}: the {fmt} file is truncated or corrupt ({_reason(exc)}); export or upload it again"
            ) from exc
        return _to_rgb_image(_upright(img), name)
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: not an image file Pillow can read; {_FORMAT_HINT}") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard (raised at open for > ~179 MP, or if warnings are errors); same advice as ours.
        raise ImageError(
            f"{name}: too many pixels (over {MAX_MEGAPIXELS} megapixels, a decompression-bomb guard); "
            "resize it first"
        ) from exc


def read_image_file(path: str | PathLike[str]) -> np.ndarray:
    """Decode an image file on disk (the CLI's way in), with the same checks as an upload."""
    path = Path(path)
    try:
        _check_size(path.stat().st_size, path.name)  # before reading: a huge file is refused unread
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        problem = f"cannot read the file ({type(exc).__name__}); check the path"
        raise ImageError(f"{_one_line(str(path))}: {problem}") from exc
    return decode_image(data, name=path.name)


def crop_for_model(rgb: np.ndarray | Image.Image, size: tuple[int, int] = (224, 224), *,
                   crop_mode: str = "center") -> np.ndarray:
    """The uint8 image the model will see, `size` = (height, width) as in keras' target_size.

    crop_mode="center": scale so the image covers `size` (shorter side fits), then cut the middle out.
    crop_mode="squash": scale the whole image to `size`, ignoring its aspect ratio.
    """
    if crop_mode not in CROP_MODES:
        raise ValueError(f"crop_mode must be one of {CROP_MODES}, not {crop_mode!r}")
    target_h, target_w = size
    img = rgb if isinstance(rgb, Image.Image) else Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    if crop_mode == "squash":
        return np.asarray(img.resize((target_w, target_h), RESAMPLE))
    w, h = img.size
    scale = max(target_w / w, target_h / h)
    # max(): rounding must never leave the resized image a pixel short of the crop box.
    new_w, new_h = max(target_w, round(w * scale)), max(target_h, round(h * scale))
    left, top = (new_w - target_w) // 2, (new_h - target_h) // 2
    # Only the part that is kept is resized (Pillow's `box`, in the photo's own pixels, at the same scale): the
    # same filter at the same places (each pixel within one level of resizing the whole photo and cutting), a third
    # less work for a 3:2 photo: 0.25 ms of the ~2.5 ms spent around the network.
    x_scale, y_scale = w / new_w, h / new_h
    box = (left * x_scale, top * y_scale, (left + target_w) * x_scale, (top + target_h) * y_scale)
    return np.asarray(img.resize((target_w, target_h), RESAMPLE, box=box))


def crop_each(named_items, size: tuple[int, int], *, crop_mode: str = "center"):
    """Each (name, bytes) decoded and cropped to `size`, one photo held decoded at a time (a JPEG at the size its
    crop needs: `open_image`'s `fit`), past MAX_PHOTOS refused unread. Returns (slots, crops, names, pixels): slots
    holds each file's ImageError in its place and None where its crop is next in `crops`; pixels is what was
    decoded, for a caller that hands freed memory back after large decodes."""
    slots: list[ImageError | None] = []
    crops, names, pixels = [], [], 0
    for number, (name, data) in enumerate(named_items):
        try:
            if number >= MAX_PHOTOS:
                raise over_max_photos(name)
            picture = open_image(data, name=name, fit=size)
            pixels += picture.width * picture.height
            crops.append(crop_for_model(picture, size, crop_mode=crop_mode))
            del picture
        except ImageError as exc:
            slots.append(exc)
            continue
        names.append(name)
        slots.append(None)
    return slots, crops, names, pixels


def answers_in_place(slots: list, answers) -> list:
    """`slots` (crop_each's) with each None replaced by the next of `answers`."""
    answers = iter(answers)
    return [next(answers) if slot is None else slot for slot in slots]


def preprocess(batch: np.ndarray, preprocessing: str) -> np.ndarray:
    """Scale uint8 pixels the way a weight family was trained (`Architecture.preprocessing`): float32, same shape.

    preprocessing="caffe" (ResNet v1, keras.applications.resnet): RGB→BGR, minus the ImageNet BGR mean, no scaling.
    preprocessing="tf" (ResNet v2, keras.applications.resnet_v2): pixels mapped to [-1, 1].
    preprocessing="lab" (a net the gradient lab trained): as its training images were (datasets.lab_input).
    """
    if preprocessing not in PREPROCESSING_MODES:
        raise ValueError(f"preprocessing must be one of {PREPROCESSING_MODES}, not {preprocessing!r}")
    # A float32 copy: keras' numpy path subtracts in place, which would otherwise write into the caller's array.
    x = np.array(batch, dtype=np.float32)
    if preprocessing == "lab":
        return lab_input(x / 255)
    # Imported here: decoding and cropping (the page's part) must not load TensorFlow with Keras.
    from keras.applications import resnet as keras_resnet
    from keras.applications import resnet_v2 as keras_resnet_v2

    fn = keras_resnet.preprocess_input if preprocessing == "caffe" else keras_resnet_v2.preprocess_input
    return np.asarray(fn(x), dtype=np.float32)


def prepare(
    rgb: np.ndarray, size: tuple[int, int] = (224, 224), *, crop_mode: str = "center", preprocessing: str = "caffe"
) -> np.ndarray:
    """One decoded image → one float32 model input of shape size + (3,)."""
    return preprocess(crop_for_model(rgb, size, crop_mode=crop_mode), preprocessing)


# --- helpers ---------------------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "image"


def _reason(exc: BaseException) -> str:
    return _one_line(str(exc)) if str(exc).strip() else type(exc).__name__


def _check_size(n_bytes: int, name: str) -> None:
    if n_bytes > MAX_UPLOAD_MB * 1024 * 1024:
        raise ImageError(
            f"{name}: the file is {n_bytes / 1024 / 1024:.1f} MB, over the {MAX_UPLOAD_MB} MB limit; "
            "use a smaller image"
        )
    if n_bytes == 0:
        raise ImageError(f"{name}: the file is empty (0 bytes); {_FORMAT_HINT}")


def _check_signature(data: bytes, name: str) -> None:
    for offset, magic, fmt in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            raise ImageError(f"{name}: unsupported format {fmt}; {_FORMAT_HINT}")


def _check_dimensions(size: tuple[int, int], name: str, min_side: int = MIN_SIDE) -> None:
    """Refuse before decoding: header sizes are cheap to read, pixels are not."""
    w, h = size
    dims = f"{w}x{h} px"
    if w * h > MAX_MEGAPIXELS * 1_000_000:
        raise ImageError(
            f"{name}: {dims} is {w * h / 1e6:.0f} megapixels, over the {MAX_MEGAPIXELS} MP limit "
            "(a decompression-bomb guard); resize it first"
        )
    if max(w, h) > MAX_SIDE:
        raise ImageError(f"{name}: {dims} has a side over {MAX_SIDE} px; resize it first")
    if min(w, h) < min_side:
        raise ImageError(
            f"{name}: {dims} is too small to classify (shortest side under {min_side} px); use a larger image"
        )
    if max(w, h) / min(w, h) > MAX_ASPECT_RATIO:
        raise ImageError(
            f"{name}: {dims} has an aspect ratio of {max(w, h) / min(w, h):.0f}:1, over {MAX_ASPECT_RATIO}:1; "
            "crop it around the object first"
        )


def _upright(img: Image.Image) -> Image.Image:
    try:
        ImageOps.exif_transpose(img, in_place=True)  # in place: most photos need nothing, and then nothing is copied
        return img
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError):
        # Broken EXIF only costs us the orientation; the pixels are still worth classifying.
        return img


def _to_rgb_image(img: Image.Image, name: str) -> Image.Image:
    mode = img.mode
    if mode.startswith("I;16"):
        return Image.fromarray(_gray_to_rgb(_scale_16bit(np.asarray(img))))
    if mode == "I":
        # Pillow stores 16-bit samples from some TIFF/PNG writers as 32-bit "I"; scale by range, never clip.
        values = np.asarray(img)
        if values.min() >= 0 and values.max() <= 255:
            return Image.fromarray(_gray_to_rgb(values.astype(np.uint8)))
        if values.min() >= 0 and values.max() <= 65535:
            return Image.fromarray(_gray_to_rgb(_scale_16bit(values)))
        return Image.fromarray(_gray_to_rgb(_stretch(values)))
    if mode == "F":
        values = np.asarray(img)
        if np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1:
            return Image.fromarray(_gray_to_rgb(np.rint(values * 255).astype(np.uint8)))
        return Image.fromarray(_gray_to_rgb(_stretch(values)))
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        # Transparent pixels are shown on white (as a browser shows them), not as the black their RGB often hides.
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    try:
        return img if img.mode == "RGB" else img.convert("RGB")
    except ValueError as exc:  # e.g. LAB or HSV TIFFs, which Pillow reads but cannot turn into RGB
        raise ImageError(f"{name}: colour mode {img.mode} is not supported; save the image as RGB") from exc


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    # 65535 / 257 == 255 exactly: the full 16-bit range maps onto the full 8-bit range.
    return np.rint(values.astype(np.float64) / 257.0).astype(np.uint8)


def _stretch(values: np.ndarray) -> np.ndarray:
    values = np.nan_to_num(values.astype(np.float64))
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - lo) / (hi - lo) * 255).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., np.newaxis], 3, axis=-1)


def encoded(pixels: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    """A uint8 image (H×W or H×W×3) encoded once, for pages that show it again on every rerun."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def sample_images() -> dict[str, Path]:
    """The photos shipped in assets/samples (see assets/README for their sources and licences), by file name."""
    return {path.name: path for path in sorted(paths.SAMPLES.iterdir())
            if path.suffix.lower().lstrip(".") in UPLOAD_TYPES}
