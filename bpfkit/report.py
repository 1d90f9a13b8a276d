"""The HTML report (placeholder until its issue lands)."""

from __future__ import annotations

from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``report`` command to the ``bpfkit`` parser (none yet)."""
    del subparsers
