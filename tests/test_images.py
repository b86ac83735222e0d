"""resnet.images: every input is built with Pillow (or by hand) in memory."""

import io
import struct
import tomllib
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnet import images
from resnet.errors import ImageError, UserError

ROOT = Path(__file__).resolve().parents[1]
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def encode(img: Image.Image, fmt: str, **save_args) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **save_args)
    return buf.getvalue()


def png_bytes(width: int, height: int, *, bit_depth: int = 8, color_type: int = 2, rows: list[bytes] | None = None):
    """A PNG written by hand: lets a test claim any header size, or use 16-bit RGB, which Pillow cannot write."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + row for row in rows)) if rows else zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def quadrants(width: int = 80, height: int = 40) -> Image.Image:
    """Top-left red, top-right green, bottom-left blue, bottom-right white."""
    img = Image.new("RGB", (width, height))
    for box, colour in (
        ((0, 0, width // 2, height // 2), RED),
        ((width // 2, 0, width, height // 2), GREEN),
        ((0, height // 2, width // 2, height), BLUE),
        ((width // 2, height // 2, width, height), WHITE),
    ):
        img.paste(colour, box)
    return img


def quadrant_colours(rgb: np.ndarray) -> list[np.ndarray]:
    """Colours at the centres of the TL, TR, BL, BR quadrants."""
    h, w = rgb.shape[:2]
    return [rgb[y, x].astype(int) for y, x in ((h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4),
                                               (3 * h // 4, 3 * w // 4))]


def assert_colours(actual: list[np.ndarray], expected: list[tuple[int, int, int]], tol: int = 30) -> None:
    for got, want in zip(actual, expected, strict=True):
        assert np.abs(got - np.array(want)).max() <= tol, (got, want)


def decode_error(data: bytes, name: str = "holiday.jpg") -> str:
    with pytest.raises(ImageError) as info:
        images.decode_image(data, name=name)
    message = str(info.value)
    assert "\n" not in message and name in message, message
    return message


# --- orientation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        (1, [RED, GREEN, BLUE, WHITE]),
        (6, [BLUE, RED, WHITE, GREEN]),  # stored sideways; displayed after a 90° clockwise turn
        (8, [GREEN, WHITE, RED, BLUE]),  # displayed after a 90° counter-clockwise turn
    ],
)
def test_exif_orientation_turns_the_photo_upright(orientation, expected):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(quadrants(80, 40), "JPEG", quality=95, exif=exif.tobytes())

    rgb = images.decode_image(data)

    assert rgb.shape == ((40, 80, 3) if orientation == 1 else (80, 40, 3))
    assert_colours(quadrant_colours(rgb), expected)


# --- colour modes --------------------------------------------------------------------------------------------------


def test_grayscale_becomes_three_equal_channels():
    rgb = images.decode_image(encode(Image.new("L", (40, 40), 77), "PNG"))
    assert rgb.dtype == np.uint8 and rgb.shape == (40, 40, 3)
    assert (rgb == 77).all()


def test_one_bit_image_becomes_black_and_white():
    img = Image.new("1", (40, 40), 0)
    img.paste(1, (20, 0, 40, 40))
    rgb = images.decode_image(encode(img, "BMP"))
    assert (rgb[:, :20] == 0).all() and (rgb[:, 20:] == 255).all()


def test_palette_with_transparency_composites_the_transparent_index_on_white():
    img = Image.new("P", (40, 40), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 - 2) * 3)
    img.paste(1, (20, 0, 40, 40))
    rgb = images.decode_image(encode(img, "PNG", transparency=1))
    assert (rgb[:, :20] == RED).all()
    assert (rgb[:, 20:] == WHITE).all()  # index 1 was blue but transparent


def test_rgba_is_composited_on_white_not_black():
    img = Image.new("RGBA", (40, 40), (0, 0, 0, 0))  # fully transparent black
    img.paste((0, 0, 0, 255), (0, 0, 20, 40))
    img.paste((0, 0, 0, 128), (20, 20, 40, 40))
    rgb = images.decode_image(encode(img, "PNG")).astype(int)
    assert (rgb[:, :20] == 0).all()
    assert (rgb[:20, 20:] == 255).all()
    assert np.abs(rgb[30, 30] - 127).max() <= 1  # half-transparent black over white is mid grey


def test_gray_with_alpha_is_composited_on_white():
    img = Image.new("LA", (40, 40), (0, 0))
    rgb = images.decode_image(encode(img, "PNG"))
    assert (rgb == 255).all()


@pytest.mark.parametrize("fmt", ["TIFF", "JPEG"])
def test_cmyk_becomes_rgb(fmt):
    img = Image.new("CMYK", (40, 40), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    rgb = images.decode_image(encode(img, fmt))
    assert_colours([rgb[20, 20].astype(int)], [RED], tol=8)


def test_16bit_gray_is_scaled_not_clipped():
    values = np.array([[65535, 32896, 1000, 0]], dtype=np.uint16).repeat(40, axis=0).repeat(10, axis=1)
    img = Image.fromarray(values)
    assert img.mode == "I;16"
    rgb = images.decode_image(encode(img, "PNG"))
    assert rgb[0, ::10, 0].tolist() == [255, 128, 4, 0]  # clipping would have given 255, 255, 255, 0
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_16bit_rgb_png_keeps_the_colour_proportions():
    row = struct.pack(">HHH", 0x8000, 0x1234, 0xFFFF) * 40
    rgb = images.decode_image(png_bytes(40, 40, bit_depth=16, color_type=2, rows=[row] * 40))
    assert np.abs(rgb[5, 5].astype(int) - [128, 18, 255]).max() <= 1


def test_32bit_integer_gray_holding_16bit_samples_is_scaled():
    img = Image.fromarray(np.full((40, 40), 40000, dtype=np.int32), mode="I")
    rgb = images.decode_image(encode(img, "TIFF"))
    assert (rgb == 156).all()  # 40000 / 257 = 155.6


def test_float_gray_in_unit_range_is_scaled():
    img = Image.fromarray(np.full((40, 40), 0.25, dtype=np.float32), mode="F")
    rgb = images.decode_image(encode(img, "TIFF"))
    assert (rgb == 64).all()


# --- formats -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "save_args"),
    [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("TIFF", {"compression": "tiff_lzw"}), ("WEBP", {"lossless": True})],
)
def test_lossless_formats_round_trip_exactly(fmt, save_args):
    pixels = np.random.default_rng(0).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    rgb = images.decode_image(encode(Image.fromarray(pixels), fmt, **save_args))
    np.testing.assert_array_equal(rgb, pixels)


def test_jpeg_decodes_close_to_the_original():
    rgb = images.decode_image(encode(quadrants(64, 64), "JPEG", quality=90))
    assert rgb.shape == (64, 64, 3)
    assert_colours(quadrant_colours(rgb), [RED, GREEN, BLUE, WHITE], tol=10)


@pytest.mark.parametrize(("fmt", "save_args"), [("GIF", {}), ("WEBP", {"lossless": True})])
def test_animation_gives_its_first_frame(fmt, save_args):
    frames = [Image.new("RGB", (40, 40), colour) for colour in (RED, BLUE, GREEN)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **save_args)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    rgb = images.decode_image(data)
    assert (rgb == RED).all()


# --- refusals ------------------------------------------------------------------------------------------------------


def test_image_error_is_a_user_error():
    assert issubclass(ImageError, UserError)


def test_empty_file():
    assert "empty" in decode_error(b"")


def test_text_is_not_an_image():
    message = decode_error(b"just some words, certainly not pixels\n" * 3)
    assert "not an image" in message and "PNG" in message


def test_pdf_is_an_unsupported_format():
    message = decode_error(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    assert "unsupported format PDF" in message
    assert "use JPEG, PNG, WebP, BMP, GIF or TIFF" in message


@pytest.mark.parametrize(("fmt", "reported"), [("ICO", "ICO"), ("PPM", "PPM"), ("TGA", "TGA")])
def test_formats_pillow_reads_but_we_do_not_accept(fmt, reported):
    data = encode(Image.new("RGB", (48, 48), RED), fmt)
    assert f"unsupported format {reported}" in decode_error(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(fmt):
    noise = np.random.default_rng(1).integers(0, 256, size=(128, 128, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    message = decode_error(data[: len(data) // 2])
    assert "truncated" in message and fmt in message


def test_over_the_pixel_limit_is_refused_before_decoding():
    # 8000x6000 = 48 MP in the header; the pixel data is a few bytes, so decoding would fail if it were tried.
    message = decode_error(png_bytes(8000, 6000))
    assert "48 megapixels" in message and f"{images.MAX_MEGAPIXELS} MP limit" in message


def test_pillows_own_decompression_bomb_guard_is_translated():
    message = decode_error(png_bytes(16000, 12000))  # 192 MP: Pillow itself refuses at open
    assert "decompression-bomb" in message


def test_a_side_too_long():
    message = decode_error(png_bytes(20000, 2000))  # exactly 40 MP, aspect 10:1: only the side is wrong
    assert f"over {images.MAX_SIDE} px" in message


def test_an_absurd_aspect_ratio():
    message = decode_error(encode(Image.new("RGB", (700, 32), RED), "PNG"))
    assert "aspect ratio of 22:1" in message


def test_too_small_to_classify():
    message = decode_error(encode(Image.new("RGB", (31, 100), RED), "PNG"))
    assert "too small" in message and "31x100" in message


def test_over_the_upload_limit():
    data = b"\xff\xd8" + b"\x00" * (images.MAX_UPLOAD_MB * 1024 * 1024)
    assert f"over the {images.MAX_UPLOAD_MB} MB limit" in decode_error(data)


def test_message_stays_on_one_line_even_for_a_name_with_newlines():
    with pytest.raises(ImageError) as info:
        images.decode_image(b"", name="evil\nname.png")
    assert "\n" not in str(info.value) and "evil name.png" in str(info.value)


def test_streamlit_upload_limit_matches_the_library():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == images.MAX_UPLOAD_MB


def test_streamlit_keeps_its_xsrf_protection_on():
    """Uploads need Streamlit's XSRF token only while server.enableXsrfProtection is on (its default): SECURITY.md."""
    from streamlit import config as streamlit_config

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"].get("enableXsrfProtection", True) is True
    assert streamlit_config.get_option("server.enableXsrfProtection") is True


