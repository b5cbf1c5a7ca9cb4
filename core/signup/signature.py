"""A signature drawn on the signing page's canvas, as the browser sends it: a PNG as a ``data:`` URL.

It is decoded in full with Pillow (the image library WeasyPrint itself uses to put it in the mandate PDF), so what
is kept is an image the PDF can show: a truncated, corrupt, oversized or animated PNG is refused, and so is a blank
or nearly blank one (fewer than :data:`MIN_INK_PIXELS` dark pixels), which the PDF would otherwise present as
"signed with a signature drawn on screen". The bytes kept are the ones the browser sent.
"""

from __future__ import annotations

import base64
import binascii
import io
from enum import Enum

from PIL import Image

from core.images import load_strictly

DATA_URL_PREFIX = "data:image/png;base64,"
MAX_BYTES = 300_000  # a 600x200 canvas with a signature is 5-30 KB
MIN_WIDTH, MIN_HEIGHT, MAX_SIDE = 50, 20, 4000
# The pad's pen is 3 pixels wide: this is a stroke of about 40 pixels, less than any written name. A dot or a
# tiny dash is not a signature.
MIN_INK_PIXELS = 120
INK_BELOW = 160  # a pixel is ink when, laid on white, its grey level is darker than this (the pen is #111)


class SignatureProblem(Enum):
    UNREADABLE = "unreadable"  # not a PNG, truncated, corrupt, or more than one frame
    TOO_LARGE = "too-large"  # too many bytes, or sides outside MIN_*..MAX_SIDE
    BLANK = "blank"  # empty or nearly so


class SignatureRefused(ValueError):
    def __init__(self, problem: SignatureProblem) -> None:
        super().__init__(f"drawn signature refused: {problem.value}")
        self.problem = problem


def read_drawn_signature(data_url: str) -> bytes:
    """The PNG of a drawn signature sent as ``data_url``; raises :class:`SignatureRefused` saying why not."""
    if not data_url.startswith(DATA_URL_PREFIX):
        raise SignatureRefused(SignatureProblem.UNREADABLE)
    encoded = data_url[len(DATA_URL_PREFIX) :]
    if len(encoded) > MAX_BYTES * 4 // 3 + 4:
        raise SignatureRefused(SignatureProblem.TOO_LARGE)
    try:
        png = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRefused(SignatureProblem.UNREADABLE) from None
    problem = signature_problem(png)
    if problem is not None:
        raise SignatureRefused(problem)
    return png


def signature_problem(png: bytes) -> SignatureProblem | None:
    """What is wrong with ``png`` as a drawn signature, or None when it is a whole, single, inked PNG image."""
    if len(png) > MAX_BYTES:
        return SignatureProblem.TOO_LARGE
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            # The header alone gives the size: checked before any pixel is decoded (no decompression bomb).
            width, height = image.size
            if not (MIN_WIDTH <= width <= MAX_SIDE and MIN_HEIGHT <= height <= MAX_SIDE):
                return SignatureProblem.TOO_LARGE
            if getattr(image, "n_frames", 1) != 1:
                return SignatureProblem.UNREADABLE
            image.verify()  # every chunk's checksum
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            load_strictly(image)  # every pixel: a truncated or corrupt image fails here (core.images)
            ink = _ink_pixels(image)
    except Exception:  # any failure to decode hostile bytes means the same: not readable
        return SignatureProblem.UNREADABLE
    return SignatureProblem.BLANK if ink < MIN_INK_PIXELS else None


def _ink_pixels(image: Image.Image) -> int:
    """How many pixels are dark once the image is laid on white paper (as the PDF shows it)."""
    paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
    paper.alpha_composite(image.convert("RGBA"))
    return sum(paper.convert("L").histogram()[:INK_BELOW])
