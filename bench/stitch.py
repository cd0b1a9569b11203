"""Stitch benchmark: f1gen against MoviePy and a naive `ffmpeg -f concat -c copy`, same 24 clips.

Each contender runs in its own worker process so that its peak memory (its own and its
children's, ffmpeg included) is measured alone. Every output is checked for sync with marker
clips: the worst distance between a white frame and its beep.

    python bench/stitch.py [--clips 24] [--skip-moviepy]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import mediatools  # noqa: E402

CAPTION = "Yes! Simply lovely! Another win for the team!"


def _f1gen(clips: list[Path], output: Path, **options: object) -> None:
    from f1gen.stitch import CutOptions, Source, join

    sources = [Source(p.stem, p, caption=CAPTION) for p in clips]
    join(sources, output=output, scratch=output.parent / "scratch", options=CutOptions(**options))  # type: ignore[arg-type]


def run_f1gen(clips: list[Path], output: Path) -> None:
    _f1gen(clips, output, loudnorm=False)


def run_f1gen_loud(clips: list[Path], output: Path) -> None:
    _f1gen(clips, output)


def run_f1gen_publish(clips: list[Path], output: Path) -> None:
    _f1gen(clips, output, burn_captions=True)


def run_moviepy(clips: list[Path], output: Path) -> None:
    from moviepy import VideoFileClip, concatenate_videoclips

    opened = [VideoFileClip(str(p)) for p in clips]
    try:
        cut = concatenate_videoclips(opened)
        # MoviePy's defaults, as its users call it (its temporary sound file kept out of sight).
        with tempfile.TemporaryDirectory(prefix="moviepy-") as scratch:
            cut.write_videofile(str(output), codec="libx264", audio_codec="aac", logger=None,
                                temp_audiofile=str(Path(scratch) / "sound.mp4"))  # fmt: skip
    finally:
        for clip in opened:
            clip.close()


def run_moviepy_publish(clips: list[Path], output: Path) -> None:
    """The same publish cut as MoviePy users make it: TextClip captions, ffmpeg's loudnorm."""
    from moviepy import CompositeVideoClip, TextClip, VideoFileClip, concatenate_videoclips

    from f1gen.captions import font_path

    opened = [VideoFileClip(str(p)) for p in clips]
    try:
        captioned = []
        for clip in opened:
            text = TextClip(font=str(font_path()), text=CAPTION, font_size=37, color="white",
                            bg_color="black", method="caption", size=(484, None))  # fmt: skip
            text = text.with_duration(clip.duration).with_position(("center", 560))
            captioned.append(CompositeVideoClip([clip, text]))
        cut = concatenate_videoclips(captioned)
        rough = output.with_name("moviepy-rough.mp4")
        with tempfile.TemporaryDirectory(prefix="moviepy-") as scratch:
            cut.write_videofile(str(rough), codec="libx264", audio_codec="aac", logger=None,
                                temp_audiofile=str(Path(scratch) / "sound.mp4"))  # fmt: skip
    finally:
        for clip in opened:
            clip.close()
    # MoviePy has no loudness normalization: its users finish with one ffmpeg loudnorm pass.
    from f1gen.media import run_ffmpeg

    run_ffmpeg(["-i", rough, "-c:v", "copy", "-af", "loudnorm=I=-14:TP=-1.5:LRA=11", "-c:a", "aac",
                "-ar", "48000", output], what="moviepy loudnorm")  # fmt: skip


def run_naive(clips: list[Path], output: Path) -> None:
    from f1gen.media import run_ffmpeg

    listing = output.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in clips))
    run_ffmpeg(
        ["-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", output], what="naive concat"
    )


CONTENDERS = {
    "f1gen": run_f1gen,
    "f1gen +loudnorm": run_f1gen_loud,
    "moviepy": run_moviepy,
    "naive concat -c copy": run_naive,
    "f1gen publish": run_f1gen_publish,
    "moviepy publish": run_moviepy_publish,
}


def worker(name: str, clips: list[Path], output: Path) -> None:
    """Run one contender and print its time and peak memory as JSON."""
    started = time.perf_counter()
    CONTENDERS[name](clips, output)
    seconds = time.perf_counter() - started
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # fmt: skip
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024}))


def measure(name: str, clips: list[Path], output: Path) -> dict[str, float]:
    """Run a contender in a fresh process; add its worst A/V offset."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", name, "--output", str(output), *map(str, clips)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    worst, frames, beeps = mediatools.worst_offset(output)
    if worst == float("inf"):  # markers lost or doubled: measure what pairs up
        pairs = zip(frames, beeps, strict=False)
        worst = max((abs(f - b) for f, b in pairs), default=float("inf"))
    result["worst_av_ms"] = worst * 1000
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--skip-moviepy", action="store_true")
    parser.add_argument("--worker")
    parser.add_argument("--output", type=Path)
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.paths, args.output)
        return
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        print(
            f"making {args.clips} Ovi-spec marker clips (121 frames, 576x896, AAC 16 kHz)...",
            flush=True,
        )
        clips = [c.path for c in mediatools.make_marker_clips(base, count=args.clips, busy=True)]
        results = {}
        for name in CONTENDERS:
            if name.startswith("moviepy") and args.skip_moviepy:
                continue
            print(f"running {name}...", flush=True)
            results[name] = measure(name, clips, base / f"{name.replace(' ', '_')}.mp4")
    base_time = results["f1gen"]["seconds"]
    print(f"\nstitch of {args.clips} clips ({args.clips * 121 / 24:.1f} s of video)")
    print(f"{'contender':<22}{'time s':>9}{'vs f1gen':>10}{'peak MB':>10}{'worst A/V ms':>14}")
    for name, r in results.items():
        print(f"{name:<22}{r['seconds']:>9.2f}{r['seconds'] / base_time:>9.1f}x{r['peak_mb']:>10.0f}"
              f"{r['worst_av_ms']:>14.1f}")  # fmt: skip
    if "moviepy" in results:
        ratio = results["moviepy"]["seconds"] / base_time
        target = (
            ratio >= 30
            and results["f1gen"]["peak_mb"] < 200
            and results["f1gen"]["worst_av_ms"] <= 41.7
        )
        print(f"\nf1gen is {ratio:.1f}x faster than MoviePy; target (>=30x, <200 MB, sync within one frame): "
              f"{'met' if target else 'NOT met'}")  # fmt: skip
    from common import record

    record("stitch", {"clips": args.clips, **results})


if __name__ == "__main__":
    main()