def test_read_image_file(tmp_path):
    path = tmp_path / "cat.png"
    path.write_bytes(encode(quadrants(64, 64), "PNG"))
    assert_colours(quadrant_colours(images.read_image_file(path)), [RED, GREEN, BLUE, WHITE], tol=0)
    with pytest.raises(ImageError, match="missing.png: cannot read the file"):
        images.read_image_file(tmp_path / "missing.png")


# --- crop ----------------------------------------------------------------------------------------------------------


def striped(width: int, height: int, horizontal: bool = True) -> np.ndarray:
    """Outer quarters red and blue, middle half green (left-to-right, or top-to-bottom)."""
    length = width if horizontal else height
    bands = np.zeros((length, 3), dtype=np.uint8)
    bands[: length // 4], bands[length // 4 : 3 * length // 4], bands[3 * length // 4 :] = RED, GREEN, BLUE
    return np.broadcast_to(bands[np.newaxis], (height, width, 3)).copy() if horizontal else \
        np.broadcast_to(bands[:, np.newaxis], (height, width, 3)).copy()


def test_center_crop_of_a_wide_image_keeps_the_middle():
    seen = images.crop_for_model(striped(400, 200), (224, 224), crop_mode="center")
    assert seen.shape == (224, 224, 3) and seen.dtype == np.uint8
    assert (seen[:, 2:-2] == GREEN).all()  # the 400x200 image's middle half, scaled by 224/200
    assert (np.abs(seen[:, [0, -1]].astype(int) - GREEN) <= 30).all()  # only resampling blur at the cut


def test_center_crop_of_a_tall_image_keeps_the_middle():
    seen = images.crop_for_model(striped(200, 400, horizontal=False), (224, 224))
    assert (seen[2:-2] == GREEN).all()


def test_squash_keeps_everything_and_distorts():
    seen = images.crop_for_model(striped(400, 200), (224, 224), crop_mode="squash")
    assert seen.shape == (224, 224, 3)
    assert (seen[:, :54] == RED).all() and (seen[:, 58:166] == GREEN).all() and (seen[:, 170:] == BLUE).all()


def test_every_upload_type_is_a_format_we_decode_and_every_format_has_one():
    from PIL import Image

    uploadable = {Image.registered_extensions()[f".{extension}"] for extension in images.UPLOAD_TYPES}
    assert uploadable | {"MPO"} == images.SUPPORTED_FORMATS  # an MPO is a phone's JPEG: it arrives as .jpg


def test_crop_to_a_non_square_size():
    seen = images.crop_for_model(striped(400, 200), (64, 32))  # (height, width) as in keras' target_size
    assert seen.shape == (64, 32, 3)
    assert (seen == GREEN).all()


def test_unknown_crop_mode_is_a_programming_error():
    with pytest.raises(ValueError, match="crop_mode must be one of"):
        images.crop_for_model(striped(64, 64), crop_mode="zoom")


# --- preprocessing -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch():
    return np.random.default_rng(2).integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8)


