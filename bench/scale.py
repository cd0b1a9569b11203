"""Scale-out: 24 scenes against 1, 2 and 4 local Space stand-ins whose generation takes a fixed time.

Prints wall time and the speed-up against one endpoint. Target: at least 0.85 x N for N endpoints.

    python bench/scale.py [--scenes 24] [--gen-seconds 1.5]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import record, stand_in_clip, stand_in_parser, timed_run, write_board  # noqa: E402

from tests.support.ovi_stand_in import StandIn  # noqa: E402


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
                results[count] = timed_run(
                    board, base / f"out-{count}", [s.url for s in spaces[:count]]
                )
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
