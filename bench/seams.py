"""Seam benchmark: the joins of a row of clips, plain and mixed, measured in 50 ms windows.

Stitches the clips of a folder in a row with f1gen's library twice (the plain join with no fade,
and the mix), and reports per join the worst step from one 50 ms window to the next on the
non-speech stretches within 1.2 s of it, and how much the mix moved each line of speech.

What counts as a seam step (issue 24: "at each join, on non-speech stretches, the level in 50 ms
windows changes by at most 3 dB from one window to the next"):
- Speech is what the stitch's VAD found (or the take checks kept), widened by 0.1 s each side;
  a pair of windows counts only when both are clear of it.
- A step between two windows that both lie in one clip's own sound (its slot, where its decoded
  sound is, not the room tone that fills what it lacks) is content when the clip has it itself:
  a door, a bang, a cheer. Only what the mix adds to it counts: |mixed step| - |own step|, the
  own step measured on the plain join at the same windows. A clip's own transients are not
  seams, and the mix must not make them bigger.
- A window of a clip's own sound TRANSIENT dB over the background around it (the median of
  that clip's non-speech windows within 0.5 s) is an event of the clip (a bang, a crash at its start, a cheer): content,
  like speech. A pair with such a window is left out of the seam figure, and the mix is checked
  to leave it alone instead ("events moved": its largest change of level, mixed against plain).
- A step across the join, or into or within the filled room tone, counts whole.
The strict figure (every non-speech step whole, content included) is printed beside it.

    python bench/seams.py FOLDER [--order 0,1,2,3,4,1,0,2] [--plot seams.png]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WINDOW = 0.05  # s
REACH = 24  # windows each side of a join: 1.2 s
MARGIN = 0.1  # s of speech margin
OWN_FLOOR = -110.0  # dBFS: under this a plain window is the padding's digital silence
TRANSIENT = 10.0  # dB over the background around it: an event of the clip, not room tone
LOCAL = 0.5  # s each side: the stretch a window's background is the median of


def _levels(path: Path, window: float = WINDOW) -> np.ndarray:
    from tests.support import mediatools

    levels, _ = mediatools.levels_db(path, window=window)
    return levels


def _speech(result: object) -> list[tuple[float, float]]:
    """The mix's speech in cut seconds, widened by the margin."""
    from f1gen.stitch.cut import _origin_shift

    mix = result.mix  # type: ignore[attr-defined]
    found = mix.found_speech if mix else [None] * len(result.clips)  # type: ignore[attr-defined]
    out = []
    for clip, segments in zip(result.clips, found, strict=True):  # type: ignore[attr-defined]
        known = segments if segments is not None else clip.source.speech or ()
        shift = clip.start + _origin_shift(clip)
        out += [(a + shift - MARGIN, b + shift + MARGIN) for a, b in known]
    return out


def _clear(k: int, speech: list[tuple[float, float]]) -> bool:
    """True when window k is clear of speech."""
    return all((k + 1) * WINDOW <= a or k * WINDOW >= b for a, b in speech)


def _slot(k: int, bounds: list[tuple[float, float]]) -> int | None:
    """The clip whose slot holds window k whole, if any."""
    for n, (s, e) in enumerate(bounds):
        if k * WINDOW >= s and (k + 1) * WINDOW <= e:
            return n
    return None


def _events(
    plain: np.ndarray, bounds: list[tuple[float, float]], speech: list[tuple[float, float]]
) -> set[int]:
    """The windows of the plain cut that are events of their clips: TRANSIENT dB over the
    background around them (the median of their clip's own non-speech windows within LOCAL s);
    a window across a join, over both clips' backgrounds there."""
    found, reach = set(), round(LOCAL / WINDOW)
    near: dict[int, list[float]] = {}
    for s, e in bounds:
        ks = [k for k in range(math.ceil(s / WINDOW), math.floor(e / WINDOW)) if k < len(plain)]
        own = [k for k in ks if plain[k] > OWN_FLOOR and _clear(k, speech)]
        for k in ks:
            around = [plain[i] for i in own if abs(i - k) <= reach] or [plain[i] for i in own]
            if not around:
                continue
            background = float(np.median(around))
            near.setdefault(k, []).append(background)
            if plain[k] > background + TRANSIENT:
                found.add(k)
    for s, _ in bounds[1:]:
        k = math.floor(s / WINDOW)  # the window across the join
        sides = near.get(k - 1, []) + near.get(k + 1, [])
        if sides and plain[k] > max(sides) + TRANSIENT:
            found.add(k)
    return found


def join_steps(
    plain: np.ndarray, mixed: np.ndarray, joins: list[float], bounds: list[tuple[float, float]],
    speech: list[tuple[float, float]],
) -> list[dict[str, float | int | None]]:  # fmt: skip
    """Per join: the worst counted and strict non-speech steps, plain and mixed (dB), and how far
    the mix moved the clips' own events near it."""
    events = _events(plain, bounds, speech)
    rows = []
    for at in joins:
        j = round(at / WINDOW)
        worst = {"plain": 0.0, "mixed": 0.0, "plain_strict": 0.0, "mixed_strict": 0.0, "moved": 0.0}
        pairs = 0
        for k in range(max(0, j - REACH), min(len(mixed) - 1, j + REACH)):
            if k in events:
                worst["moved"] = max(worst["moved"], abs(mixed[k] - plain[k]))
            if not (_clear(k, speech) and _clear(k + 1, speech)):
                continue
            step_p, step_m = abs(plain[k + 1] - plain[k]), abs(mixed[k + 1] - mixed[k])
            worst["plain_strict"] = max(worst["plain_strict"], step_p)
            worst["mixed_strict"] = max(worst["mixed_strict"], step_m)
            if k in events or k + 1 in events:
                continue
            pairs += 1
            clip = _slot(k, bounds)
            own = (
                clip is not None and clip == _slot(k + 1, bounds)
                and plain[k] > OWN_FLOOR and plain[k + 1] > OWN_FLOOR
            )  # fmt: skip
            content = step_p if own else 0.0
            worst["plain"] = max(worst["plain"], 0.0 if own else step_p)
            worst["mixed"] = max(worst["mixed"], max(0.0, step_m - content))
        rows.append(
            {"at": round(at, 3), "pairs": pairs} | {k: round(v, 1) for k, v in worst.items()}
        )
    return rows


