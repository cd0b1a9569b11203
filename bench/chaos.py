"""The fault campaign: kill f1gen at random moments, take storage away, fill the disk, fuzz the
storyboard, and count what was lost, duplicated, crashed or leaked; then kill -9 runs on the
hosted stand-ins (fal, Replicate) with --seed, scene seeds and several takes, and count the
requests paid twice. Everything runs on this machine: a local Gradio stand-in for the Space, a
real S3 server (SeaweedFS) for MinIO, stand-ins of fal's queue and Replicate's API.

    python bench/chaos.py [--kills 20] [--scenes 24] [--seed 7] [--fuzz 300] [--hosted-kills 10]

Prints summary tables; every count but runs, kills, faults and paid must be 0 (exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.support.chaos import campaign
from tests.support.hosted_chaos import hosted_kill_campaign

# (takes, --seed, scene seeds) of the hosted campaigns.
HOSTED_RUNS = [(1, None, False), (2, 5, False), (3, None, True), (2, 5, True)]


def hosted(kills: int, seed: int, drops: int = 3) -> int:
    """kill -9 campaigns on both hosted stand-ins (the first `drops` runs of each also lose the
    reply to one submit); the count of what must be 0 and is not."""
    from tests.support import mediatools

    bad = 0
    print(f"\n{'provider':<10}{'takes':>6}{'--seed':>7}{'scene seeds':>12}{'runs':>6}{'kills':>6}"
          f"{'paid':>6}{'paid twice':>11}{'held back':>10}{'done':>6}")  # fmt: skip
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="f1gen-hosted-chaos-") as folder:
        base = Path(folder)
        clip = mediatools.make_marker_clip(base / "clip.mp4", marker_frame=24).path
        for n, (takes, run_seed, scene_seeds) in enumerate(HOSTED_RUNS):
            for provider in ("fal", "replicate"):
                where = base / f"{provider}-{n}"
                where.mkdir()
                tally = hosted_kill_campaign(
                    where, clip, provider=provider, kills=kills, scenes=8 if takes == 1 else 4,
                    seed=seed + n, takes=takes, run_seed=run_seed, scene_seeds=scene_seeds,
                    drops=drops,
                )  # fmt: skip
                print(f"{provider:<10}{takes:>6}{run_seed or '-':>7}{'yes' if scene_seeds else 'no':>12}"
                      f"{tally.runs:>6}{tally.kills:>6}{tally.submissions:>6}{tally.paid_twice:>11}"
                      f"{tally.held_back:>10}{tally.done:>6}", flush=True)  # fmt: skip
                for note in tally.notes:
                    print(f"  {note}")
                bad += tally.paid_twice + tally.tracebacks + tally.secret_leaks
                rows.append({"provider": provider, "takes": takes, "run_seed": run_seed,
                             "scene_seeds": scene_seeds, **tally.__dict__})  # fmt: skip
    from common import record

    record("chaos-hosted", {"seed": seed, "kills": kills, "campaigns": rows})
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--scenes", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fuzz", type=int, default=300)
    parser.add_argument("--hosted-kills", type=int, default=10, help="kills per hosted campaign")
    args = parser.parse_args()
    started = time.monotonic()
    tally = campaign(kills=args.kills, scenes=args.scenes, seed=args.seed, examples=args.fuzz,
                     report=lambda line: print(line, flush=True), takes=2,
                     seeds=True)  # fmt: skip
    print(f"\nfault campaign (seed {args.seed}, scene seeds, 2 takes) in "
          f"{time.monotonic() - started:.0f} s")  # fmt: skip
    rows = [("runs", tally.runs), ("faults injected", tally.faults), ("clips lost", tally.clips_lost),
            ("duplicate generations", tally.duplicates), ("tracebacks", tally.tracebacks),
            ("secret leaks", tally.secret_leaks)]  # fmt: skip
    for name, value in rows:
        print(f"{name:<24}{value:>6}")
    for note in tally.notes:
        print(f"  {note}")
    bad = tally.clips_lost + tally.duplicates + tally.tracebacks + tally.secret_leaks
    from common import record

    record("chaos", {"seed": args.seed, "kills": args.kills, **tally.as_dict()})
    started = time.monotonic()
    bad += hosted(args.hosted_kills, args.seed)
    print(f"hosted kill campaigns in {time.monotonic() - started:.0f} s")
    print(
        f"\n{'held: nothing lost, duplicated, paid twice, crashed or leaked' if not bad else 'FAILED'}"
    )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
