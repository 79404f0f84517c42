"""Which icon a row of the folder page shows: a kind of file from its media type or its name.

Only a picture for people (the icons in ``static/icons.svg``), never a decision: what a file *is*
for previews and scans is ingest's, from its content.
"""

from __future__ import annotations

from pathlib import PurePosixPath

#: Icon names, each a ``<symbol id="i-NAME">`` in static/icons.svg.
ICONS = ("folder", "pdf", "image", "document", "spreadsheet", "text", "archive", "audio", "video")

_BY_EXTENSION = {
    "pdf": "pdf",
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "webp", "tif", "tiff", "bmp", "heic"), "image"),
    **dict.fromkeys(("doc", "docx", "odt", "rtf"), "document"),
    **dict.fromkeys(("xls", "xlsx", "ods", "csv"), "spreadsheet"),
    **dict.fromkeys(("txt", "md", "log", "json", "xml"), "text"),
    **dict.fromkeys(("zip", "7z", "rar", "gz", "tgz", "tar", "bz2", "xz"), "archive"),
    **dict.fromkeys(("mp3", "wav", "ogg", "oga", "m4a", "aac", "flac", "amr", "opus"), "audio"),
    **dict.fromkeys(("mp4", "mkv", "webm", "mov", "avi", "3gp", "m4v"), "video"),
}

_BY_TYPE = {
    "application/pdf": "pdf",
    "application/msword": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "application/vnd.oasis.opendocument.text": "document",
    "application/vnd.ms-excel": "spreadsheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "spreadsheet",
    "application/vnd.oasis.opendocument.spreadsheet": "spreadsheet",
    "text/csv": "spreadsheet",
    "application/zip": "archive",
    "application/x-7z-compressed": "archive",
    "application/gzip": "archive",
}


def icon_for(kind: str, name: str, content_type: str | None) -> str:
    """The icon of a folder or file: by its extension first (what the person sees in the name),
    then by its media type; ``file`` when neither says."""
    if kind == "folder":
        return "folder"
    extension = PurePosixPath(name).suffix.lower().lstrip(".")
    if extension in _BY_EXTENSION:
        return _BY_EXTENSION[extension]
    media = (content_type or "").split(";")[0].strip().lower()
    if media in _BY_TYPE:
        return _BY_TYPE[media]
    major = media.split("/")[0]
    if major in ("image", "audio", "video", "text"):
        return major
    return "file"
