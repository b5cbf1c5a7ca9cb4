"""The text files staff edit (campaign files, agreement texts, pages), read as UTF-8 or explained.

A file saved in another encoding (Windows-1252 from a word processor, UTF-16) made a traceback where it was read;
the message says instead which file and which line holds the first byte that is not UTF-8.
"""

from __future__ import annotations

from pathlib import Path

from core.campaigns.errors import CampaignConfigError, ConfigProblem


def read_utf8(path: Path) -> str:
    """The text of ``path``; raises :class:`CampaignConfigError` (file and line) when it cannot be read as UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CampaignConfigError([ConfigProblem(str(path), None, "", f"cannot be read: {exc}")]) from None
    return decode_utf8(path, data)


def decode_utf8(path: Path, data: bytes) -> str:
    """``data`` (the bytes of ``path``) as text; raises :class:`CampaignConfigError` (file and line) when it is not
    UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on this line); save the file as UTF-8"
        raise CampaignConfigError([ConfigProblem(str(path), line, "", message)]) from None
