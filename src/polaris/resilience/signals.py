"""The guard's signals, as pure functions over names and sampled bytes (no database).

Absolute entropy tells nothing: ZIP, JPEG, PDF and ODT files are 7.7–8.0 bits per byte, like
ciphertext. What gives encryption away is a *change*: a file whose new version is much more
random than its old one, or that no longer carries the signature (magic bytes) of the format it
was. A version that keeps its format is never counted, whatever its entropy: a password-protected
PDF is still a PDF, an encrypted ZIP still a ZIP.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from polaris.ingest.extract import signature

#: Bytes read from the start, the middle and the end of a version (a file up to three times this
#: is read whole): enough to measure entropy, bounded whatever the file's size.
SAMPLE_BYTES = 64 * 1024
#: A sample this small says nothing about its entropy: judged by name and signature only.
MIN_SAMPLE_BYTES = 1024
#: Bits per byte from which a sample looks like ciphertext (or compressed data).
HIGH_ENTROPY = 7.2
#: A rise of at least this many bits per byte from a format-less old version is a jump.
ENTROPY_JUMP = 1.5

#: The signature a declared type must carry (``ingest.extract.signature``'s families).
EXPECTED_SIGNATURE = {
    "application/pdf": "pdf",
    "image/png": "image",
    "image/jpeg": "image",
    "image/tiff": "image",
    "application/zip": "zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "zip",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "zip",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "zip",
    "application/vnd.oasis.opendocument.text": "zip",
    "application/vnd.oasis.opendocument.spreadsheet": "zip",
    "application/msword": "ole",
    "application/vnd.ms-excel": "ole",
}

#: Extensions ransomware families give the files they encrypt (a sample of well-known ones).
RANSOM_EXTENSIONS = frozenset(
    {
        "locked", "encrypted", "crypt", "crypted", "cerber", "locky", "zepto", "wncry", "wnry",
        "wcry", "ryk", "ryuk", "lockbit", "djvu", "phobos", "dharma", "aes256", "basta",
        "blackcat", "clop", "makop", "eking", "mallox",
    }
)  # fmt: skip
#: Names of ransom notes: the instructions to pay, dropped into every folder. Narrow on purpose:
#: an officer's "ransomware case notes" must not match.
RANSOM_NOTE = re.compile(
    r"(how|help)[ _-]*to[ _-]*(decrypt|unlock|recover)[ _-]*((your|my|all)[ _-]*)?files"
    r"|(decrypt|unlock)[ _-]*(your|my|all)[ _-]*files"
    r"|decrypt[ _-]*instructions?"
    r"|your[ _-]*files[ _-]*are[ _-]*encrypted"
    r"|read[ _-]*me[ _-]*(to|for)[ _-]*decrypt"
    r"|^_readme\.txt$"
    r"|^!+[^!]*read[^!]*!+",
    re.IGNORECASE,
)


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte (0 for nothing)."""
    if not data:
        return 0.0
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in Counter(data).values())


def sample_ranges(size: int) -> list[tuple[int, int]]:
    """Half-open byte ranges to read: the whole file when small, else start, middle and end."""
    if size <= 3 * SAMPLE_BYTES:
        return [(0, size)] if size else []
    middle = size // 2 - SAMPLE_BYTES // 2
    return [(0, SAMPLE_BYTES), (middle, middle + SAMPLE_BYTES), (size - SAMPLE_BYTES, size)]


@dataclass(frozen=True)
class Sample:
    """What the guard knows of a version's bytes: its first bytes and its sampled entropy."""

    head: bytes
    entropy: float
    size: int

    @classmethod
    def of(cls, pieces: list[bytes]) -> Sample:
        joined = b"".join(pieces)
        return cls(
            head=pieces[0][:1024] if pieces else b"", entropy=entropy(joined), size=len(joined)
        )

    @property
    def signature(self) -> str | None:
        return signature(self.head)

    @property
    def measurable(self) -> bool:
        return self.size >= MIN_SAMPLE_BYTES

    @property
    def random(self) -> bool:
        return self.measurable and self.entropy >= HIGH_ENTROPY


def overwrite_findings(old: Sample, new: Sample) -> list[str]:
    """Why a new version looks like its old one encrypted ([] when it does not).

    - ``signature_lost``: the old version announced a format, the new one announces none and
      looks random;
    - ``entropy_jump``: the old version announced no format (text, say), the new one is at least
      ``ENTROPY_JUMP`` bits per byte more random and looks random.
    """
    if not new.random or new.signature is not None:
        return []
    if old.signature is not None:
        return ["signature_lost"]
    if old.measurable and new.entropy - old.entropy >= ENTROPY_JUMP:
        return ["entropy_jump"]
    return []


def new_file_findings(content_type: str | None, new: Sample) -> list[str]:
    """``type_mismatch``: a new file named as a format whose signature it lacks, and random."""
    expected = EXPECTED_SIGNATURE.get(content_type or "")
    if expected is not None and new.random and new.signature != expected:
        return ["type_mismatch"]
    return []


def name_findings(name: str) -> list[str]:
    """``ransom_note`` for a ransom note's name, ``ransom_extension`` for a known extension."""
    found = []
    if RANSOM_NOTE.search(name):
        found.append("ransom_note")
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in RANSOM_EXTENSIONS:
        found.append("ransom_extension")
    return found
