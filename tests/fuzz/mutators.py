"""Placeholder: the structure-aware mutators (filled in below)."""
