"""A visitor's own images for the gradient lab: a folder or a .zip uploaded to the page, read in memory.

An upload is hostile until proven otherwise. The names in it come from a browser or from a zip and are only ever
labels: nothing is written to disk, so no name can reach a path, and there is no folder to leak or clean up. Before
anything is inflated or decoded the upload is held to `Limits` (files, bytes, pixels, classes), and each image then
passes the Predict page's guards (`resnet.images.decode_image`). A bad file is left out with a one-line reason that
names it; the upload as a whole is refused (`UploadRefused`) when a bound is crossed or fewer than two classes keep
an image.

The layout is the one `keras.utils.image_dataset_from_directory` reads: one folder per class, images in it (or in
folders below it). One folder around them all (the folder a visitor picked, or the one a zip was made of) is looked
through.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
import zlib
from collections.abc import Sequence
from typing import Iterator

import numpy as np
from PIL import Image

from resnet import images
from resnet.datasets import Batch, DataUnavailable, HeldOut, held_out_indices
from resnet.errors import ImageError
from resnet.limits import Limits

NamedBytes = tuple[str, bytes]  # (the name as the browser or the zip gives it, "/"-separated; the file's bytes)

MIN_LAB_SIDE = 8  # the lab trains at 32 or 64 px, so small images (MNIST's 28 px) are welcome here
MAX_NAME_CHARS = 1024
MAX_PART_CHARS = 255  # what common file systems allow for one folder or file name
SHOWN_NAME_CHARS = 120  # a name quoted in a message is cut to this
READ_CHUNK = 1 << 16
# A zip's central directory is parsed whole when it is opened, so its records are counted first; folders and macOS'
# __MACOSX copies ("._name") are records too, hence the room above the file limit.
RECORDS_PER_FILE = 4
_CENTRAL_RECORD = b"PK\x01\x02"
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what every zip tool writes by default


class UploadRefused(DataUnavailable):
    """An upload refused as a whole (over a bound, not a zip, fewer than two classes left); `problems` lists the
    one-line reasons of the files left out before that."""

    def __init__(self, message: str, problems: Sequence[str] = ()):
        super().__init__(message)
        self.problems = tuple(problems)


def shown(name: str) -> str:
    """A name as a message quotes it: one line, no control characters, not too long."""
    name = _CONTROL.sub("?", name)
    return name if len(name) <= SHOWN_NAME_CHARS else name[:SHOWN_NAME_CHARS - 1] + "…"


def name_problem(name: str) -> str | None:
    """Why an entry name is refused (a path that would climb, start at a root or a drive, or hide a trick), or None.

    The names are never used as paths here; they are refused anyway, so that what a class is called never depends on
    how some other program would have resolved them.
    """
    if len(name) > MAX_NAME_CHARS or any(len(part) > MAX_PART_CHARS for part in name.split("/")):
        return "the name is too long"
    if _CONTROL.search(name):
        return "the name holds a control character"
    if "\\" in name:
        return "the name holds a backslash"
    if name.startswith("/"):
        return "an absolute path"
    if _DRIVE.match(name):
        return "a path with a drive letter"
    if ".." in name.split("/"):
        return "a path with '..'"
    return None


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _parts(name: str) -> list[str]:
    return [part for part in name.split("/") if part not in ("", ".")]


def _is_litter(parts: list[str]) -> bool:
    """What operating systems leave beside the files (.DS_Store, __MACOSX/, ._name, Thumbs.db): skipped unread."""
    return not parts or parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts) or \
        parts[-1].lower() in ("thumbs.db", "desktop.ini")


# ---------------------------------------------------------------------------------------------------------------
# Entries: what a folder or a zip holds, held to the bounds before anything is decoded.


def folder_entries(files: Sequence[NamedBytes], limits: Limits, label: str = "the folder"
                   ) -> tuple[list[NamedBytes], list[str]]:
    """The files of a folder upload worth decoding, and one line per file refused."""
    _check_count(len(files), limits, label)
    _check_total(sum(len(data) for _, data in files), limits, label)
    kept, problems = [], []
    for name, data in files:
        if problem := name_problem(name):
            problems.append(f"{shown(name)}: refused, {problem}")
        elif not _is_litter(_parts(name)):
            kept.append(("/".join(_parts(name)), data))
    return kept, problems


def zip_entries(data: bytes, limits: Limits, label: str = "upload.zip") -> tuple[list[NamedBytes], list[str]]:
    """The files of a zip worth decoding, inflated in memory, and one line per entry refused.

    Declared sizes are checked before anything is inflated, and the bytes that come out are counted while they do,
    so a header that lies about its size gains nothing.
    """
    _check_total(len(data), limits, label)
    if data.count(_CENTRAL_RECORD) > RECORDS_PER_FILE * limits.max_upload_files:
        raise UploadRefused(f"{shown(label)}: refused, it holds more than {limits.max_upload_files} files "
                            "(this server's limit); send fewer")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise UploadRefused(f"{shown(label)}: not a zip file that can be read ({_reason(exc)}); "
                            "zip the folder again") from None
    with archive:
        wanted, problems = _wanted_members(archive.infolist())
        _check_count(len(wanted) + len(problems), limits, label)
        _check_total(sum(info.file_size for info in wanted), limits, label, inflated=True)
        kept, budget = [], limits.max_upload_total_mb * 1024 * 1024
        for info in wanted:
            try:
                content = _inflate(archive, info, budget)
            except _Unreadable as exc:
                problems.append(f"{shown(info.orig_filename)}: refused, {exc}")
                continue
            budget -= len(content)
            kept.append(("/".join(_parts(info.filename)), content))
    return kept, problems


def _wanted_members(members: list[zipfile.ZipInfo]) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """The entries to inflate (files, not litter, with sound names), and one line per entry refused unread."""
    wanted, problems = [], []
    for info in members:
        name = info.orig_filename  # the name as stored: ZipInfo.filename is cut at a NUL
        problem = name_problem(name) or name_problem(info.filename) or _member_problem(info)
        if problem:
            problems.append(f"{shown(name)}: refused, {problem}")
        elif not info.is_dir() and not _is_litter(_parts(info.filename)):
            wanted.append(info)
    return wanted, problems


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    kind = stat.S_IFMT(info.external_attr >> 16)  # the Unix file type, where the zip tool wrote one
    if kind == stat.S_IFLNK:
        return "a symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "not a regular file"
    if info.is_dir():
        return None
    if info.flag_bits & 0x1:
        return "the entry is encrypted"
    if info.compress_type not in _ZIP_METHODS:
        return f"compressed with method {info.compress_type}; zip it again with the usual (deflate) compression"
    if info.file_size > images.MAX_UPLOAD_MB * 1024 * 1024:
        return f"it inflates to {info.file_size / 1024 / 1024:.0f} MB, over the {images.MAX_UPLOAD_MB} MB per image"
    return None


class _Unreadable(Exception):
    """One zip entry that cannot be inflated as it claims."""


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """The entry's bytes, read a chunk at a time and counted: more than it declared, or than is left of the
    upload's budget, stops the reading there. (zipfile itself stops at the declared size and then fails the CRC;
    the count keeps the bound from resting on that.)"""
    chunks, total = [], 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(READ_CHUNK):
                total += len(chunk)
                if total > info.file_size:
                    raise _Unreadable(f"it inflates to more than the {info.file_size} bytes its header declares")
                if total > budget:
                    raise UploadRefused(f"{shown(info.orig_filename)}: refused, the upload inflates to more than "
                                        "this server's limit; send fewer or smaller images")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise _Unreadable(f"it cannot be read ({_reason(exc)})") from None
    return b"".join(chunks)


def _check_count(count: int, limits: Limits, label: str) -> None:
    if count > limits.max_upload_files:
        raise UploadRefused(f"{shown(label)}: refused, it holds {count} files, over this server's limit of "
                            f"{limits.max_upload_files}; send fewer (an administrator can raise it with "
                            "RESNET_MAX_UPLOAD_FILES)")


def _check_total(n_bytes: int, limits: Limits, label: str, inflated: bool = False) -> None:
    if n_bytes > limits.max_upload_total_mb * 1024 * 1024:
        raise UploadRefused(f"{shown(label)}: refused, {'its files inflate to' if inflated else 'it is'} "
                            f"{n_bytes / 1024 / 1024:.0f} MB, over this server's limit of {limits.max_upload_total_mb} "
                            "MB; send fewer or smaller images (an administrator can raise it with "
                            "RESNET_MAX_UPLOAD_TOTAL_MB)")


# ---------------------------------------------------------------------------------------------------------------
# Classes: entries sorted into class folders, decoded and resized, kept as one small uint8 array.


def by_class(entries: Sequence[NamedBytes]) -> tuple[dict[str, list[NamedBytes]], list[str]]:
    """{class folder: its files}, looking through one folder around them all; and the files in no class folder."""
    split = [(_parts(name), name, data) for name, data in entries]
    if split and len({parts[0] for parts, _, _ in split}) == 1:
        split = [(parts[1:], name, data) for parts, name, data in split]
    classes, problems = {}, []
    for parts, name, data in sorted(split, key=lambda item: item[1]):
        if len(parts) < 2:
            problems.append(f"{shown(name)}: refused, not inside a class folder (one folder per class)")
        else:
            classes.setdefault(parts[0], []).append((name, data))
    return dict(sorted(classes.items())), problems


def _pixels(data: bytes) -> int:
    """Width × height from the header alone; 0 where there is none (decode_image then says what is wrong)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size[0] * img.size[1]
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return 0


