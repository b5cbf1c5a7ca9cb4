"""The image of an identity document a participant uploads, checked and made clean before anything keeps it.

A copy of an ID document is the most sensitive file the site receives, and it arrives from a phone's gallery: a
photo carries the phone's make, the time, often the GPS position of the participant's home, an embedded thumbnail
(which may still show what the participant blacked out in an editing app), XMP edit history and comments. None of
that is needed to verify the request, so none of it is kept: the image is decoded in full and encoded again from
its pixels alone, in a new image object that inherits no metadata (Pillow copies ``info`` along with an image, and
its encoders write some of it back, such as a JPEG comment or a PNG's ICC profile).

What the file is is decided by its content, never by its name or the content type the browser sent: its first
bytes say JPEG or PNG, and Pillow then opens it with that one decoder only (no other of Pillow's many decoders ever
reads these bytes). Other image and document types a person may well choose (a PDF scan, a phone's HEIC photo,
a WebP or GIF) are recognised by their magic numbers so the page can say "choose a JPEG or PNG" rather than "this
is not an image".

Pixels are counted from the header before any is decoded: an image that claims 50,000 × 50,000 pixels in a few
hundred bytes (a decompression bomb) is refused without allocating it. Pillow guards the same on opening
(``Image.MAX_IMAGE_PIXELS``: it warns above that count and raises ``DecompressionBombError`` above twice that); both
are caught here and mean the same refusal, and ``max_pixels`` (well below Pillow's limit) is checked on top.

The image is turned upright by its EXIF orientation, as browsers show it (and as the blackout canvas drew it), so
what staff see is what the participant saw; colours are converted to sRGB when the file has an ICC profile (the
profile itself is not kept), and the long side is brought down to :data:`MAX_SIDE` pixels, ample to read a document.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import Enum
from typing import Literal

import numpy as np
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageCms, ImageOps

from core.images import load_strictly

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 48-megapixel phone photo is refused; the usual 12 MP is about a quarter of this
MAX_SIDE = 3000  # pixels on the long side of the clean image: a document's smallest print stays readable
JPEG_QUALITY = 88

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

MediaType = Literal["image/jpeg", "image/png"]


class IdImageProblem(Enum):
    """Why an upload is not taken as the image of an ID document."""

    NOT_AN_IMAGE = "not_an_image"  # empty, text, or bytes of no known type
    UNSUPPORTED_TYPE = "unsupported_type"  # a known type other than JPEG and PNG: PDF, SVG, GIF, WebP, HEIC, ...
    TOO_LARGE = "too_large"  # more bytes than allowed
    TOO_MANY_PIXELS = "too_many_pixels"  # more pixels than allowed, as its header says (a decompression bomb too)
    DAMAGED = "damaged"  # starts as a JPEG or PNG but does not decode: truncated or corrupt


class IdImageRefused(ValueError):
    """The upload is not a usable JPEG or PNG image; ``reason`` says why (:func:`refusal_message` for the visitor)."""

    def __init__(self, reason: IdImageProblem, detail: str = "") -> None:
        super().__init__(f"ID image refused: {reason.value}" + (f" ({detail})" if detail else ""))
        self.reason = reason


_MESSAGES: dict[IdImageProblem, LazyString] = {
    IdImageProblem.NOT_AN_IMAGE: _l(
        "The file you chose is not an image. Choose a photo or scan of your ID document as a JPEG or PNG file."
    ),
    IdImageProblem.UNSUPPORTED_TYPE: _l(
        "We accept only JPEG and PNG images, and the file you chose is another kind (for example a PDF, HEIC or "
        "WebP file). Save or export it as JPEG or PNG, or take a screenshot of it, and choose that file."
    ),
    IdImageProblem.TOO_LARGE: _l(
        "The file you chose is too large (at most 10 MB). Choose a smaller photo, or take a screenshot of it."
    ),
    IdImageProblem.TOO_MANY_PIXELS: _l(
        "The image you chose has too many pixels (at most 40 megapixels). Choose a smaller photo, or take a "
        "screenshot of it."
    ),
    IdImageProblem.DAMAGED: _l(
        "The image you chose is damaged or incomplete and cannot be opened. Take a new photo or scan and choose that."
    ),
}


def refusal_message(reason: IdImageProblem) -> LazyString:
    """What the visitor reads when their upload is refused for ``reason``: what is wrong and what to do instead."""
    return _MESSAGES[reason]


@dataclass(frozen=True)
class CleanImage:
    """An ID image as kept: encoded anew from its pixels, upright, in sRGB, no metadata of any kind."""

    data: bytes
    media_type: MediaType
    width: int
    height: int


# Types a person may choose that are not JPEG or PNG, by their first bytes: refused as "unsupported", not as "not an
# image". (An SVG is text and has no fixed first bytes: see _looks_like_svg.)
_OTHER_TYPES: tuple[tuple[int, bytes], ...] = (
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"II*\x00"),  # TIFF, little-endian
    (0, b"MM\x00*"),  # TIFF, big-endian
    (0, b"BM"),  # BMP
    (0, b"8BPS"),  # Photoshop
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n"),  # JPEG 2000
    (0, b"\xff\x4f\xff\x51"),  # JPEG 2000 codestream
    (0, b"\xff\x0a"),  # JPEG XL codestream
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n"),  # JPEG XL container
    (4, b"ftyp"),  # ISO media: HEIC/HEIF and AVIF photos (and videos)
    (0, b"PK\x03\x04"),  # a ZIP: Word and OpenDocument files
)


def _other_type(data: bytes) -> bool:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    if b"%PDF-" in data[:1024]:  # a PDF may start with up to 1 KB of anything before its header
        return True
    return any(data[at : at + len(magic)] == magic for at, magic in _OTHER_TYPES) or _looks_like_svg(data)


def _looks_like_svg(data: bytes) -> bool:
    start = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<?xml", b"<svg", b"<!doctype svg")) and b"<svg" in start


def clean_id_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> CleanImage:
    """``data`` decoded as a JPEG or PNG image and encoded again from its pixels alone (the same type; JPEG at
    quality :data:`JPEG_QUALITY`): upright by its EXIF orientation, in sRGB, at most :data:`MAX_SIDE` pixels on the
    long side, with no EXIF, XMP, ICC profile, comment or text chunk.

    Raises :class:`IdImageRefused` for anything else: more than ``max_bytes`` bytes, more than ``max_pixels`` pixels
    (from the header, before decoding), another type, or an image that does not decode in full.
    """
    if len(data) > max_bytes:
        raise IdImageRefused(IdImageProblem.TOO_LARGE, f"{len(data)} bytes")
    if data.startswith(JPEG_MAGIC):
        formats, media_type = ["JPEG"], "image/jpeg"
    elif data.startswith(PNG_MAGIC):
        formats, media_type = ["PNG"], "image/png"
    elif _other_type(data):
        raise IdImageRefused(IdImageProblem.UNSUPPORTED_TYPE)
    else:
        raise IdImageRefused(IdImageProblem.NOT_AN_IMAGE)
    try:
        with Image.open(io.BytesIO(data), formats=formats) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise IdImageRefused(IdImageProblem.TOO_MANY_PIXELS, f"{width}x{height}")
            image.seek(0)  # the main image of a multi-picture JPEG (MPO) or an animated PNG
            load_strictly(image)  # every pixel, strictly: a truncated or corrupt file fails here (core.images)
            upright = _upright(image)
            pixels = _downscaled(_srgb(upright, upright.info.get("icc_profile")))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard, on opening (the warning is raised where warnings are errors, as in the tests).
        raise IdImageRefused(IdImageProblem.TOO_MANY_PIXELS, str(exc)) from None
    except IdImageRefused:
        raise
    except Exception as exc:  # any failure to decode (or convert) hostile bytes means the same: damaged
        raise IdImageRefused(IdImageProblem.DAMAGED, f"{type(exc).__name__}: {exc}") from None
    # A new image from the raw pixels: nothing of the file's info dict can reach the encoder.
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if media_type == "image/jpeg":
        clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        clean.save(out, "PNG", optimize=False)
    return CleanImage(out.getvalue(), media_type, clean.width, clean.height)


def _upright(image: Image.Image) -> Image.Image:
    """``image`` turned as its EXIF orientation says; as it is when the EXIF block cannot be read (browsers then
    show it unturned as well, so the participant saw it that way)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block: keep the pixels as they are
        return image.copy()


def _srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """``image`` as 8-bit L, LA, RGB or RGBA (the modes both encoders take), its colours converted from its ICC
    profile to sRGB when it has one. A profile that cannot be read is ignored, the colours taken as sRGB: an ID
    with slightly wrong colours still verifies a person, and a refusal would not say what to do."""
    alpha = None
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode.startswith("I"):  # 16-bit grey (Pillow's convert to L would clip, not scale)
        image = Image.fromarray((np.asarray(image, dtype=np.uint32) >> 8).clip(0, 255).astype(np.uint8), "L")
    if image.mode in ("LA", "RGBA"):
        alpha = image.getchannel("A")
        image = image.convert(image.mode[:-1])
    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    if image.mode not in ("L", "RGB"):  # CMYK and YCbCr JPEGs, without a usable profile
        image = image.convert("RGB")
    if alpha is not None:
        image = image.convert("RGBA" if image.mode == "RGB" else "LA")
        image.putalpha(alpha)
    return image


def _downscaled(image: Image.Image) -> Image.Image:
    if max(image.size) <= MAX_SIDE:
        return image
    smaller = image.copy()
    smaller.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return smaller
