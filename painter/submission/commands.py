"""Command-line verbs of this area (placeholder until the area lands)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's verbs to `python -m painter`."""
