"""An app connected through the login flow v2 is named by its own short name on the page and in
the list of app passwords, not by its whole User-Agent (``identity.login_flow.client_name``)."""

from __future__ import annotations

import pytest

from polaris.identity.login_flow import CLIENT_NAME_MAX, client_name


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        (
            "Mozilla/5.0 (Linux) mirall/3.7.3git (Nextcloud, debian-6.1.0-amd64 "
            "ClientArchitecture: x86_64 OsArchitecture: x86_64)",
            "Nextcloud desktop 3.7.3 (Linux)",
        ),
        (
            "Mozilla/5.0 (Windows) mirall/3.12.0 (Nextcloud, windows-10.0.19045 "
            "ClientArchitecture: x86_64 OsArchitecture: x86_64)",
            "Nextcloud desktop 3.12.0 (Windows)",
        ),
        ("Mozilla/5.0 (Android) Nextcloud-android/3.26.0", "Nextcloud Android 3.26.0"),
        ("rclone/v1.60.1", "rclone/v1.60.1"),
        ("", "Nextcloud app"),
        (None, "Nextcloud app"),
        ("a\x00b\u202ec", "abc"),
    ],
)
def test_apps_are_named_by_their_short_name(agent: str | None, name: str) -> None:
    assert client_name(agent) == name


def test_an_unknown_long_agent_is_cut() -> None:
    assert len(client_name("x" * 1000)) == CLIENT_NAME_MAX
