"""Data keys and the dedup key, stored in the blob store wrapped by master keys.

Each wrapping is its own immutable object (``keys/data/<data key id>.<master key id>``,
``keys/dedup/<master key id>``), so rotating the master key adds wrappings and replaces nothing.
Data key ids count up from 1; the current data key is the highest id this keyring can unwrap.
"""

from __future__ import annotations

import os
import threading

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from polaris.errors import Conflict, IntegrityError, NotFound
from polaris.storage import names
from polaris.storage.backend import Backend, ObjectNotFound
from polaris.storage.crypto import (
    KEY_SIZE,
    OVERHEAD,
    Kind,
    SealError,
    open_sealed,
    parse_header,
    seal,
)
from polaris.storage.keys import Keyring, MasterKey

WRAPPED_KEY_SIZE = KEY_SIZE + OVERHEAD
_ROTATE_ATTEMPTS = 8


class KeyStore:
    """The unwrapped data keys and dedup key of one blob store, loaded on demand and cached."""

    def __init__(self, backend: Backend, keyring: Keyring) -> None:
        self._backend = backend
        self._keyring = keyring
        self._data_keys: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self.dedup_key = self._load_dedup_key()
        self.current_data_key_id = self._find_current_data_key()

    @classmethod
    def initialise(cls, backend: Backend, keyring: Keyring) -> KeyStore:
        """Create the dedup key, then data key 1, under the current master key.

        Refuses a store that already has keys. An initialisation interrupted after the dedup key was
        written may be run again with the same keyring: it resumes with the data key.
        """
        master = keyring.current
        dedup_name = names.dedup_key_name(master.key_id)
        existing = list(backend.list(names.KEYS))
        if existing and existing != [dedup_name]:
            raise Conflict("this blob store is already initialised (keys/ is not empty)")
        if not existing:
            dedup = _seal_key(
                master, Kind.DEDUP_KEY, names.DEDUP_KEY_OBJECT_ID, os.urandom(KEY_SIZE)
            )
            if not backend.put(dedup_name, dedup):
                raise Conflict("another process is initialising this blob store")
        if not backend.put(names.data_key_name(1, master.key_id), _wrap_data_key(master, 1)):
            raise Conflict("another process is initialising this blob store")
        return cls(backend, keyring)

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def data_key(self, data_key_id: int) -> bytes:
        """The data key; SealError("unknown data key ...") if no wrapping opens with the keyring."""
        key = self._data_keys.get(data_key_id)
        if key is not None:
            return key
        candidates = [names.data_key_name(data_key_id, m.key_id) for m in self._keyring.keys]
        key, failures = self._unwrap_first(candidates)
        if key is None and failures:
            raise SealError(f"data key {data_key_id} unusable: {'; '.join(failures)}")
        if key is None:
            raise SealError(
                f"unknown data key {data_key_id} (no wrapping under master keys "
                f"{', '.join(self._keyring.ids_hex)})"
            )
        with self._lock:
            self._data_keys[data_key_id] = key
        return key

    def _unwrap_first(self, candidates: list[str]) -> tuple[bytes | None, list[str]]:
        """The key from the first candidate wrapping that exists and opens, and why others did not.

        A damaged wrapping does not stop the search: another master key's wrapping of the same key
        is a valid copy.
        """
        failures: list[str] = []
        for name in candidates:
            try:
                blob = self._backend.get(name, max_size=WRAPPED_KEY_SIZE)
                return self._unwrap(name, blob), failures
            except ObjectNotFound:
                continue
            except SealError as exc:
                failures.append(f"{name}: {exc.reason}")
            except IntegrityError as exc:  # ObjectTooLargeError
                failures.append(exc.detail)
        return None, failures

    def unwrap(self, name: str, blob: bytes) -> bytes:
        """Open one wrapping object; IntegrityError naming it if that fails."""
        try:
            return self._unwrap(name, blob)
        except SealError as exc:
            raise IntegrityError(f"{name}: {exc.reason}", object_name=name) from None

    def _unwrap(self, name: str, blob: bytes) -> bytes:
        parsed = names.parse_data_key_name(name)
        if parsed is not None:
            kind, object_id, named_master = (
                Kind.DATA_KEY,
                names.data_key_object_id(parsed[0]),
                parsed[1],
            )
        else:
            named_master = names.parse_dedup_key_name(name) or b""
            kind, object_id = Kind.DEDUP_KEY, names.DEDUP_KEY_OBJECT_ID
        header = parse_header(blob, kind=kind, expected_plaintext_size=KEY_SIZE)
        if header.key_id != named_master:
            raise SealError(f"sealed under master key {header.key_id.hex()}, not the one named")
        master = self._keyring.get(header.key_id)
        if master is None:
            raise SealError(f"master key {header.key_id.hex()} is not in the keyring")
        return open_sealed(blob, key=master.secret, object_id=object_id)

    def data_key_ids(self) -> dict[int, list[bytes]]:
        """Every data key id in the store with the master key ids it is wrapped under."""
        found: dict[int, list[bytes]] = {}
        for name in self._backend.list(names.DATA_KEYS):
            parsed = names.parse_data_key_name(name)
            if parsed is not None:
                found.setdefault(parsed[0], []).append(parsed[1])
        return found

    def rotate_data_key(self) -> int:
        """Introduce a new random data key for new chunks; old chunks keep naming theirs."""
        master = self._keyring.current
        for _ in range(_ROTATE_ATTEMPTS):
            new_id = max(self.data_key_ids(), default=0) + 1
            name = names.data_key_name(new_id, master.key_id)
            if self._backend.put(name, _wrap_data_key(master, new_id)):
                self.current_data_key_id = new_id
                return new_id
        raise Conflict("data key rotation kept racing with another process; try again")

    def rewrap(self, keyring: Keyring) -> int:
        """Wrap every data key and the dedup key under ``keyring.current`` where not yet; adopt it.

        Refuses (before writing anything) if some data key cannot be unwrapped with ``keyring``:
        rewrapping must never leave a key reachable only through a master key about to be retired.
        Returns the number of wrappings written.
        """
        old = self._keyring
        self._keyring = keyring
        try:
            all_ids = self.data_key_ids()
            keys = {data_key_id: self._data_key_or_refuse(data_key_id) for data_key_id in all_ids}
        except BaseException:
            self._keyring = old
            raise
        master = keyring.current
        written = 0
        for data_key_id, key in sorted(keys.items()):
            name = names.data_key_name(data_key_id, master.key_id)
            wrapped = _seal_key(master, Kind.DATA_KEY, names.data_key_object_id(data_key_id), key)
            written += self._backend.put(name, wrapped)
        dedup = _seal_key(master, Kind.DEDUP_KEY, names.DEDUP_KEY_OBJECT_ID, self.dedup_key)
        written += self._backend.put(names.dedup_key_name(master.key_id), dedup)
        self.current_data_key_id = self._find_current_data_key()
        return written

    def derive_secret(self, purpose: str) -> bytes:
        """A 256-bit key for one purpose outside the blob store (MFA secrets, CSRF tokens).

        Derived (HKDF-SHA256) from the dedup key, which is stable across master-key rotations:
        a key taken from the master key itself would change at the first rotation and make every
        secret sealed under it unreadable. Distinct purposes give independent keys.
        """
        return HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"polaris-derived-secret",
            info=f"polaris {purpose} v1".encode(),
        ).derive(self.dedup_key)

    def _data_key_or_refuse(self, data_key_id: int) -> bytes:
        try:
            return self.data_key(data_key_id)
        except SealError as exc:
            raise IntegrityError(f"cannot rewrap data key {data_key_id}: {exc.reason}") from None

    def _load_dedup_key(self) -> bytes:
        candidates = [names.dedup_key_name(m.key_id) for m in self._keyring.keys]
        key, failures = self._unwrap_first(candidates)
        if key is not None:
            return key
        if failures:
            raise IntegrityError(f"the dedup key is unusable: {'; '.join(failures)}")
        present = [n.rsplit("/", 1)[1] for n in self._backend.list(names.DEDUP_KEYS)]
        if not present:
            raise NotFound("no blob store here: keys/dedup/ is empty (initialise it first)")
        raise IntegrityError(
            "wrong master key: the store's keys are wrapped under master key(s) "
            f"{', '.join(present)}, the keyring holds {', '.join(self._keyring.ids_hex)}"
        )

    def _find_current_data_key(self) -> int:
        readable = [
            data_key_id
            for data_key_id, masters in self.data_key_ids().items()
            if any(self._keyring.get(master_id) for master_id in masters)
        ]
        if not readable:
            raise IntegrityError(
                "no data key is wrapped under the keyring's master keys "
                f"{', '.join(self._keyring.ids_hex)}: wrong master key?"
            )
        return max(readable)


def _wrap_data_key(master: MasterKey, data_key_id: int) -> bytes:
    object_id = names.data_key_object_id(data_key_id)
    return _seal_key(master, Kind.DATA_KEY, object_id, os.urandom(KEY_SIZE))


def _seal_key(master: MasterKey, kind: Kind, object_id: str, key: bytes) -> bytes:
    return seal(
        kind=kind, key_id=master.key_id, key=master.secret, object_id=object_id, plaintext=key
    )
