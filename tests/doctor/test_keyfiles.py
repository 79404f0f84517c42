from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from polaris.doctor import keyfiles
from polaris.doctor.findings import DoctorContext, Severity
from tests.doctor.conftest import by_id


def test_key_files_readable_by_others_or_missing_are_critical(
    make_ctx: Callable[..., DoctorContext], tmp_path: Path
) -> None:
    (tmp_path / "master.key").write_text("k")
    (tmp_path / "master.key").chmod(0o644)
    found = by_id(keyfiles.check(make_ctx()))
    master, audit = found["keys.master_file_mode"], found["keys.audit_file_mode"]
    assert master.severity is Severity.CRITICAL and master.value == "mode 0644"
    assert "chmod 600" in master.action
    assert audit.severity is Severity.CRITICAL and audit.value == "missing"


def test_owner_only_files_and_keys_from_the_environment_pass(
    make_ctx: Callable[..., DoctorContext], tmp_path: Path
) -> None:
    (tmp_path / "master.key").write_text("k")
    (tmp_path / "master.key").chmod(0o600)
    found = by_id(keyfiles.check(make_ctx(audit_key=SecretStr("x"))))
    assert found["keys.master_file_mode"].severity is Severity.OK
    assert found["keys.master_file_mode"].value == "mode 0600"
    assert found["keys.audit_file_mode"].severity is Severity.OK
    assert "POLARIS_AUDIT_KEY" in found["keys.audit_file_mode"].value
