"""Password hashing and policy."""

from __future__ import annotations

import unicodedata

import pytest

from polaris.errors import ValidationFailed
from polaris.identity.passwords import Argon2Parameters, Passwords, check_policy


def test_production_defaults_meet_the_design_minimum() -> None:
    defaults = Argon2Parameters()
    assert (defaults.memory_kib, defaults.time_cost, defaults.parallelism) == (47104, 1, 1)
    stored = Passwords(defaults).hash("a long passphrase")
    assert stored.startswith("$argon2id$v=19$m=47104,t=1,p=1$")


def test_weaker_stored_hash_verifies_and_asks_for_rehash() -> None:
    weak = Passwords(Argon2Parameters(memory_kib=1024))
    strong = Passwords(Argon2Parameters(memory_kib=2048))
    stored = weak.hash("a long passphrase")
    result = strong.verify(stored, "a long passphrase")
    assert result.ok and result.needs_rehash
    assert not strong.verify(strong.hash("a long passphrase"), "a long passphrase").needs_rehash


def test_no_stored_hash_never_verifies() -> None:
    hasher = Passwords(Argon2Parameters(memory_kib=1024))
    assert not hasher.verify(None, "polaris-timing-equaliser").ok
    assert not hasher.verify("not a hash", "anything").ok


def test_nfd_password_matches_its_nfc_twin() -> None:
    hasher = Passwords(Argon2Parameters(memory_kib=1024))
    nfc = "ऩगर-क़ानून-2026"  # ऩ composes under NFC
    stored = hasher.hash(nfc)
    assert hasher.verify(stored, unicodedata.normalize("NFD", nfc)).ok


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "password_too_short"),
        ("x" * 129, "password_too_long"),
        ("qwerty123", "password_common"),
        ("Password1", "password_common"),
        ("ramesh.sharma", "password_is_username"),
    ],
)
def test_policy_refuses(password: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        check_policy(password, username="ramesh.sharma")
    assert raised.value.code == code


def test_policy_accepts_a_hindi_passphrase() -> None:
    check_policy("मेरा थाना सबसे अच्छा", username="ramesh")
