"""The photo store of complaints: a citizen's photo, checked, cleaned and kept under a random name.

:func:`store_photo` takes the uploaded bytes (JPEG or PNG, at most :data:`MAX_PHOTO_BYTES`),
opens them with Pillow, refuses anything that is not one of those images or whose pixel count
exceeds :data:`MAX_PIXELS` (a decompression bomb: a few kilobytes that decode to gigabytes),
turns it upright by its EXIF orientation, shrinks it to at most :data:`MAX_SIDE_PX` on its long
side and re-encodes it as a fresh JPEG. Nothing of the original file survives but its pixels: no
EXIF (so no GPS position, camera serial or time), no ICC or XMP block, no comment, no trailing
data, and not its name. The file is written under ``<SIGAP_DATA_DIR>/photos/`` (or
``SIGAP_PHOTO_DIR``, e.g. a volume of its own) with a random
name (:func:`new_ref`), first to a temporary file and then renamed, so a reader never sees half a
photo. The returned reference (``<random>.jpg``) is what a complaint's ``photo_ref`` stores
(:data:`services.complaints.PHOTO_REF` accepts exactly these names).

:func:`photo_path` turns a reference back into its file, refusing anything that is not a name
this store makes (no directory, no ``..``). The store never decides who may see a photo: the web
layer serves it only through the status page of a complaint that is not *rahasia*.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import tempfile
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from gis.errors import InvalidInputError, NotFoundError, SigapError
from services.complaints import PHOTO_REF

logger = logging.getLogger(__name__)

#: The largest upload accepted, in bytes (5 MB).
MAX_PHOTO_BYTES = 5 * 1024 * 1024
#: The long side of a stored photo, in pixels.
MAX_SIDE_PX = 1600
#: The most pixels an upload may decode to (a 40-megapixel photo; more is refused).
MAX_PIXELS = 40_000_000
#: JPEG quality of the stored photo.
JPEG_QUALITY = 82
#: The formats accepted, as Pillow names them.
FORMATS: tuple[str, ...] = ("JPEG", "PNG")
#: The photo directory under the data directory.
PHOTO_SUBDIR = "photos"


class PhotoTooLarge(SigapError):
    """The upload is larger than :data:`MAX_PHOTO_BYTES` (HTTP 413)."""

    status = 413
    default_code = "too_large"


def default_photo_dir() -> Path:
    """``SIGAP_PHOTO_DIR`` if set, else ``<SIGAP_DATA_DIR>/photos``."""
    from gis.settings import get_settings

    raw = os.environ.get("SIGAP_PHOTO_DIR")
    return Path(raw).resolve() if raw else get_settings().data_dir / PHOTO_SUBDIR


def new_ref() -> str:
    """Return a fresh random photo reference, ``<22 url-safe characters>.jpg`` (128 bits)."""
    return secrets.token_urlsafe(16).replace("-", "x").replace("_", "y") + ".jpg"


def _bad(message: str) -> InvalidInputError:
    return InvalidInputError(message, code="invalid_photo", param="photo")


def _read(data: bytes | BinaryIO) -> bytes:
    if isinstance(data, bytes | bytearray):
        raw = bytes(data)
    else:
        raw = data.read(MAX_PHOTO_BYTES + 1)
    if len(raw) > MAX_PHOTO_BYTES:
        msg = f"The photo is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB; send a smaller one."
        raise PhotoTooLarge(msg, param="photo")
    if not raw:
        raise _bad("The photo is empty.")
    return raw


def clean_photo(data: bytes | BinaryIO, *, dct_scaling: bool = True) -> bytes:
    """Return the photo re-encoded as a JPEG without any metadata.

    Parameters
    ----------
    data : bytes or binary file
        The upload, as sent.
    dct_scaling : bool
        Let the JPEG decoder shrink a large photo while decoding (the default; False only
        for the benchmark's baseline).

    Returns
    -------
    bytes
        A baseline JPEG, upright, at most :data:`MAX_SIDE_PX` on its long side.

    Raises
    ------
    PhotoTooLarge
        Over :data:`MAX_PHOTO_BYTES` (HTTP 413).
    InvalidInputError
        Empty, not a JPEG or PNG, damaged, or more than :data:`MAX_PIXELS` pixels
        (parameter ``photo``).
    """
    raw = _read(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=list(FORMATS)) as img:
                width_px, height_px = img.size
                if width_px * height_px > MAX_PIXELS:
                    msg = (
                        f"The photo has {width_px} x {height_px} pixels; at most"
                        f" {MAX_PIXELS // 1_000_000} million are accepted."
                    )
                    raise _bad(msg)
                if dct_scaling and img.format == "JPEG":
                    # let the JPEG decoder scale by 1/2, 1/4 or 1/8 while decoding (DCT
                    # scaling): the long side stays at least MAX_SIDE_PX, the work falls 4-16x
                    long_px = max(width_px, height_px)
                    if long_px > MAX_SIDE_PX:
                        scale = MAX_SIDE_PX / long_px
                        img.draft("RGB", (int(width_px * scale) + 1, int(height_px * scale) + 1))
                img.load()
                upright = ImageOps.exif_transpose(img)
                rgb = upright.convert("RGB") if upright.mode != "RGB" else upright.copy()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bad("The file is not a JPEG or PNG photo.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise _bad("The photo could not be read (a damaged or unsupported file).") from None
    # bicubic: as sharp as Lanczos at these small factors, a third faster
    rgb.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX), Image.Resampling.BICUBIC)
    # Pillow writes what ``info`` holds (exif, comment, icc_profile, xmp, dpi): keep none
    rgb.info = {}
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def store_photo(data: bytes | BinaryIO, photo_dir: Path | str | None = None) -> str:
    """Clean the photo (:func:`clean_photo`) and store it under a random name.

    Parameters
    ----------
    data : bytes or binary file
        The upload.
    photo_dir : Path, optional
        Where photos are kept; default :func:`default_photo_dir`. Made if missing.

    Returns
    -------
    str
        The photo reference, e.g. ``Qm3x...k.jpg``: a complaint's ``photo_ref``.
    """
    jpeg = clean_photo(data)
    directory = Path(photo_dir) if photo_dir else default_photo_dir()
    directory.mkdir(parents=True, exist_ok=True)
    ref = new_ref()
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(jpeg)
        os.chmod(tmp, 0o640)
        os.replace(tmp, directory / ref)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("stored photo %s (%d bytes)", ref, len(jpeg))
    return ref


def photo_path(ref: object, photo_dir: Path | str | None = None) -> Path:
    """Return the file of a stored photo.

    Raises
    ------
    NotFoundError
        ``ref`` is not a name this store makes, or no such file is stored.
    """
    if not isinstance(ref, str) or not PHOTO_REF.fullmatch(ref):
        raise NotFoundError("There is no such photo.", code="unknown_photo", param="photo")
    path = (Path(photo_dir) if photo_dir else default_photo_dir()) / ref
    if not path.is_file():
        raise NotFoundError("There is no such photo.", code="unknown_photo", param="photo")
    return path
