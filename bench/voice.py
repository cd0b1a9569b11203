"""The voice check's calibration and speed: same-voice against other-voice similarity.

- fixtures: tests/data/voices (five espeak-ng voices, four lines each, Ovi-shaped tracks). Every
  pair of takes is scored by the check's own path (decode at 16 kHz, Silero VAD, embedding,
  cosine similarity); reported: the equal error rate, the same-voice and other-voice ranges, and
  at the threshold f1gen uses, the false rejects (same voice below it) and false accepts.
- Ovi: the results Ovi's repository publishes (assets/high_res_results/*.mp4, 44.1 kHz stereo,
  one clip per scene, several speakers), when a folder of them is given with --ovi: each clip
  against every other (different speakers) at the threshold; measurement only, never committed.
- time: seconds per take for the embedding alone (decode and VAD are the take checks' already),
  median of every fixture, wall clock and CPU.

    python bench/voice.py [--ovi /tmp/ovi]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import record  # noqa: E402

from f1gen import media  # noqa: E402
from f1gen.checks.sound import VAD_RATE, find_speech  # noqa: E402
from f1gen.checks.voice import embed_speech, similarity  # noqa: E402
from f1gen.voices import THRESHOLD  # noqa: E402

FIXTURES = ROOT / "tests" / "data" / "voices"


def embed(path: Path) -> tuple[object, float, float]:
    """A take's embedding and the wall and CPU seconds the embedding alone took."""
    sound = media.read_sound(path, rate=VAD_RATE, mono=True)
    assert sound is not None
    speech = find_speech(sound.samples[0])
    wall, cpu = time.perf_counter(), time.process_time()
    vector = embed_speech(sound.samples[0], speech.segments)
    return vector, time.perf_counter() - wall, time.process_time() - cpu


def eer(same: list[float], other: list[float]) -> tuple[float, float]:
    """The equal error rate and the threshold where it falls."""
    best = (1.0, 0.0)
    for threshold in sorted(same + other):
        rejects = sum(s < threshold for s in same) / len(same)
        accepts = sum(o >= threshold for o in other) / len(other)
        rate = max(rejects, accepts)
        if rate < best[0]:
            best = (rate, threshold)
    return best


def main() -> None:
    """Print and record the calibration figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ovi", type=Path, help="a folder of Ovi's published results (.mp4)")
    args = parser.parse_args()
    takes = sorted(FIXTURES.glob("*.ogg"))
    embed(takes[0])  # the weights load once: not a take's time
    vectors, walls, cpus = {}, [], []
    for path in takes:
        vector, wall, cpu = embed(path)
        vectors[path.stem] = vector
        walls.append(wall)
        cpus.append(cpu)
    same, other = [], []
    for a, b in itertools.combinations(vectors, 2):
        score = similarity(vectors[a], vectors[b])  # type: ignore[arg-type]
        (same if a.split("-")[0] == b.split("-")[0] else other).append(score)
    rate, at = eer(same, other)
    rejects = sum(s < THRESHOLD for s in same)
    accepts = sum(o >= THRESHOLD for o in other)
    result = {
        "fixtures": len(takes),
        "voices": len({t.stem.split("-")[0] for t in takes}),
        "same_pairs": len(same),
        "other_pairs": len(other),
        "same_min": round(min(same), 3),
        "same_median": round(statistics.median(same), 3),
        "other_max": round(max(other), 3),
        "other_median": round(statistics.median(other), 3),
        "eer": round(rate, 4),
        "eer_threshold": round(at, 3),
        "threshold": THRESHOLD,
        "false_rejects": rejects,
        "false_accepts": accepts,
        "seconds_per_take_wall": round(statistics.median(walls), 3),
        "seconds_per_take_cpu": round(statistics.median(cpus), 3),
        "seconds_per_take_wall_max": round(max(walls), 3),
    }
    print(f"fixtures: {len(takes)} takes of {result['voices']} voices")
    print(f"  same voice:  {len(same)} pairs, min {min(same):.3f}, median {result['same_median']}")
    print(
        f"  other voice: {len(other)} pairs, max {max(other):.3f}, median {result['other_median']}"
    )
    print(
        f"  EER {rate:.1%} (at {at:.3f}); at the threshold {THRESHOLD}: {rejects} false rejects, "
        f"{accepts} false accepts of {len(other)}"
    )
    print(
        f"  embedding per take: {result['seconds_per_take_wall']} s wall, "
        f"{result['seconds_per_take_cpu']} s CPU (median), {result['seconds_per_take_wall_max']} s worst"
    )
    if args.ovi:
        clips = sorted(args.ovi.glob("*.mp4"))
        ovi = {}
        for clip in clips:
            vector, wall, _ = embed(clip)
            ovi[clip.name[:24]] = vector
            print(f"  ovi {clip.name[:40]}: {wall:.3f} s")
        scores = [similarity(ovi[a], ovi[b]) for a, b in itertools.combinations(ovi, 2)]  # type: ignore[arg-type]
        over = sum(s >= THRESHOLD for s in scores)
        print(
            f"ovi: {len(clips)} clips, cross-clip similarity max {max(scores):.3f}, median "
            f"{statistics.median(scores):.3f}; {over} of {len(scores)} pairs at or over the threshold"
        )
        result["ovi_clips"] = len(clips)
        result["ovi_cross_max"] = round(max(scores), 3)
        result["ovi_cross_median"] = round(statistics.median(scores), 3)
        result["ovi_cross_over_threshold"] = over
    record("voice", result)


if __name__ == "__main__":
    main()
