"""Storyboards written to disk for benchmarks and fault campaigns."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.images import draw_portrait


def write_board(
    folder: Path, scenes: int, *, seeds: bool = False, speech: str | None = None
) -> Path:
    """A storyboard of `scenes` generated scenes over two portraits (seeds: every other scene
    sets its own seed), each saying speech (or its own short line); its path."""
    for index in range(2):
        draw_portrait(folder / "images" / f"p{index}.png", color=("red", "teal")[index])
    data = {
        "title": "Bench",
        "scenes": [
            {"id": f"s{n}", "image": f"images/p{n % 2}.png", "action": f"Driver {n} waves.",
             "speech": speech or f"Line {n}.", **({"seed": 1000 + n} if seeds and n % 2 else {})}
            for n in range(1, scenes + 1)
        ],
    }  # fmt: skip
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
