"""Orchestration overhead, start-up and resume cost, against the local Space stand-in.

- overhead: `f1gen generate` (the runner and the Ovi backend, as the CLI drives them) on 12 scenes
  versus the smallest script doing the same calls: a loop of `client.predict` and a file copy.
  Same stand-in, same process, same prepared images; the two take turns for 3 rounds and the
  medians are compared (the machine is shared: one round alone says little; 12 scenes keep
  `make bench` under 10 minutes, and weigh f1gen's start and last check twice as much as 24
  would). The take checks are off: the stand-in's marker clip has no voice to judge. Target:
  f1gen at most 5% slower.
- start-up: `f1gen --help` and `f1gen status` versus `python -c "import typer"`, medians of 7.
- resume: `f1gen generate` on the finished storyboard (everything skipped), and proof that it
  made no request at all to the Space.

    python bench/overhead.py [--scenes 12] [--gen-seconds 2.0] [--rounds 3]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import record, stand_in_clip, stand_in_parser, timed_run, write_board  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from f1gen import images  # noqa: E402
from f1gen import storyboard as storyboards  # noqa: E402
from f1gen.backends.traits import OVI_SPEC  # noqa: E402
from f1gen.prompts import build  # noqa: E402
from tests.support.ovi_stand_in import StandIn  # noqa: E402

F1GEN = [sys.executable, "-m", "f1gen"]


def minimal(board: Path, space: StandIn, out: Path) -> float:
    """The smallest script that makes the same clips: predict in a loop, copy the file."""
    loaded = storyboards.load(board).storyboard
    prepared = [
        images.prepare(s.image, fit=s.fit, size=OVI_SPEC.size, cache_dir=out / "images")
        for s in loaded.scenes
        if s.image
    ]
    started = time.perf_counter()
    client = Client(space.url, verbose=False, download_files=str(out / "dl"))
    for scene, image in zip(loaded.scenes, prepared, strict=True):
        result = client.predict(text_prompt=build(scene), sample_steps=40, image=handle_file(str(image)),
                                api_name="/generate_scene")  # fmt: skip
        shutil.copyfile(result, out / f"{scene.id}.mp4")
    client.close()
    return time.perf_counter() - started


def timed(command: list[str], *, cwd: Path, env: dict[str, str], runs: int = 7) -> float:
    """Median wall seconds of a command."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = stand_in_parser(__doc__, gen_seconds=2.0)
    parser.add_argument("--rounds", type=int, default=3, help="turns of each contender")
    parser.set_defaults(scenes=12)
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        clip = stand_in_clip(base)
        space = StandIn(clip, gen_seconds=args.gen_seconds).start()
        try:
            board = write_board(base, args.scenes)
            bares, ours = [], []
            for turn in range(1, args.rounds + 1):
                print(f"round {turn}/{args.rounds}: minimal script...", flush=True)
                bares.append(minimal(board, space, base / f"minimal-{turn}"))
                print(f"round {turn}/{args.rounds}: f1gen...", flush=True)
                out = "out" if turn == args.rounds else f"out-{turn}"  # the last: resumed below
                ours.append(timed_run(board, base / out / board.stem, [space.url]))
            bare, mine = statistics.median(bares), statistics.median(ours)
            results["overhead"] = {"rounds": args.rounds, "minimal_seconds": bares,
                                   "f1gen_seconds": ours, "minimal_median": bare,
                                   "f1gen_median": mine, "ratio": mine / bare,
                                   "overhead_percent": (mine - bare) / bare * 100}  # fmt: skip

            env = {**os.environ, "OVI_SPACE": space.url, "PYTHONPATH": str(ROOT)}
            print("start-up and resume...", flush=True)
            startup = {
                "python -c 'import typer'": timed(
                    [sys.executable, "-c", "import typer"], cwd=base, env=env
                ),
                "f1gen --help": timed([*F1GEN, "--help"], cwd=base, env=env),
                "f1gen status": timed([*F1GEN, "status", str(board)], cwd=base, env=env),
            }
            before = len(space.requests)
            resume = timed([*F1GEN, "generate", str(board)], cwd=base, env=env, runs=3)
            requests = len(space.requests) - before
            results["startup"] = startup
            results["resume"] = {"seconds": resume, "space_requests": requests}
        finally:
            space.stop()
    overhead = results["overhead"]
    assert isinstance(overhead, dict)
    print(f"\n{args.scenes} clips, stand-in {args.gen_seconds:.1f} s per clip, "
          f"{args.rounds} rounds (median)")  # fmt: skip
    print(f"{'run':<34}{'median s':>9}  rounds")
    for name, key in (("minimal predict loop", "minimal"), ("f1gen generate", "f1gen")):
        each = " ".join(f"{s:.2f}" for s in overhead[f"{key}_seconds"])
        print(f"{name:<34}{overhead[f'{key}_median']:>9.2f}  {each}")
    print(f"f1gen / minimal {overhead['ratio']:.3f}: overhead {overhead['overhead_percent']:+.1f}% "
          f"(target at most +5%): {'met' if overhead['overhead_percent'] <= 5 else 'NOT met'}\n")  # fmt: skip
    base_import = startup["python -c 'import typer'"]
    print(f"{'start-up (median of 7)':<34}{'seconds':>9}{'vs import typer':>17}")
    for name, seconds in startup.items():
        print(f"{name:<34}{seconds:>9.3f}{seconds / base_import:>16.1f}x")
    print(f"\nresume of the finished storyboard: {resume:.3f} s, {requests} requests to the Space")
    for section, figures in results.items():
        record(section, figures)


if __name__ == "__main__":
    main()
