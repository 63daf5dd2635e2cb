"""Wording shared by the messages of the data and preprocessing stages."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """`n` and a regular noun that agrees with it: "1 clip", "2 clips", "0 clips"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
