"""Storage overhead: a 24-clip run against the local Space stand-in, with and without the bucket.

Uploads happen on a background thread while the next clip is generated, so storage should add
only the last upload to a run. Both configurations run in this process against the same
stand-in (a real Gradio server) and the same real S3 server (SeaweedFS on loopback), alternating, best of N each.

    python bench/storage.py [--scenes 24] [--gen-seconds 0.5] [--rounds 2]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import record, stand_in_clip, stand_in_parser, timed_run, write_board  # noqa: E402

from f1gen.storage import Storage  # noqa: E402
from tests.support.ovi_stand_in import StandIn  # noqa: E402
from tests.support.seaweedfs import WRITER, SeaweedFS  # noqa: E402


def main() -> None:
    parser = stand_in_parser(__doc__, gen_seconds=0.5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.update({"AWS_ACCESS_KEY_ID": WRITER.access_key, "AWS_SECRET_ACCESS_KEY": WRITER.secret_key, "AWS_DEFAULT_REGION": "us-east-1",
                       "GRADIO_ANALYTICS_ENABLED": "False"})  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        clip = stand_in_clip(base)
        space = StandIn(clip, gen_seconds=args.gen_seconds).start()
        s3 = SeaweedFS().start()
        try:
            s3.client(WRITER).create_bucket(Bucket="f1-video-clips")
            board = write_board(base, args.scenes)
            times: dict[str, list[float]] = {"storage off": [], "storage on": []}
            for round_ in range(args.rounds):
                for name in times:
                    storage = (
                        Storage(bucket="f1-video-clips", prefix=f"bench-{round_}", endpoint=s3.url)
                        if name == "storage on"
                        else None
                    )
                    workdir = base / f"out-{name.replace(' ', '-')}-{round_}"
                    print(f"round {round_ + 1}: {name}...", flush=True)
                    times[name].append(timed_run(board, workdir, [space.url], storage=storage))
        finally:
            space.stop()
            s3.stop()
    off, on = min(times["storage off"]), min(times["storage on"])
    overhead = (on - off) / off * 100
    print(f"\n{args.scenes} clips, stand-in {args.gen_seconds:.2f} s per clip")
    print(f"{'configuration':<14}{'best s':>9}{'median s':>10}")
    for name, values in times.items():
        print(f"{name:<14}{min(values):>9.2f}{statistics.median(values):>10.2f}")
    print(
        f"\nstorage adds {overhead:+.1f}% to the run (target: at most +5%): {'met' if overhead <= 5 else 'NOT met'}"
    )
    record(
        "storage",
        {
            "scenes": args.scenes,
            "gen_seconds": args.gen_seconds,
            **times,
            "overhead_percent": overhead,
        },
    )


if __name__ == "__main__":
    main()
