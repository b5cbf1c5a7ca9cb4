"""Decoding an image from a visitor in full, strictly: a truncated or corrupt file fails.

WeasyPrint sets Pillow's process-wide ``ImageFile.LOAD_TRUNCATED_IMAGES`` to True when it is imported (every app
process imports it, for the mandate), and Pillow then fills a truncated or corrupt image with grey instead of
failing: a damaged drawn signature or ID copy would be taken as whole. Pillow reads that setting only as a module
global, so :func:`load_strictly` decodes with it False, under a lock (only this module changes it back and forth;
WeasyPrint sets it once, at import). The images it guards are small and rare (a signature, an ID copy).
"""

from __future__ import annotations

import threading

from PIL import Image, ImageFile

_STRICT = threading.Lock()


def load_strictly(image: Image.Image) -> None:
    """``image.load()``, failing on a truncated or corrupt file whatever the process-wide setting says."""
    with _STRICT:
        lenient = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            image.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = lenient
