"""The admin tests use the drive's fixture: an app over a real instance, people with tokens."""

from __future__ import annotations

from tests.drive.conftest import drive

__all__ = ["drive"]
