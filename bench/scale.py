"""Scale-out: 24 scenes against 1, 2 and 4 local Space stand-ins whose generation takes a fixed time.

Prints wall time and the speed-up against one endpoint. Target: at least 0.85 x N for N endpoints.

    python bench/scale.py [--scenes 24] [--gen-seconds 1.5]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import record, stand_in_clip, stand_in_parser, write_board  # noqa: E402

from f1gen import storyboard as storyboards  # noqa: E402
from f1gen.backends import make_backend  # noqa: E402
from f1gen.config import load_settings  # noqa: E402
from f1gen.runner import Runner, RunOptions  # noqa: E402
from tests.ovi_stand_in import StandIn  # noqa: E402


def one_run(board: Path, workdir: Path, spaces: list[StandIn]) -> float:
    """Seconds for a full run over the given endpoints into an empty work folder."""
    settings = load_settings({"ovi_space": ",".join(s.url for s in spaces)}, environ={})
    backend = make_backend("ovi", settings=settings, workdir=workdir)
    runner = Runner(storyboards.load(board).storyboard, workdir=workdir, backend=backend)
    started = time.perf_counter()
    try:
        summary = runner.run(RunOptions())
    finally:
        backend.close()
    assert len(summary.done) == len(runner.storyboard.scenes), summary
    return time.perf_counter() - started


def main() -> None:
    parser = stand_in_parser(__doc__, gen_seconds=1.5)
    args = parser.parse_args()
    results: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        clip = stand_in_clip(base)
        spaces = [StandIn(clip, gen_seconds=args.gen_seconds).start() for _ in range(4)]
        try:
            board = write_board(base, args.scenes)
            for count in (1, 2, 4):
                print(f"{count} endpoint(s)...", flush=True)
                results[count] = one_run(board, base / f"out-{count}", spaces[:count])
        finally:
            for space in spaces:
                space.stop()
    print(f"\n{args.scenes} scenes, {args.gen_seconds:.1f} s per clip at every stand-in")
    print(f"{'endpoints':<11}{'wall s':>9}{'speed-up':>10}{'target':>9}")
    ok = True
    for count, seconds in results.items():
        speedup = results[1] / seconds
        ok = ok and speedup >= 0.85 * count
        print(f"{count:<11}{seconds:>9.2f}{speedup:>9.2f}x{0.85 * count:>8.2f}x")
    print(f"\ntarget (speed-up at least 0.85 x N): {'met' if ok else 'NOT met'}")
    record(
        "scale",
        {
            "scenes": args.scenes,
            "gen_seconds": args.gen_seconds,
            "wall_seconds": results,
        },
    )


if __name__ == "__main__":
    main()