def test_caffe_preprocessing_matches_keras_resnet(batch):
    from keras.applications import resnet

    out = images.preprocess(batch, "caffe")
    assert out.dtype == np.float32 and out.shape == batch.shape
    np.testing.assert_array_equal(out, resnet.preprocess_input(batch.astype(np.float32)))


def test_caffe_preprocessing_is_bgr_minus_the_imagenet_mean(batch):
    expected = batch[..., ::-1].astype(np.float32) - np.array([103.939, 116.779, 123.68], dtype=np.float32)
    np.testing.assert_allclose(images.preprocess(batch, "caffe"), expected, rtol=0, atol=1e-4)


def test_tf_preprocessing_matches_keras_resnet_v2_and_spans_minus_one_to_one(batch):
    from keras.applications import resnet_v2

    out = images.preprocess(batch, "tf")
    np.testing.assert_array_equal(out, resnet_v2.preprocess_input(batch.astype(np.float32)))
    np.testing.assert_allclose(out, batch / 127.5 - 1.0, rtol=0, atol=1e-6)
    extremes = images.preprocess(np.array([[[[0, 255, 0]]]], dtype=np.uint8), "tf")
    assert extremes.ravel().tolist() == [-1.0, 1.0, -1.0]


def test_preprocess_leaves_the_callers_array_alone(batch):
    floats = batch.astype(np.float32)
    before = floats.copy()
    images.preprocess(floats, "caffe")
    np.testing.assert_array_equal(floats, before)


