"""The fault campaign: kill f1gen at random moments, take storage away, fill the disk, fuzz the
storyboard, and count what was lost, duplicated, crashed or leaked. Everything runs on this
machine: a local Gradio stand-in for the Space, a real S3 server (SeaweedFS) for MinIO.

    python bench/chaos.py [--kills 20] [--scenes 24] [--seed 7] [--fuzz 300]

Prints a summary table; every count but runs and faults must be 0 (exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.support.chaos import campaign


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--scenes", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fuzz", type=int, default=300)
    args = parser.parse_args()
    started = time.monotonic()
    tally = campaign(kills=args.kills, scenes=args.scenes, seed=args.seed, examples=args.fuzz,
                     report=lambda line: print(line, flush=True))  # fmt: skip
    print(f"\nfault campaign (seed {args.seed}) in {time.monotonic() - started:.0f} s")
    rows = [("runs", tally.runs), ("faults injected", tally.faults), ("clips lost", tally.clips_lost),
            ("duplicate generations", tally.duplicates), ("tracebacks", tally.tracebacks),
            ("secret leaks", tally.secret_leaks)]  # fmt: skip
    for name, value in rows:
        print(f"{name:<24}{value:>6}")
    for note in tally.notes:
        print(f"  {note}")
    bad = tally.clips_lost + tally.duplicates + tally.tracebacks + tally.secret_leaks
    print(f"\n{'held: nothing lost, duplicated, crashed or leaked' if not bad else 'FAILED'}")
    from common import record

    record("chaos", {"seed": args.seed, "kills": args.kills, **tally.as_dict()})
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
