"""A vault file's type in words ("ZIP archive", "PDF document"), as its owner's list shows it.

The media type comes from the file's name when it was deposited (``mimetypes``); a person knows "ZIP archive", not
``application/zip``. Only the types companies send in answer to a data request are named one by one; another image,
video, sound or text file gets its family's word, and anything else nothing (the list then leaves the type out
rather than show a media type nobody reads).
"""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

KINDS: dict[str, LazyString] = {
    "application/zip": _l("ZIP archive"),
    "application/x-zip-compressed": _l("ZIP archive"),
    "application/gzip": _l("gzip archive"),
    "application/x-tar": _l("tar archive"),
    "application/x-7z-compressed": _l("7-Zip archive"),
    "application/vnd.rar": _l("RAR archive"),
    "application/pdf": _l("PDF document"),
    "application/json": _l("JSON data"),
    "application/xml": _l("XML data"),
    "text/xml": _l("XML data"),
    "text/csv": _l("CSV table"),
    "text/html": _l("web page (HTML)"),
    "text/plain": _l("plain text"),
    "message/rfc822": _l("e-mail message"),
    "application/vnd.ms-excel": _l("Excel spreadsheet"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _l("Excel spreadsheet"),
    "application/msword": _l("Word document"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _l("Word document"),
    "application/vnd.oasis.opendocument.spreadsheet": _l("OpenDocument spreadsheet"),
    "application/vnd.oasis.opendocument.text": _l("OpenDocument text"),
    "image/jpeg": _l("JPEG image"),
    "image/png": _l("PNG image"),
}
FAMILIES: dict[str, LazyString] = {
    "image": _l("image"),
    "video": _l("video"),
    "audio": _l("sound recording"),
    "text": _l("text"),
}


def kind_of(media_type: str) -> str | None:
    """The type of a file of ``media_type`` in the current language's words, or None when it has no name we know."""
    essence = media_type.split(";", 1)[0].strip().lower()
    kind = KINDS.get(essence) or FAMILIES.get(essence.split("/", 1)[0])
    return str(kind) if kind is not None else None
