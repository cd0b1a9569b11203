"""Stitch benchmark: `f1gen stitch` against the physical floor, MoviePy and a naive concat.

The floor is the least any tool must do for this cut: one AAC encode of the whole joined sound
(already decoded, 48 kHz float stereo, the same encoder settings) plus a stream copy of the
picture, in one ffmpeg process. f1gen is timed as a user runs it (`f1gen stitch` on a work folder
whose 24 scenes are done: start-up, checks, the cut and its side files), interleaved with the
floor over several rounds; medians are compared, so a busy machine slows both alike.

Each contender runs in its own worker process so that its peak memory (its own and its
children's, ffmpeg included) is measured alone. Every output is checked for sync with marker
clips: the worst distance between a white frame and its beep. Last, peak memory at 8 and at 24
clips for the cuts that decode the picture (crossfades, footage): it should not grow.

A cut delivered in another frame (`--for shorts`: 1080x1920, each 576x896 clip fitted over a
blurred copy of itself) must encode its picture: its floor is one ffmpeg that encodes the joined
picture, scaled and padded to 1080x1920 (the cheapest fit), with the cut's x264 settings, and the
joined sound; f1gen's join makes the same cut (no loudness). The two are interleaved over
--frame-rounds, on the first --frame-clips clips (an encode at that size is slow: `make bench`
stays within its time).

    python bench/stitch.py [--clips 24] [--rounds 5] [--frame-rounds 2] [--frame-clips 6]
                           [--skip-moviepy]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CAPTION = "Yes! Simply lovely! Another win for the team!"
TARGETS = {"f1gen": 1.5, "f1gen +loudnorm": 2.5, "f1gen seams": 2.0, "f1gen mix": 3.0}
PLAIN = ("--no-seams", "--no-music", "--no-ambience")  # the cut as it was before the mix
SOUND_ONLY = ("--no-music", "--no-ambience")
FRAME_TARGETS = {"f1gen --for shorts": 1.5}  # against the floor at that size


def _f1gen_cli(*options: str) -> Callable[[list[Path], Path], None]:
    """`f1gen stitch` on the prepared work folder (the clips' folder's parent), into output."""

    def run(clips: list[Path], output: Path) -> None:
        work = clips[0].parents[1]  # <base>/out/clips/*.mp4
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(
            [sys.executable, "-m", "f1gen", "stitch", str(work.parent / "bench.yaml"),
             "--workdir", str(work), "-o", str(output), *options],
            check=True, capture_output=True, env=env,
        )  # fmt: skip

    return run


def run_floor(clips: list[Path], output: Path) -> None:
    """One ffmpeg: encode the joined sound (decoded beforehand), copy the picture."""
    from f1gen.media import run_ffmpeg

    prepared = clips[0].parents[2] / "floor"
    run_ffmpeg(["-i", prepared / "track.wav", "-f", "concat", "-safe", "0", "-i", prepared / "list.txt",
                "-map", "0:a", "-map", "1:v", "-c:v", "copy", "-c:a", "aac", "-aac_coder", "fast",
                "-b:a", "192k", "-movflags", "+faststart", output], what="floor")  # fmt: skip


def run_floor_frame(clips: list[Path], output: Path) -> None:
    """One ffmpeg: encode the joined sound and the joined picture at 1080x1920 (scaled to fit,
    padded), with the cut's own x264 settings."""
    from f1gen.media import run_ffmpeg

    listing = output.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in clips))
    fit = "scale=1080:1920:force_original_aspect_ratio=decrease,pad=1080:1920:(ow-iw)/2:(oh-ih)/2"
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", listing, "-map", "0:a", "-map", "0:v",
                "-vf", fit, "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k",
                "-ar", "48000", "-ac", "2", "-movflags", "+faststart", output],
               what="floor 1080x1920")  # fmt: skip


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


def _join(**options: object) -> Callable[[list[Path], Path], None]:
    """f1gen's library join; every third clip is footage when options say footage=True, and
    preset names a --for preset."""

    def run(clips: list[Path], output: Path) -> None:
        from f1gen.stitch import PRESETS, CutOptions, Source, join
        from f1gen.stitch.mix import Layer

        cut = dict(options)
        footage = bool(cut.pop("footage", False))
        if "preset" in cut:  # as --for does: the platform's frame and caption zone
            chosen = PRESETS[str(cut.pop("preset"))]
            cut.update(frame=chosen.size, safe=chosen.safe)
        sound = clips[0].parents[2] / "sound"
        layers = [Layer(sound / "music.wav", -18.0, 12.0, fade_in=1.0, fade_out=2.0),
                  Layer(sound / "room.wav", -20.0, 6.0)] if cut.pop("layers", False) else []  # fmt: skip
        sources = [Source(p.stem, p, caption=CAPTION, footage=footage and n % 3 == 1, speech=())
                   for n, p in enumerate(clips)]  # fmt: skip
        join(sources, output=output, scratch=output.parent / "scratch",
             options=CutOptions(**{"loudnorm": False, **cut}), layers=layers)  # type: ignore[arg-type]  # fmt: skip

    return run


