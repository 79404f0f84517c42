"""Object names: the repository layout shared by every backend (docs/storage-format.md §3).

An object's *name* is where a backend keeps it; its *id* is what the sealed bytes are bound to
(associated data). They are kept apart so a layout change (a different fan-out on S3) never makes
old objects unreadable.
"""

from __future__ import annotations

import re

CHUNKS = "data/chunks/"
MANIFESTS = "data/manifests/"
PLACEMENTS = "data/placements/"
KEYS = "keys/"
DATA_KEYS = "keys/data/"
DEDUP_KEYS = "keys/dedup/"

ID_HEX_LENGTH = 64
KEY_ID_SIZE = 8

_ID = re.compile(r"[0-9a-f]{64}")
_KEY_ID_HEX = re.compile(r"[0-9a-f]{16}")
_DATA_KEY_NAME = re.compile(r"keys/data/([0-9a-f]{16})\.([0-9a-f]{16})")
_DEDUP_KEY_NAME = re.compile(r"keys/dedup/([0-9a-f]{16})")
_PLACEMENT_NAME = re.compile(
    r"data/placements/([0-9a-f]{2})/([0-9a-f]{64})/([0-9a-f]{16})\.([0-9a-f]{16})"
)
_SEGMENT = r"[a-z0-9][a-z0-9._-]{0,127}"
_OBJECT_NAME = re.compile(rf"(?:{_SEGMENT}/){{0,7}}{_SEGMENT}")
_PREFIX = re.compile(rf"(?:{_SEGMENT}/){{0,7}}(?:[a-z0-9][a-z0-9._-]{{0,127}})?")


def is_valid_id(value: str) -> bool:
    """A chunk or manifest id: 64 lowercase hex digits (an HMAC-SHA256)."""
    return _ID.fullmatch(value) is not None


def check_id(value: str, what: str = "id") -> str:
    if not isinstance(value, str) or not is_valid_id(value):
        raise ValueError(f"invalid {what} {value!r}: expected 64 lowercase hex digits")
    return value


def check_object_name(name: str) -> str:
    """Refuse anything but a plain relative name (no ``..``, no leading ``/``, no dot files).

    Every segment starts with a letter or digit, so ``.``, ``..`` and hidden temporary files can
    never be named; this is what keeps a backend from being steered outside its root.
    """
    if not isinstance(name, str) or _OBJECT_NAME.fullmatch(name) is None:
        raise ValueError(f"invalid object name {name!r}")
    return name


def check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or _PREFIX.fullmatch(prefix) is None:
        raise ValueError(f"invalid object name prefix {prefix!r}")
    return prefix


def chunk_name(chunk_id: str) -> str:
    check_id(chunk_id, "chunk id")
    return f"{CHUNKS}{chunk_id[:2]}/{chunk_id}"


def manifest_name(manifest_id: str) -> str:
    check_id(manifest_id, "manifest id")
    return f"{MANIFESTS}{manifest_id[:2]}/{manifest_id}"


def placement_name(node_key: str, generation: int, recorded_us: int) -> str:
    """``data/placements/<key[0:2]>/<key>/<generation>.<recorded>``, both numbers 16 hex digits:
    a node's records sort oldest first by name (docs/storage-format.md §8a)."""
    return f"{PLACEMENTS}{node_key[:2]}/{_placement_tail(node_key, generation, recorded_us)}"


def placement_object_id(node_key: str, generation: int, recorded_us: int) -> str:
    """The associated-data id of a placement record (its name without the layout's fan-out)."""
    return f"placement/{_placement_tail(node_key, generation, recorded_us)}"


def _placement_tail(node_key: str, generation: int, recorded_us: int) -> str:
    check_id(node_key, "placement node key")
    for number, what in ((generation, "generation"), (recorded_us, "recorded time")):
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < 2**64:
            raise ValueError(f"invalid placement {what} {number!r}")
    return f"{node_key}/{generation:016x}.{recorded_us:016x}"


def parse_placement_name(name: str) -> tuple[str, int, int] | None:
    """(node key, generation, recorded time in µs) of a placement record's name, else None."""
    match = _PLACEMENT_NAME.fullmatch(name)
    if match is None or match.group(1) != match.group(2)[:2]:
        return None
    return match.group(2), int(match.group(3), 16), int(match.group(4), 16)


def data_key_name(data_key_id: int, master_key_id: bytes) -> str:
    return f"{DATA_KEYS}{data_key_id:016x}.{master_key_id.hex()}"


def dedup_key_name(master_key_id: bytes) -> str:
    return f"{DEDUP_KEYS}{master_key_id.hex()}"


def data_key_object_id(data_key_id: int) -> str:
    """The associated-data id of a wrapped data key (independent of the layout)."""
    return f"data-key/{data_key_id:016x}"


DEDUP_KEY_OBJECT_ID = "dedup-key"


def parse_chunk_name(name: str) -> str | None:
    """The chunk id if ``name`` is a well-formed chunk name, else None."""
    return _parse_fanned_out(name, CHUNKS)


def parse_manifest_name(name: str) -> str | None:
    return _parse_fanned_out(name, MANIFESTS)


def parse_data_key_name(name: str) -> tuple[int, bytes] | None:
    """(data key id, master key id) of a wrapped data key name, else None."""
    match = _DATA_KEY_NAME.fullmatch(name)
    if match is None:
        return None
    return int(match.group(1), 16), bytes.fromhex(match.group(2))


def parse_dedup_key_name(name: str) -> bytes | None:
    match = _DEDUP_KEY_NAME.fullmatch(name)
    return None if match is None else bytes.fromhex(match.group(1))


def key_id_from_hex(value: str) -> bytes:
    if _KEY_ID_HEX.fullmatch(value) is None:
        raise ValueError(f"invalid key id {value!r}: expected 16 lowercase hex digits")
    return bytes.fromhex(value)


def _parse_fanned_out(name: str, prefix: str) -> str | None:
    if not name.startswith(prefix):
        return None
    fan, _, object_id = name[len(prefix) :].partition("/")
    if not is_valid_id(object_id) or fan != object_id[:2]:
        return None
    return object_id