def speech_changes(
    plain: np.ndarray, mixed: np.ndarray, speech: list[tuple[float, float]]
) -> list[float]:
    """How far the mix moved each line's level (dB), measured inside it (0.1 s in from each end
    of the line as found, so 0.2 s inside the widened stretch)."""
    changes = []
    for a, b in speech:
        first, last = round((a + 2 * MARGIN) / WINDOW), round((b - 2 * MARGIN) / WINDOW)
        if last <= first:
            continue
        p = 10 * math.log10(float(np.mean(10 ** (plain[first:last] / 10))))
        m = 10 * math.log10(float(np.mean(10 ** (mixed[first:last] / 10))))
        changes.append(m - p)
    return changes


def plot(path: Path, plain: Path, mixed: Path, joins: list[float],
         speech: list[tuple[float, float]]) -> None:  # fmt: skip
    """A PNG of the 10 ms levels around each join: plain (red) and mixed (blue), speech grey."""
    from PIL import Image, ImageDraw

    lp, lm = _levels(plain, 0.01), _levels(mixed, 0.01)
    width, height, span = 300, 260, 1.5
    image = Image.new("RGB", (width * len(joins), height), "white")
    draw = ImageDraw.Draw(image)

    def y(level: float) -> float:
        return 20 + (height - 30) * min(120.0, max(0.0, -level)) / 120

    for n, at in enumerate(joins):
        left = n * width
        for a, b in speech:
            xa, xb = (left + (t - at + span) / (2 * span) * width for t in (a, b))
            if xb > left and xa < left + width:
                draw.rectangle((max(left, xa), 20, min(left + width, xb), height - 10),
                               fill=(225, 225, 225))  # fmt: skip
        for db in (-20, -40, -60, -80, -100):
            draw.line((left, y(db), left + width, y(db)), fill=(235, 235, 255))
        draw.line((left + width / 2, 20, left + width / 2, height - 10), fill="gray")
        draw.line((left, 0, left, height), fill="black")
        draw.text((left + 4, 4), f"join {n + 1} at {at:.2f} s (-120..0 dBFS)", fill="black")
        first = round((at - span) / 0.01)
        for levels, colour in ((lp, "red"), (lm, "blue")):
            part = levels[max(0, first) : first + round(2 * span / 0.01)]
            points = [(left + (i + max(0, first) - first) * width / (2 * span / 0.01), y(v))
                      for i, v in enumerate(part)]  # fmt: skip
            draw.line(points, fill=colour, width=1)
    image.save(path)


def main() -> None:
    from f1gen.stitch.cut import CutOptions, Source, join
    from f1gen.stitch.ffargs import Shape

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--order", default="", help="indices into the sorted clips, e.g. 0,1,2")
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    files = sorted(args.folder.glob("*.mp4"))
    order = [int(i) for i in args.order.split(",")] if args.order else range(len(files))
    sources = [Source(f"c{n}-{files[i].stem[:12]}", files[i]) for n, i in enumerate(order)]
    shape = Shape(576, 896, 24)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mixed = join(sources, output=work / "mixed.mp4", scratch=work / "tmp", shape=shape,
                     options=CutOptions(loudnorm=False))  # fmt: skip
        plain = join(sources, output=work / "plain.mp4", scratch=work / "tmp", shape=shape,
                     options=CutOptions(loudnorm=False, seams=False, fade_ms=0))  # fmt: skip
        speech = _speech(mixed)
        lp, lm = _levels(plain.output), _levels(mixed.output)
        joins = [c.start for c in mixed.clips[1:]]
        bounds = [(c.start, c.start + c.duration) for c in mixed.clips]
        rows = join_steps(lp, lm, joins, bounds, speech)
        print("join   at s  pairs  plain  mixed  (strict: plain  mixed)  events moved  (dB)")
        for n, row in enumerate(rows, 1):
            print(f"{n:4} {row['at']:6.2f} {row['pairs']:6} {row['plain']:6.1f} {row['mixed']:6.1f}"
                  f"   {row['plain_strict']:13.1f} {row['mixed_strict']:6.1f}"
                  f" {row['moved']:13.1f}")  # fmt: skip
        changes = speech_changes(lp, lm, speech)
        if changes:
            print(f"speech: {len(changes)} lines, level moved {min(changes):+.2f} to "
                  f"{max(changes):+.2f} dB")  # fmt: skip
        if mixed.mix:
            for seam in mixed.mix.seams:
                print("  seam", seam.as_dict())
        if args.plot:
            plot(args.plot, plain.output, mixed.output, joins, speech)
            print("plot:", args.plot)


if __name__ == "__main__":
    main()
