"""Command-line group for :mod:`bpfkit.btf` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add this module's commands to the bpfkit parser (none yet)."""
    del subparsers


def _unused(args: argparse.Namespace) -> int:  # pragma: no cover
    return 0
