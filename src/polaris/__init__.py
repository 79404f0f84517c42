"""Polaris: a sovereign, self-hosted document cloud and messenger."""

from __future__ import annotations

__version__ = "0.1.0"