CONTENDERS: dict[str, Callable[[list[Path], Path], None]] = {
    "floor": run_floor,
    "f1gen": _f1gen_cli("--no-loudnorm", *PLAIN),
    "f1gen +loudnorm": _f1gen_cli(*PLAIN),
    "f1gen seams": _f1gen_cli("--no-loudnorm", *SOUND_ONLY),
    "f1gen mix": _f1gen_cli(),  # seams, one room tone, music and a bed, loudness
    "f1gen publish": _f1gen_cli("--captions", "burn", *PLAIN),
    "floor 1080x1920": run_floor_frame,
    "f1gen --for shorts": _join(preset="shorts", seams=False),
    "f1gen shorts publish": _join(preset="shorts", loudnorm=True, burn_captions=True, seams=False),
    "moviepy": run_moviepy,
    "moviepy publish": run_moviepy_publish,
    "naive concat -c copy": run_naive,
    "join copy": _join(seams=False),
    "join crossfade": _join(crossfade=0.5, seams=False),
    "join footage": _join(footage=True, seams=False),
    "join mix": _join(layers=True),
}
TIMED = ("floor", "f1gen", "f1gen +loudnorm", "f1gen seams", "f1gen mix")  # interleaved
FRAMED = ("floor 1080x1920", "f1gen --for shorts")  # interleaved over the frame rounds
ONCE = ("f1gen publish", "f1gen shorts publish", "moviepy", "moviepy publish",
        "naive concat -c copy")  # fmt: skip
SCALING = ("join copy", "join crossfade", "join footage", "join mix")


def worker(name: str, clips: list[Path], output: Path) -> None:
    """Run one contender and print its time and peak memory as JSON."""
    started = time.perf_counter()
    CONTENDERS[name](clips, output)
    seconds = time.perf_counter() - started
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))  # fmt: skip
    peak_kb = max(own.ru_maxrss, children.ru_maxrss)
    # CPU time, its own and its children's (ffmpeg): what a busy machine does not inflate
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024, "cpu_s": cpu}))


