"""What the benchmarks share: the repository on sys.path, a storyboard maker, the results file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results.json"


def write_board(folder: Path, scenes: int) -> Path:
    """A storyboard of `scenes` generated scenes over two portraits; its path."""
    from tests.conftest import draw_portrait

    for index in range(2):
        draw_portrait(folder / "images" / f"p{index}.png", color=("red", "teal")[index])
    data = {
        "title": "Bench",
        "scenes": [
            {"id": f"s{n}", "image": f"images/p{n % 2}.png", "action": f"Driver {n} waves.",
             "speech": f"Line {n}."}
            for n in range(1, scenes + 1)
        ],
    }  # fmt: skip
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def record(section: str, data: object) -> None:
    """Put one benchmark's figures into bench/results.json, beside the others'."""
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[section] = data
    RESULTS.write_text(json.dumps(existing, indent=2) + "\n")
