"""The master key file and keys from the environment."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from polaris.storage import (
    KeyFileError,
    Keyring,
    MasterKey,
    create_master_key_file,
    load_master_key_file,
    master_key_from_base64,
    save_master_key_file,
)
from polaris.storage.keys import encode_key_file, master_key_to_base64


def test_created_file_is_0600_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    created = create_master_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_master_key_file(path)
    assert loaded.current == created.current
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]


def test_refuses_to_replace_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    first = create_master_key_file(path)
    with pytest.raises(KeyFileError, match="already exists"):
        create_master_key_file(path)
    assert load_master_key_file(path).current == first.current


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_refuses_a_file_others_may_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    create_master_key_file(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match=f"mode {mode:04o}.*chmod 600") as raised:
        load_master_key_file(path)
    assert str(path) in str(raised.value)


def test_missing_and_damaged_files(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    with pytest.raises(KeyFileError, match="does not exist"):
        load_master_key_file(path)
    create_master_key_file(path)
    data = bytearray(path.read_bytes())
    data[30] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(KeyFileError, match="checksum mismatch"):
        load_master_key_file(path)
    path.write_bytes(bytes(data[:20]))
    with pytest.raises(KeyFileError, match="truncated"):
        load_master_key_file(path)
    path.write_bytes(b"X" * 90)
    with pytest.raises(KeyFileError, match="bad magic"):
        load_master_key_file(path)


def test_several_keys_round_trip_with_the_current_one(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    first = create_master_key_file(path)
    second = MasterKey.generate()
    save_master_key_file(path, first.with_key(second, make_current=True))
    loaded = load_master_key_file(path)
    assert loaded.current == second
    assert set(loaded.ids_hex) == {first.current.key_id_hex, second.key_id_hex}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert encode_key_file(loaded) == path.read_bytes()


def test_key_id_is_derived_from_the_key() -> None:
    secret = bytes(range(32))
    assert MasterKey.from_secret(secret).key_id == MasterKey.from_secret(secret).key_id
    assert MasterKey.from_secret(secret).key_id != MasterKey.generate().key_id
    with pytest.raises(KeyFileError, match="id does not match"):
        MasterKey(key_id=b"\0" * 8, secret=secret)


def test_secret_never_in_repr() -> None:
    key = MasterKey.generate()
    assert key.secret.hex() not in repr(key)
    assert key.secret.hex() not in repr(Keyring([key]))


def test_master_key_from_environment_text() -> None:
    secret = os.urandom(32)
    text = base64.b64encode(secret).decode()
    assert master_key_from_base64(f"  {text}\n") == secret
    assert master_key_from_base64(base64.urlsafe_b64encode(secret).decode()) == secret
    assert Keyring.from_secret(secret).current.secret == secret
    with pytest.raises(KeyFileError, match="32 bytes"):
        master_key_from_base64(base64.b64encode(b"short").decode())
    with pytest.raises(KeyFileError, match="not valid base64"):
        master_key_from_base64("not base64 at all!")


def test_keyring_from_several_base64_keys_first_is_current() -> None:
    new, old = MasterKey.generate(), MasterKey.generate()
    keyring = Keyring.from_base64(f"{master_key_to_base64(new)}, {master_key_to_base64(old)}")
    assert keyring.current == new
    assert keyring.get(old.key_id) == old


def test_current_key_cannot_be_removed() -> None:
    key = MasterKey.generate()
    with pytest.raises(KeyFileError, match="is current"):
        Keyring([key]).without(key.key_id)
