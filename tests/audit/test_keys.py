"""The checkpoint signing key: file mode, refusal of loose permissions, ids, public export."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from polaris.audit.keys import (
    AuditKeyError,
    AuditSigner,
    create_key_file,
    export_public_key,
    key_id_of,
    load_key_file,
    load_public_key,
    signer_from_text,
)


def test_a_created_key_file_is_private_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    created = create_key_file(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_key_file(path)
    assert loaded.key_id == created.key_id
    message = b"checkpoint"
    created.public_key.verify(loaded.sign(message), message)


def test_create_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    first = create_key_file(path)
    with pytest.raises(AuditKeyError, match="exists"):
        create_key_file(path)
    assert load_key_file(path).key_id == first.key_id


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_a_key_file_others_can_reach_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "audit.key"
    create_key_file(path)
    os.chmod(path, mode)
    with pytest.raises(AuditKeyError, match="chmod 600"):
        load_key_file(path)


def test_a_missing_or_foreign_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditKeyError, match="cannot open"):
        load_key_file(tmp_path / "absent.key")
    not_ed25519 = tmp_path / "ec.key"
    pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    not_ed25519.write_bytes(pem)
    not_ed25519.chmod(0o600)
    with pytest.raises(AuditKeyError, match="Ed25519"):
        load_key_file(not_ed25519)
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"not a key")
    garbage.chmod(0o600)
    with pytest.raises(AuditKeyError, match="usable"):
        load_key_file(garbage)
    with pytest.raises(AuditKeyError, match="regular file"):
        os.chmod(tmp_path, 0o700)
        load_key_file(tmp_path)


def test_the_key_id_is_a_short_stable_hash_of_the_public_key() -> None:
    signer = AuditSigner.generate()
    assert signer.key_id == key_id_of(signer.public_key)
    assert len(signer.key_id) == 16
    assert signer.key_id != AuditSigner.generate().key_id


def test_the_public_key_round_trips_through_pem() -> None:
    signer = AuditSigner.generate()
    pem = export_public_key(signer)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert key_id_of(load_public_key(pem)) == signer.key_id
    assert export_public_key(signer.public_key) == pem
    with pytest.raises(AuditKeyError):
        load_public_key("not pem")


def test_the_environment_form_is_the_key_files_key_in_base64_or_pem(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    created = create_key_file(path)
    raw = created.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert signer_from_text(base64.b64encode(raw).decode() + "\n").key_id == created.key_id
    assert signer_from_text(path.read_text()).key_id == created.key_id
    # Any 32 random bytes are an Ed25519 key: ``head -c 32 /dev/urandom | base64`` makes one.
    assert len(signer_from_text(base64.b64encode(os.urandom(32)).decode()).key_id) == 16


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not base64!", "neither base64 nor a PEM key"),
        (base64.b64encode(b"short").decode(), "must decode to 32 bytes, not 5"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "usable private key"),
    ],
)
def test_an_unusable_environment_key_is_refused_saying_why(text: str, reason: str) -> None:
    with pytest.raises(AuditKeyError, match=reason):
        signer_from_text(text)