def _child(*args: str | Path) -> object:
    """Run this script with args in a fresh process; the JSON it prints last.

    Everything heavy (making clips, decoding outputs) happens in such children: Linux hands a
    new process its parent's peak memory as its own starting peak, so this process stays small.
    """
    done = subprocess.run([sys.executable, __file__, *map(str, args)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(name: str, clips: list[Path], output: Path) -> dict[str, float]:
    """Run a contender in a fresh process: its seconds and peak memory."""
    result = _child("--worker", name, "--output", output, *clips)
    assert isinstance(result, dict)
    return result


def worst_av_ms(output: Path) -> float:
    """The worst distance between a white frame and its beep in output, in ms."""
    from tests.support import mediatools

    worst, frames, beeps = mediatools.worst_offset(output)
    if worst == float("inf"):  # markers lost or doubled: measure what pairs up
        pairs = zip(frames, beeps, strict=False)
        worst = max((abs(f - b) for f, b in pairs), default=float("inf"))
    return worst * 1000


def write_sounds(folder: Path) -> None:
    """A music file (20 s of chords over a soft pulse) and an ambience bed (7 s of low rumble),
    both under 1 kHz so that the markers' beeps still stand out for the sync probe."""
    import wave

    import numpy as np

    rate = 48_000
    rng = np.random.default_rng(5)
    folder.mkdir()
    for name, seconds in (("music.wav", 20.0), ("room.wav", 7.0)):
        t = np.arange(round(seconds * rate)) / rate
        if name == "music.wav":
            chords = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 110.0))
            sound = chords * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
        else:
            noise = rng.standard_normal(len(t))
            sound = np.convolve(noise, np.ones(48) / 48, mode="same")
        sound = sound / np.abs(sound).max() * 0.5
        with wave.open(str(folder / name), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes((np.repeat(sound[:, None], 2, axis=1) * 32767).astype("<i2").tobytes())


def encoded_loudness(output: Path) -> list[float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of the encoded cut, by ffmpeg's ebur128."""
    import re

    from f1gen.media import run_ffmpeg

    stderr = run_ffmpeg(["-loglevel", "info", "-i", output, "-af", "ebur128=peak=true",
                         "-f", "null", "-"], what="loudness")  # fmt: skip
    summary = stderr[stderr.rfind("Summary:") :]
    found = [re.search(p, summary) for p in (r"I:\s+(-?[\d.]+) LUFS", r"Peak:\s+(-?[\d.]+) dBFS")]
    return [float(m.group(1)) if m else float("nan") for m in found]


def prepare(base: Path, count: int) -> list[Path]:
    """A work folder whose storyboard's scenes are done with marker clips (through the runner, as
    generated takes), and the floor's inputs: the joined sound decoded, the clips listed.

    The storyboard has music and an ambience bed (the rows without them turn them off). The
    scripted backend is not judged by the take checks, which keep where speech is for the mix:
    one stitch, first, finds it and keeps it, as the checks would have during generate."""
    from f1gen import storyboard as storyboards
    from f1gen.media import run_ffmpeg
    from f1gen.runner import Runner, RunOptions
    from tests.support import mediatools
    from tests.support.boards import write_board
    from tests.support.scripted import ScriptedBackend, good

    (base / "markers").mkdir()
    markers = mediatools.make_marker_clips(base / "markers", count=count, busy=True)
    board = write_board(base, count)
    write_sounds(base / "sound")
    with board.open("a") as text:
        text.write("music: {file: sound/music.wav}\nambience: sound/room.wav\n")
    loaded = storyboards.load(board).storyboard
    backend = ScriptedBackend([good(m) for m in markers])
    summary = Runner(loaded, workdir=base / "out", lanes=[backend]).run(RunOptions())
    assert len(summary.done) == count, summary
    clips = sorted((base / "out" / "clips").glob("*.mp4"))
    _f1gen_cli("--no-loudnorm")(clips, base / "warm.mp4")
    floor = base / "floor"
    floor.mkdir()
    (floor / "list.txt").write_text("".join(f"file '{c}'\n" for c in clips))
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", floor / "list.txt", "-map", "0:a", "-ar", "48000",
                "-ac", "2", "-c:a", "pcm_f32le", floor / "track.wav"], what="floor track")  # fmt: skip
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frame-rounds", type=int, default=2, help="rounds at 1080x1920")
    parser.add_argument("--frame-clips", type=int, default=6, help="clips cut at 1080x1920")
    parser.add_argument("--small", type=int, default=8, help="clips in the memory comparison")
    parser.add_argument("--skip-moviepy", action="store_true")
    parser.add_argument("--worker")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--prepare", type=Path)
    parser.add_argument("--sync", type=Path)
    parser.add_argument("--loudness", type=Path)
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.paths, args.output)
        return
    if args.prepare:
        print(json.dumps([str(p) for p in prepare(args.prepare, args.clips)]))
        return
    if args.sync:
        print(json.dumps(worst_av_ms(args.sync)))
        return
    if args.loudness:
        print(json.dumps(encoded_loudness(args.loudness)))
        return
    started = time.perf_counter()
    runs: dict[str, list[dict[str, float]]] = {}
    sync: dict[str, float] = {}
    loudness: dict[str, list[float]] = {}
    scaling: dict[str, dict[int, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        print(f"making {args.clips} Ovi-spec marker clips (121 frames, 576x896, AAC 16 kHz) and a "
              "work folder where they are done...", flush=True)  # fmt: skip
        made = _child("--prepare", base, "--clips", str(args.clips))
        assert isinstance(made, list)
        clips = [Path(p) for p in made]
        outputs = base / "outputs"
        outputs.mkdir()

        def run(name: str, clips: list[Path], tag: str) -> dict[str, float]:
            folder = outputs / f"{name.replace(' ', '_')}-{tag}"
            folder.mkdir()
            result = measure(name, clips, folder / "cut.mp4")
            runs.setdefault(name, []).append(result)
            if name not in sync and not name.startswith("floor"):  # floors join sound naively
                worst = _child("--sync", folder / "cut.mp4")
                assert isinstance(worst, float)
                sync[name] = worst
                if name in ("f1gen +loudnorm", "f1gen mix"):
                    made = _child("--loudness", folder / "cut.mp4")
                    assert isinstance(made, list)
                    loudness[name] = made
            return result

        for round_ in range(args.rounds):
            # the loudness cut takes longest and varies least: three rounds of it are enough
            names = (
                TIMED
                if round_ < 3
                else tuple(n for n in TIMED if "loud" not in n and "mix" not in n)
            )
            print(f"round {round_ + 1}/{args.rounds}: {', '.join(names)}...", flush=True)
            for name in names:
                run(name, clips, str(round_))
        for round_ in range(args.frame_rounds):
            print(f"frame round {round_ + 1}/{args.frame_rounds}: {', '.join(FRAMED)}...",
                  flush=True)  # fmt: skip
            for name in FRAMED:
                run(name, clips[: args.frame_clips], f"frame{round_}")
        for name in ONCE:
            if name.startswith("moviepy") and args.skip_moviepy:
                continue
            if name == "f1gen shorts publish":
                if args.frame_rounds:
                    print(f"running {name}...", flush=True)
                    run(name, clips[: args.frame_clips], "once")
                continue
            print(f"running {name}...", flush=True)
            run(name, clips, "once")
        for name in SCALING:
            print(f"{name}: {args.small} and {args.clips} clips...", flush=True)
            scaling[name] = {
                count: measure(name, clips[:count], outputs / f"{name.replace(' ', '_')}-{count}.mp4")
                for count in (args.small, args.clips)
            }  # fmt: skip
    medians = {
        name: {
            key: statistics.median(r[key] for r in results)
            for key in ("seconds", "peak_mb", "cpu_s")
        }
        for name, results in runs.items()
    }
    floor = medians["floor"]["seconds"]
    framed_floor = medians["floor 1080x1920"]["seconds"] if "floor 1080x1920" in medians else None
    print(f"\nstitch of {args.clips} clips ({args.clips * 121 / 24:.1f} s of video); medians of "
          f"interleaved rounds ({args.rounds}, loudness {min(3, args.rounds)}) for the first three, "
          "one run for the rest")  # fmt: skip
    if args.frame_rounds:
        print(f"(the 1080x1920 rows cut the first {args.frame_clips} clips, each against the "
              "floor at that size)")  # fmt: skip
    print(f"{'contender':<22}{'time s':>9}{'vs floor':>10}{'CPU s':>8}{'vs floor':>10}"
          f"{'peak MB':>10}{'worst A/V ms':>14}")  # fmt: skip
    for name, figures in medians.items():
        worst = f"{sync[name]:.1f}" if name in sync else "-"
        # a cut at 1080x1920 is compared with the floor at that size
        framed = bool(framed_floor) and ("shorts" in name or "1080" in name)
        base = framed_floor if framed and framed_floor else floor
        cpu_base = medians["floor 1080x1920" if framed else "floor"]["cpu_s"]
        print(f"{name:<22}{figures['seconds']:>9.2f}{figures['seconds'] / base:>9.2f}x"
              f"{figures['cpu_s']:>8.1f}{figures['cpu_s'] / cpu_base:>9.2f}x"
              f"{figures['peak_mb']:>10.0f}{worst:>14}")  # fmt: skip
    verdicts = []
    for name, most in TARGETS.items():
        ratio = medians[name]["seconds"] / floor
        met = ratio <= most and sync[name] <= 41.7
        verdicts.append(f"{name} {ratio:.2f}x the floor (target at most {most}x, sync within "
                        f"one frame): {'met' if met else 'NOT met'}")  # fmt: skip
    for name, most in FRAME_TARGETS.items():
        if framed_floor is None:
            continue
        ratio = medians[name]["seconds"] / framed_floor
        met = ratio <= most and sync[name] <= 41.7
        verdicts.append(f"{name} {ratio:.2f}x the floor at 1080x1920 (target at most {most}x, "
                        f"sync within one frame): {'met' if met else 'NOT met'}")  # fmt: skip
    print("\n" + "\n".join(verdicts))
    for name, (integrated, peak) in loudness.items():
        met = abs(integrated - -14.0) <= 1.0 and peak <= -1.0
        print(f"{name}: encoded cut {integrated:.1f} LUFS, true peak {peak:.1f} dBTP (target -14 "
              f"within 1 LU, at most -1 dBTP): {'met' if met else 'NOT met'}")  # fmt: skip
    if "moviepy" in medians:
        print(f"f1gen is {medians['moviepy']['seconds'] / medians['f1gen']['seconds']:.1f}x faster "
              "than MoviePy")  # fmt: skip
    print(f"\npeak memory (f1gen join, ffmpeg included) at {args.small} and {args.clips} clips")
    print(f"{'cut':<16}{f'{args.small} clips MB':>14}{f'{args.clips} clips MB':>15}{'growth':>9}")
    for name, by_count in scaling.items():
        small, large = by_count[args.small]["peak_mb"], by_count[args.clips]["peak_mb"]
        print(f"{name:<16}{small:>14.0f}{large:>15.0f}{(large - small) / small * 100:>8.0f}%")
    print(f"\nbenchmark wall time {time.perf_counter() - started:.0f} s")
    from common import record

    record(
        "stitch",
        {
            "clips": args.clips,
            "rounds": args.rounds,
            "runs": runs,
            "medians": medians,
            "worst_av_ms": sync,
            "encoded_loudness": loudness,
            "floor_ratio": {name: medians[name]["seconds"] / floor for name in TARGETS},
            "frame_floor_ratio": {
                name: medians[name]["seconds"] / framed_floor
                for name in FRAME_TARGETS
                if framed_floor
            },
            "memory_scaling": scaling,
        },
    )


if __name__ == "__main__":
    main()
