"""Scale-out: 24 scenes against 1, 2 and 4 local Space stand-ins whose generation takes a fixed time,
then against the hosted (fal queue) stand-in with N requests in flight.

Prints wall time and the speed-up against one endpoint. Targets: at least 0.85 x N for N
endpoints; for the hosted stand-in (clips of T s, N in flight) at most 1.3 x ceil(scenes/N) x T
with the take checks off, 1.5 x with them on (every take a spoken line, judged as it lands).

    python bench/scale.py [--scenes 24] [--gen-seconds 1.5] [--hosted-seconds 5] [--parallel 8]
                          [--hosted-only] [--rounds 1]
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import record, stand_in_clip, stand_in_parser, timed_run, write_board  # noqa: E402

from tests.support.ovi_stand_in import StandIn  # noqa: E402
from tests.support.takes import fixture_scene, make_take, speech_fixture  # noqa: E402


def spoken_clip(folder: Path) -> Path:
    """An Ovi-shaped take saying the speech fixture's line (it passes every check)."""
    return make_take(folder / "spoken.mp4", sound=speech_fixture("line"), size=(576, 896))


def hosted(scenes: int, seconds: float, parallel: int, *, checks: bool = False) -> float:
    """Wall seconds for `generate --backend fal --parallel N` against the fal stand-in; with
    checks, every take is the spoken line of the speech fixture and is judged as it lands."""
    from f1gen import storyboard as storyboards
    from f1gen.backends import build_lanes, close_lanes
    from f1gen.config import load_settings
    from f1gen.runner import Runner, RunOptions
    from tests.support.hosted_stand_in import FalStandIn

    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        line = fixture_scene()["line"] if checks else None
        clip = spoken_clip(base) if checks else stand_in_clip(base)
        fal = FalStandIn(clip, key="bench-key", gen_seconds=seconds).start()
        try:
            os.environ["SSL_CERT_FILE"] = str(fal.ca_file)
            board = storyboards.load(write_board(base, scenes, speech=line)).storyboard
            settings = load_settings(environ=fal.env())
            workdir = base / "out-hosted"
            lanes = build_lanes("fal", settings=settings, workdir=workdir, parallel=parallel)
            started = time.perf_counter()
            try:
                runner = Runner(board, workdir=workdir, lanes=lanes)
                summary = runner.run(RunOptions(checks=checks, max_attempts=1))
            finally:
                close_lanes(lanes)
            wall = time.perf_counter() - started
            assert len(summary.done) == scenes and fal.script.duplicates() == 0, summary
            return wall
        finally:
            fal.stop()


def main() -> None:
    parser = stand_in_parser(__doc__, gen_seconds=1.5)
    parser.add_argument("--hosted-seconds", type=float, default=5.0, help="the hosted stand-in's T")
    parser.add_argument("--parallel", type=int, default=8, help="requests in flight (N)")
    parser.add_argument("--hosted-only", action="store_true")
    parser.add_argument("--rounds", type=int, default=1, help="hosted runs, checks off and on")
    args = parser.parse_args()
    print(
        f"hosted stand-in: {args.scenes} scenes, T = {args.hosted_seconds:g} s, N = {args.parallel}...",
        flush=True,
    )
    ideal = math.ceil(args.scenes / args.parallel) * args.hosted_seconds
    target = 1.3 * ideal
    walls: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.rounds):  # taking turns, so that load slows both alike
        walls["off"].append(hosted(args.scenes, args.hosted_seconds, args.parallel))
        walls["on"].append(hosted(args.scenes, args.hosted_seconds, args.parallel, checks=True))
    wall, checked = statistics.median(walls["off"]), statistics.median(walls["on"])
    print(f"hosted, checks off: {wall:.2f} s (ideal {ideal:.1f} s; target at most {target:.1f} s): "
          f"{'met' if wall <= target else 'NOT met'}")  # fmt: skip
    print(f"hosted, checks on: {checked:.2f} s ({checked / ideal:.2f}x the ideal; target 1.5x): "
          f"{'met' if checked <= 1.5 * ideal else 'NOT met'}; every round: {walls}")  # fmt: skip
    record("scale_hosted", {"scenes": args.scenes, "clip_seconds": args.hosted_seconds,
                            "parallel": args.parallel, "wall_seconds": round(wall, 2),
                            "checked_wall_seconds": round(checked, 2),
                            "target_seconds": target})  # fmt: skip
    if args.hosted_only:
        return
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
