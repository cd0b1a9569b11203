"""What the benchmarks share: the repository on sys.path, a storyboard maker, the results file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results.json"

from tests.support.boards import write_board  # noqa: E402

__all__ = ["RESULTS", "record", "stand_in_clip", "stand_in_parser", "timed_run", "write_board"]


def record(section: str, data: object) -> None:
    """Put one benchmark's figures into bench/results.json, beside the others'."""
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[section] = data
    RESULTS.write_text(json.dumps(existing, indent=2) + "\n")


def timed_run(board: Path, workdir: Path, urls: list[str], *, storage: Any = None) -> float:
    """Seconds for a full `f1gen generate` (runner and Ovi backend, as the CLI drives them) over
    the endpoints at urls, into an empty work folder; checks that every clip was made."""
    import time

    from f1gen import storyboard as storyboards
    from f1gen.backends import build_lanes, close_lanes
    from f1gen.config import load_settings
    from f1gen.runner import Runner, RunOptions

    settings = load_settings({"ovi_space": ",".join(urls)}, environ={})
    lanes = build_lanes("ovi", settings=settings, workdir=workdir)
    loaded = storyboards.load(board).storyboard
    runner = Runner(loaded, workdir=workdir, lanes=lanes, storage=storage)
    started = time.perf_counter()
    try:
        # The stand-in's marker clips are a flash on black with a beep: no take checks for them.
        summary = runner.run(RunOptions(checks=False))
    finally:
        close_lanes(lanes)
    seconds = time.perf_counter() - started
    assert len(summary.done) == len(loaded.scenes), summary
    if storage is not None:
        assert len(summary.uploaded) == len(summary.done), summary
    return seconds


def stand_in_parser(doc: str | None, *, gen_seconds: float) -> argparse.ArgumentParser:
    """The options every Space stand-in benchmark takes: scenes and the stand-in's clip time.

    Also switches gradio's telemetry off for the benchmark's own clients.
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenes", type=int, default=24)
    parser.add_argument(
        "--gen-seconds", type=float, default=gen_seconds, help="the stand-in's time per clip"
    )
    return parser


def stand_in_clip(folder: Path) -> Path:
    """The Ovi-shaped clip every stand-in returns (moving picture, a sound bed)."""
    from tests.support import mediatools

    return mediatools.make_marker_clip(folder / "clip.mp4", marker_frame=24, busy=True).path
