"""Typed face of the Rust extension `xiaodian._core` (checked against it by mypy.stubtest).

Errors are raised as `xiaodian.errors` classes: `InvalidArgument` (a `ValueError`) lists every
violated rule in `.violations`, with field paths relative to the value checked.
"""

from typing import Any

__all__ = ["__version__", "default_ranking_profile", "validate_ranking_profile"]

__version__: str

def default_ranking_profile() -> dict[str, Any]:
    """The built-in default ranking profile, keyed by `xiaodian.v1.RankingProfile` field names."""

def validate_ranking_profile(profile: dict[str, Any]) -> None:
    """Raises `xiaodian.errors.InvalidArgument` listing every violated rule of the profile."""