def test_unknown_preprocessing_is_a_programming_error(batch):
    with pytest.raises(ValueError, match="preprocessing must be one of"):
        images.preprocess(batch, "torch")


def test_prepare_is_crop_then_preprocess():
    rgb = striped(400, 200)
    out = images.prepare(rgb, (224, 224), crop_mode="center", preprocessing="caffe")
    assert out.shape == (224, 224, 3) and out.dtype == np.float32
    # centre pixel is pure green: BGR (0, 255, 0) minus the mean
    np.testing.assert_allclose(out[112, 112], [-103.939, 255 - 116.779, -123.68], atol=1e-4)


# --- a large JPEG is decoded at the size its crop needs --------------------------------------------------------------


def smooth_photo(width: int, height: int) -> Image.Image:
    """A photo-like picture (smooth gradients and a few edges): what DCT scaling and a resize both keep."""
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    rgb = np.stack([np.sin(6 * x) * 0.5 + 0.5, np.cos(4 * y) * 0.5 + 0.5, (x + y) / 2], axis=-1)
    rgb[height // 3: height // 2, width // 4: width // 2] = (0.9, 0.1, 0.1)
    return Image.fromarray(np.rint(rgb * 255).astype(np.uint8))


@pytest.mark.parametrize(("size", "decoded"), [((3000, 2000), (375, 250)),  # an eighth: 250 px still cover 224
                                               ((1800, 1000), (450, 250)),  # a quarter (an eighth: 125 px)
                                               ((1000, 448), (500, 224)),  # exactly twice the crop
                                               ((800, 440), (800, 440))])  # under twice: whole
def test_a_jpeg_is_decoded_at_the_smallest_scale_that_still_covers_the_crop(size, decoded):
    data = encode(smooth_photo(*size), "JPEG", quality=92)
    assert images.open_image(data, fit=(224, 224)).size == decoded
    assert images.open_image(data).size == size  # asked for nothing, given everything


def test_a_reduced_decode_crops_to_what_the_full_decode_crops_to():
    data = encode(smooth_photo(3000, 2000), "JPEG", quality=92)
    reduced = images.crop_for_model(images.open_image(data, fit=(224, 224)))
    full = images.crop_for_model(images.decode_image(data))
    assert reduced.shape == full.shape == (224, 224, 3)
    difference = np.abs(reduced.astype(int) - full.astype(int))
    assert difference.mean() < 1.5 and np.percentile(difference, 99) <= 8


def test_a_reduced_decode_turns_upright_and_covers_the_crop_either_way():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 2000 wide and 1000 high, shown 1000 wide and 2000 high
    data = encode(quadrants(2000, 1000), "JPEG", quality=95, exif=exif.tobytes())
    picture = images.open_image(data, fit=(224, 224))
    assert picture.size == (250, 500)  # turned upright after a quarter-size decode; 250 ≥ 224 still
    assert_colours(quadrant_colours(np.asarray(picture)), [BLUE, RED, WHITE, GREEN])


def test_only_jpegs_are_reduced():
    data = encode(smooth_photo(1200, 900), "PNG")
    assert images.open_image(data, fit=(224, 224)).size == (1200, 900)
