"""The photo store: JPEG and PNG in, a clean JPEG out, nothing else accepted."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from gis.errors import InvalidInputError, NotFoundError
from services import photos
from services.complaints import PHOTO_REF

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(size=(800, 600), color=(200, 30, 30), orientation: int | None = None) -> bytes:
    """A JPEG whose EXIF holds a GPS position, a camera maker and a comment."""
    img = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "PII-CAMERA-MAKER"  # Make
    exif[0x0131] = "PII-SOFTWARE"
    if orientation:
        exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update(
        {1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 40.0)}  # Jakarta
    )
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif, comment=b"PII-COMMENT")
    return out.getvalue()


def test_a_jpeg_with_gps_is_stored_without_exif(tmp_path):
    raw = jpeg_with_gps()
    with Image.open(io.BytesIO(raw)) as original:  # the input really carries the GPS block
        assert original.getexif().get_ifd(GPS_IFD)
    ref = photos.store_photo(raw, tmp_path)
    assert PHOTO_REF.fullmatch(ref)
    stored = photos.photo_path(ref, tmp_path)
    data = stored.read_bytes()
    with Image.open(stored) as img:
        assert img.format == "JPEG"
        assert img.size == (800, 600)
        assert len(img.getexif()) == 0
        assert "exif" not in img.info and "comment" not in img.info
        assert img.getpixel((400, 300))[0] > 150  # the pixels are the photo's
    for marker in (b"PII-CAMERA-MAKER", b"PII-SOFTWARE", b"PII-COMMENT", b"Exif\x00\x00"):
        assert marker not in data
    # only the new file, under a random name: no temporary file left behind
    assert [p.name for p in tmp_path.iterdir()] == [ref]


def test_names_are_random_never_the_original(tmp_path):
    raw = jpeg_with_gps()
    refs = {photos.store_photo(raw, tmp_path) for _ in range(5)}
    assert len(refs) == 5
    assert all(PHOTO_REF.fullmatch(r) and r.endswith(".jpg") for r in refs)


def test_png_with_transparency_becomes_a_jpeg(tmp_path):
    img = Image.new("RGBA", (300, 200), (0, 128, 0, 100))
    out = io.BytesIO()
    img.save(out, format="PNG")
    ref = photos.store_photo(out.getvalue(), tmp_path)
    with Image.open(photos.photo_path(ref, tmp_path)) as stored:
        assert (stored.format, stored.mode, stored.size) == ("JPEG", "RGB", (300, 200))


def test_large_photos_are_shrunk_and_turned_upright(tmp_path):
    # EXIF orientation 6: the camera was turned; the stored photo is upright, no EXIF left
    raw = jpeg_with_gps(size=(3200, 2000), orientation=6)
    ref = photos.store_photo(raw, tmp_path)
    with Image.open(photos.photo_path(ref, tmp_path)) as stored:
        assert stored.size == (1000, 1600)
        assert len(stored.getexif()) == 0


@pytest.mark.parametrize(
    "data",
    [
        b"<script>alert(1)</script>",
        b"GIF89a" + b"\x00" * 100,
        b"\xff\xd8\xff\xe0" + b"\x00" * 50,  # a JPEG header and nothing after it
        b"%PDF-1.4\n",
    ],
    ids=["html", "gif", "truncated-jpeg", "pdf"],
)
def test_what_is_not_a_jpeg_or_png_is_refused(tmp_path, data):
    with pytest.raises(InvalidInputError) as err:
        photos.store_photo(data, tmp_path)
    assert err.value.param == "photo"
    assert list(tmp_path.iterdir()) == []


def test_other_image_formats_are_refused(tmp_path):
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, format="GIF")
    with pytest.raises(InvalidInputError, match="not a JPEG or PNG"):
        photos.store_photo(out.getvalue(), tmp_path)


def test_a_decompression_bomb_is_refused(tmp_path):
    # 12,000 x 12,000 one-bit pixels: a small PNG that decodes to 144 million pixels
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, format="PNG", optimize=True)
    assert len(out.getvalue()) < photos.MAX_PHOTO_BYTES
    with pytest.raises(InvalidInputError, match="pixels|not a JPEG"):
        photos.store_photo(out.getvalue(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_over_five_megabytes_is_too_large(tmp_path):
    with pytest.raises(photos.PhotoTooLarge) as err:
        photos.store_photo(b"\xff" * (photos.MAX_PHOTO_BYTES + 1), tmp_path)
    assert err.value.status == 413
    with pytest.raises(InvalidInputError, match="empty"):
        photos.store_photo(b"", tmp_path)


@pytest.mark.parametrize(
    "ref", ["../../etc/passwd", "x.jpg", "abcdefgh.gif", None, "a/bcdefgh.jpg"]
)
def test_photo_path_refuses_what_the_store_does_not_make(tmp_path, ref):
    with pytest.raises(NotFoundError):
        photos.photo_path(ref, tmp_path)


def test_photo_path_of_a_missing_file(tmp_path):
    with pytest.raises(NotFoundError):
        photos.photo_path(photos.new_ref(), tmp_path)
