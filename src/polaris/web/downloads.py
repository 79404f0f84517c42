"""Headers of a download, for whichever package sends a file (drive's content, ingest's OCR PDF)."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the exact name (RFC 6266 and 5987)."""
    decomposed = unicodedata.normalize("NFKD", name)
    fallback = (
        "".join(
            c if 0x20 <= ord(c) < 0x7F and c not in '"\\%' else "_"
            for c in decomposed
            if not unicodedata.combining(c)
        ).strip()
        or "download"
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
