"""The bad inputs of issue 4, each with a fragment its one-line message must contain.

Shared by the CLI and page tests: every one must be refused with a clear line, never a traceback.
"""

import io
import struct
import zlib

import numpy as np
from PIL import Image

from resnet import images


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width`×`height` in its header and holds a few bytes of pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def _truncated_jpeg() -> bytes:
    noise = np.random.default_rng(1).integers(0, 256, size=(128, 128, 3), dtype=np.uint8)
    data = _encode(Image.fromarray(noise), "JPEG")
    return data[: len(data) // 2]


def bad_inputs() -> dict[str, tuple[str, bytes, str]]:
    """case id → (file name, bytes, a fragment of the expected message)."""
    return {
        "not-an-image": ("notes.jpg", b"just some words, certainly not pixels\n" * 3, "not an image"),
        "zero-bytes": ("empty.png", b"", "empty"),
        "truncated": ("half.jpg", _truncated_jpeg(), "truncated"),
        "decompression-bomb": ("bomb.png", _png_header_only(16000, 12000), "decompression-bomb"),
        "absurd-dimensions": ("strip.png", _png_header_only(20000, 2000), f"over {images.MAX_SIDE} px"),
        "absurd-aspect": ("ribbon.png", _encode(Image.new("RGB", (700, 32), (255, 0, 0)), "PNG"), "aspect ratio"),
        "too-small": ("icon.png", _encode(Image.new("RGB", (31, 100), (255, 0, 0)), "PNG"), "too small"),
        "unsupported-format": ("page.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
                               "unsupported format PDF"),
        "over-size-limit": ("huge.jpg", b"\xff\xd8" + b"\x00" * (images.MAX_UPLOAD_MB * 1024 * 1024),
                            f"over the {images.MAX_UPLOAD_MB} MB limit"),
    }
