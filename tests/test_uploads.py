"""Uploads for the gradient lab, as a hostile visitor would make them: names that climb or start elsewhere, links,
zip bombs (declared and lying), too many files, classes or pixels, files that are no image, and what is left."""

import io
import stat
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from resnet import images
from resnet.limits import Limits
from resnet.uploads import UploadRefused, folder_entries, name_problem, open_upload, shown, zip_entries

RED, BLUE, GREEN = (200, 30, 30), (30, 30, 200), (30, 200, 30)


def png(colour=RED, size=(12, 10)) -> bytes:
    rng = np.random.default_rng(sum(colour))
    pixels = np.clip(np.array(colour) + rng.normal(0, 8, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width × height and holds no pixels: enough for every check made before decoding."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IEND", b"")


def pets(**extra) -> dict:
    """Two classes of three images each inside a `pets` folder, plus `extra` entries."""
    entries = {f"pets/{name}/{i}.png": png(colour) for name, colour in (("cats", RED), ("dogs", BLUE))
               for i in range(3)}
    return {**entries, **extra}


def zipped(entries: dict, links: dict = ()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in dict(links).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16  # what `zip --symlinks` writes for a link
            archive.writestr(info, target)
    return out.getvalue()


def upload(entries: dict, limits=Limits(), size=16, links=()):
    return open_upload([("pets.zip", zipped(entries, links))], size, limits)


def refused_names(source) -> set:
    return {line.split(": ")[0] for line in source.problems}


def test_a_zip_of_class_folders_becomes_a_data_source_with_their_names_and_images():
    source = upload(pets())
    assert source.class_names == ("cats", "dogs") and source.counts == {"cats": 3, "dogs": 3}
    assert source.problems == ()
    images_, labels = next(source.batches(8, seed=0))  # more than the six images: a batch runs on into the next epoch
    assert images_.shape == (8, 16, 16, 3) and images_.dtype == np.float32 and 0 <= images_.min() <= images_.max() <= 1
    red_minus_blue = images_[..., 0].mean(axis=(1, 2)) - images_[..., 2].mean(axis=(1, 2))
    np.testing.assert_array_equal(red_minus_blue > 0, labels == 0)  # each label belongs to its image


def test_a_folder_upload_and_a_zip_without_a_root_folder_read_alike():
    folder = open_upload(list(pets().items()), 16, Limits())  # a browser names each file with the picked folder
    flat = upload({name.removeprefix("pets/"): data for name, data in pets().items()})
    assert folder.class_names == flat.class_names == ("cats", "dogs")
    np.testing.assert_array_equal(folder.images, flat.images)


def test_the_same_seed_gives_the_same_batches():
    source = upload(pets())
    first, again = next(source.batches(4, seed=3)), next(source.batches(4, seed=3))
    np.testing.assert_array_equal(first[1], again[1])
    np.testing.assert_array_equal(first[0], again[0])


@pytest.mark.parametrize("name, reason", [
    ("../evil.png", "'..'"),
    ("pets/cats/../../../evil.png", "'..'"),
    ("/etc/evil.png", "an absolute path"),
    ("C:/Windows/evil.png", "a drive letter"),
    ("c:evil.png", "a drive letter"),
    ("pets\\cats\\..\\..\\evil.png", "a backslash"),
    ("pets/cats/evil\x07.png", "a control character"),
    ("pets/cats/" + "e" * 300 + ".png", "too long"),
])
def test_names_that_climb_start_elsewhere_or_hide_tricks_are_refused_and_the_rest_is_used(name, reason):
    source = upload(pets(**{name: png(GREEN)}))
    assert len(source.problems) == 1 and reason in source.problems[0]
    assert source.problems[0].startswith(shown(name)) and "\n" not in source.problems[0]
    assert source.class_names == ("cats", "dogs") and len(source.labels) == 6


def test_the_same_names_are_refused_in_a_folder_upload():
    kept, problems = folder_entries([("pets/../x.png", b"1"), ("/abs/x.png", b"2"), ("pets/cats/ok.png", b"3")],
                                    Limits())
    assert kept == [("pets/cats/ok.png", b"3")]
    assert [line.split(":")[0] for line in problems] == ["pets/../x.png", "/abs/x.png"]


def test_a_sound_name_has_no_problem():
    assert name_problem("pets/cats/Mia (2).JPG") is None
    assert name_problem("pets/ünïcode cats/1.png") is None


def test_a_symbolic_link_in_the_zip_is_refused_unread():
    source = upload(pets(), links={"pets/cats/passwd.png": "/etc/passwd"})
    assert refused_names(source) == {"pets/cats/passwd.png"}
    assert "symbolic link" in source.problems[0]
    assert source.counts == {"cats": 3, "dogs": 3}


def test_an_encrypted_entry_is_refused():
    archive = rewritten(zipped(pets(**{"pets/cats/secret.png": b"ciphertext"})), "pets/cats/secret.png", flags=0x1)
    entries, problems = zip_entries(archive, Limits())
    assert len(entries) == 6 and problems == ["pets/cats/secret.png: refused, the entry is encrypted"]


def test_a_zip_bomb_is_refused_by_its_declared_size_before_it_is_inflated():
    bomb = zipped(pets(**{"pets/cats/zeros.png": bytes(3 * 1024 * 1024)}))
    assert len(bomb) < 100_000  # 3 MB of zeros compress to a few KB
    with pytest.raises(UploadRefused, match=r"pets.zip: refused, its files inflate to 3 MB, over this server's "
                                            r"limit of 2 MB"):
        upload_bytes(bomb, Limits(max_upload_total_mb=2))


def test_one_entry_over_the_per_image_size_is_refused_without_inflating_it():
    big = images.MAX_UPLOAD_MB * 1024 * 1024 + 1
    source = upload(pets(**{"pets/cats/huge.png": bytes(big)}), Limits(max_upload_total_mb=images.MAX_UPLOAD_MB + 5))
    assert refused_names(source) == {"pets/cats/huge.png"}
    assert f"over the {images.MAX_UPLOAD_MB} MB per image" in source.problems[0]


def rewritten(archive: bytes, name: str, *, size: int | None = None, flags: int | None = None) -> bytes:
    """`archive` with entry `name`'s uncompressed size or flag bits rewritten, in its local header and in the central
    directory alike: what a hand-made, lying zip holds."""
    data, encoded = bytearray(archive), name.encode()
    # (signature, offset of the flag bits, of the uncompressed size, of the name) in a local header, a central record
    for signature, flags_at, size_at, name_at in ((b"PK\x03\x04", 6, 22, 30), (b"PK\x01\x02", 8, 24, 46)):
        at = data.find(signature)
        while at != -1:
            if data[at + name_at:at + name_at + len(encoded)] == encoded:
                if size is not None:
                    struct.pack_into("<I", data, at + size_at, size)
                if flags is not None:
                    struct.pack_into("<H", data, at + flags_at, flags)
            at = data.find(signature, at + 4)
    return bytes(data)


def upload_bytes(archive: bytes, limits=Limits(), size=16):
    return open_upload([("pets.zip", archive)], size, limits)


def test_a_header_that_lies_about_its_size_gains_nothing():
    """1 MB of zeros declared as 100 bytes: the bytes are counted as they come out, never more than declared."""
    archive = rewritten(zipped(pets(**{"pets/cats/liar.png": bytes(1024 * 1024)})), "pets/cats/liar.png", size=100)
    assert zipfile.ZipFile(io.BytesIO(archive)).getinfo("pets/cats/liar.png").file_size == 100
    source = upload_bytes(archive)
    assert refused_names(source) == {"pets/cats/liar.png"}
    assert "cannot be read" in source.problems[0] or "more than the 100 bytes" in source.problems[0]
    assert source.counts == {"cats": 3, "dogs": 3}


def test_a_header_that_declares_a_huge_size_is_refused_unread():
    archive = rewritten(zipped(pets(**{"pets/cats/liar.png": png()})), "pets/cats/liar.png", size=4_000_000_000)
    source = upload_bytes(archive)
    assert source.problems == (f"pets/cats/liar.png: refused, it inflates to 3815 MB, over the "
                               f"{images.MAX_UPLOAD_MB} MB per image",)


@pytest.mark.parametrize("as_zip", [True, False])
def test_too_many_files_are_refused_before_any_is_read(as_zip):
    entries = pets()
    limits = Limits(max_upload_files=5)
    with pytest.raises(UploadRefused, match="holds 6 files, over this server's limit of 5.*RESNET_MAX_UPLOAD_FILES"):
        if as_zip:
            upload(entries, limits)
        else:
            open_upload(list(entries.items()), 16, limits)


def test_a_zip_with_a_huge_directory_is_refused_before_it_is_parsed():
    many = {f"pets/cats/{i}.png": b"" for i in range(50)}
    with pytest.raises(UploadRefused, match="holds more than 10 files"):
        upload(many, Limits(max_upload_files=10))


def test_too_many_bytes_in_a_folder_upload_are_refused():
    files = [(f"pets/{c}/{i}.png", bytes(400_000)) for c in ("cats", "dogs") for i in range(3)]
    with pytest.raises(UploadRefused, match="it is 2 MB, over this server's limit of 1 MB"):
        open_upload(files, 16, Limits(max_upload_total_mb=1))


def test_an_image_with_too_many_pixels_is_refused_by_the_predict_guard():
    source = upload(pets(**{"pets/dogs/bomb.png": png_header(8000, 6000)}))
    assert refused_names(source) == {"pets/dogs/bomb.png"}
    assert f"over the {images.MAX_MEGAPIXELS} MP limit" in source.problems[0]


def test_pixels_of_all_images_together_are_bounded_before_any_is_decoded():
    big = {f"pets/{c}/big.png": png_header(1000, 800) for c in ("cats", "dogs")}  # 0.8 MP each
    with pytest.raises(UploadRefused, match="hold 2 megapixels together, over this server's limit of 1"):
        upload(pets(**big), Limits(max_upload_megapixels=1))


def test_files_that_are_not_images_get_one_line_each_naming_them():
    source = upload(pets(**{"pets/cats/notes.txt": b"my notes", "pets/dogs/fake.jpg": b"%PDF-1.7 not a photo",
                            "pets/dogs/tiny.png": png(BLUE, size=(4, 4))}))
    assert refused_names(source) == {"pets/cats/notes.txt", "pets/dogs/fake.jpg", "pets/dogs/tiny.png"}
    assert all("\n" not in line for line in source.problems)
    assert source.counts == {"cats": 3, "dogs": 3}


def test_operating_system_litter_is_skipped_silently():
    source = upload(pets(**{"__MACOSX/pets/cats/._0.png": b"resource fork", "pets/.DS_Store": b"finder",
                            "pets/dogs/Thumbs.db": b"windows"}))
    assert source.problems == () and source.class_names == ("cats", "dogs")


def test_fewer_than_two_classes_left_is_refused_and_says_which_files_went():
    entries = {"pets/cats/0.png": png(), "pets/dogs/0.txt": b"no", "pets/dogs/1.png": b"broken"}
    with pytest.raises(UploadRefused, match=r"fewer than two classes .* \(classes with images: cats\)") as caught:
        upload(entries)
    assert {line.split(":")[0] for line in caught.value.problems} == {"pets/dogs/0.txt", "pets/dogs/1.png"}


def test_files_outside_any_class_folder_are_named():
    source = upload(pets(**{"pets/readme.png": png(GREEN)}))
    assert refused_names(source) == {"pets/readme.png"} and "not inside a class folder" in source.problems[0]


def test_too_many_classes_are_refused():
    with pytest.raises(UploadRefused, match="3 class folders, over this server's limit of 2"):
        upload(pets(**{"pets/birds/0.png": png(GREEN)}), Limits(max_classes=2))


def test_something_that_is_not_a_zip_is_refused_in_one_line():
    with pytest.raises(UploadRefused, match="pets.zip: not a zip file that can be read") as caught:
        upload_bytes(b"PK\x03\x04 but nothing else")
    assert "\n" not in str(caught.value)


def test_a_hostile_name_is_quoted_in_one_short_line():
    line = shown("a\nb\x00c" + "x" * 500)
    assert "\n" not in line and "\x00" not in line and len(line) == 120