class UploadedImages:
    """The gradient lab's data source for an upload: every good image, squashed to `image_size` (as
    image_dataset_from_directory resizes), held in memory as uint8. `problems` lists the files left out."""

    name = "upload"

    def __init__(self, entries: Sequence[NamedBytes], image_size: int, limits: Limits, *, label: str = "the upload",
                 problems: Sequence[str] = ()):
        problems = list(problems)
        classes, misplaced = by_class(entries)
        problems += misplaced
        if len(classes) > limits.max_classes:
            raise UploadRefused(f"{shown(label)}: refused, it has {len(classes)} class folders, over this server's "
                                f"limit of {limits.max_classes} (RESNET_MAX_CLASSES)", problems)
        megapixels = sum(_pixels(data) for files in classes.values() for _, data in files) / 1e6
        if megapixels > limits.max_upload_megapixels:
            raise UploadRefused(f"{shown(label)}: refused, its images hold {megapixels:.0f} megapixels together, over "
                                f"this server's limit of {limits.max_upload_megapixels}; send fewer or smaller images "
                                "(an administrator can raise it with RESNET_MAX_UPLOAD_MEGAPIXELS)", problems)
        pictures, labels, names = [], [], []
        for class_name, files in classes.items():
            decoded = [picture for picture in (self._decode(name, data, image_size, problems) for name, data in files)
                       if picture is not None]
            if decoded:
                names.append(class_name)
                pictures += decoded
                labels += [len(names) - 1] * len(decoded)
        if len(names) < 2:
            found = ", ".join(shown(name) for name in names) or "none"
            raise UploadRefused(f"{shown(label)}: refused, fewer than two classes have an image this server can read "
                                f"(classes with images: {found}); give one folder of images per class, two or more",
                                problems)
        self.image_size = image_size
        self.class_names = tuple(names)
        self.images = np.stack(pictures)
        self.labels = np.array(labels, dtype=np.int32)
        self.problems = tuple(problems)
        self._train = np.arange(len(self.labels))

    @staticmethod
    def _decode(name: str, data: bytes, image_size: int, problems: list[str]) -> np.ndarray | None:
        try:
            rgb = images.decode_image(data, name=shown(name), min_side=MIN_LAB_SIDE)
        except ImageError as exc:
            problems.append(str(exc))
            return None
        return images.crop_for_model(rgb, (image_size, image_size), crop_mode="squash")

    @property
    def counts(self) -> dict[str, int]:
        """Images kept per class."""
        return dict(zip(self.class_names, np.bincount(self.labels, minlength=len(self.class_names)).tolist()))

    def hold_out(self, fraction: float, seed: int, most: int) -> HeldOut:
        """A share of each class set aside; `batches` trains on the rest only."""
        held = held_out_indices(self.labels, fraction, seed, most)
        self._train = np.setdiff1d(np.arange(len(self.labels)), held)
        return HeldOut(self.images[held].astype(np.float32) / 255.0, self.labels[held], self.class_names)

    def batches(self, batch_size: int, seed: int) -> Iterator[Batch]:
        """Epoch after epoch in an order drawn from `seed`; a batch may run on into the next epoch, so a handful of
        images still fills a batch of 32."""
        order = np.random.default_rng(seed)
        queue = np.empty(0, dtype=np.int64)
        while True:
            while len(queue) < batch_size:
                queue = np.concatenate([queue, self._train[order.permutation(len(self._train))]])
            chosen, queue = queue[:batch_size], queue[batch_size:]
            yield self.images[chosen].astype(np.float32) / 255.0, self.labels[chosen]


def open_upload(files: Sequence[NamedBytes], image_size: int, limits: Limits) -> UploadedImages:
    """A folder upload (its files, names with their paths), or one .zip, as a data source for the lab."""
    if len(files) == 1 and files[0][0].lower().endswith(".zip"):
        label = files[0][0]
        entries, problems = zip_entries(files[0][1], limits, label)
    else:
        label = _parts(files[0][0])[0] if files and _parts(files[0][0]) else "the folder"
        entries, problems = folder_entries(files, limits, label)
    return UploadedImages(entries, image_size, limits, label=label, problems=problems)
