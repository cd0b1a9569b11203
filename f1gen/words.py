"""Counting words for messages: "1 clip", "2 clips"."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """'1 clip', '3 clips' (plural: the word when it is not noun + 's')."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
