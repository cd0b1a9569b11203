"""The cut's sound as a mix: smooth seams, one room tone, an ambience bed and music under speech.

Why in Python and not a filter graph: f1gen already decodes every clip's sound itself and knows
where speech is (the take checks' VAD), so each gain is an exact envelope from known times,
computed one clip at a time (memory flat in the clip count), where a sidechain compressor would
have to guess them from the signal.

Every clip's own sound stays on its own frames. At a join, each clip's background is continued
past its slot with its own room tone (its nearest non-speech stretch, reflected back and forth:
continuous, never silence), and the two backgrounds are crossfaded inside the slots, over
non-speech only, with gains that move the level in even dB steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import StitchError
from .ffargs import AUDIO_RATE

if TYPE_CHECKING:
    import numpy.typing as npt

    Samples = npt.NDArray[np.float32]  # (n, 2): 48 kHz float stereo
    Gains = npt.NDArray[np.float64]  # (n,): linear gains

WINDOW = AUDIO_RATE // 20  # 50 ms: the windows levels are measured in
BLOCK = AUDIO_RATE // 100  # 10 ms: what the first pass measures a clip's sound in
SPEECH_MARGIN = 0.1  # s around each stretch of speech that no envelope touches
TONE = 0.4  # s: the stretch of a clip's own background that continues it
GAP = AUDIO_RATE // 10  # samples: the stretch of room tone taken between words, when no more
ENTRY = 0.03  # s: the crossfade into a room tone taken from elsewhere in the clip
FLOOR_LIMIT = 12.0  # dB: the most a clip's background is moved toward the cut's
FLOOR_RAMP = 0.5  # s: how fast a floor gain comes and goes around speech (12 dB: 1.2 dB a window)
FLOOR_SHARE = 0.1  # a clip's floor: the quietest tenth of its non-speech windows
BRIDGE = 1.5  # s: how far each clip's room tone reaches past a join, under the other's sound
BRIDGE_SHARE = 0.45  # of a slot at most, so that the bridges at a clip's two ends never meet
EDGE = 0.25  # s: the background a seam meets is measured this close to the clip's end
CLEAN_REACH = 0.2  # s each side: a block stands out (a transient) against these
TRANSIENT = 10.0  # dB over its stretch's median: a 10 ms block that is a bang, not room tone
LOCAL = 0.5  # s each side: the stretch a window's background is the median of
TONE_MATCH = 20.0  # dB: the most a room tone is moved to the level of the background it joins
DUCK_ATTACK, DUCK_RELEASE = 0.12, 0.35  # s: music and bed go down before a line, up after it
OFF_FADE = 0.5  # s: the music's fades around a scene that says `music: off`
BED_SWITCH = 1.0  # s: one ambience crossfading into the next at a scene
LOOP_CROSSFADE = 0.5  # s at most (a quarter of a short file): where a loop meets itself
HELD = 60.0  # s: a file up to this long is decoded once and looped from memory (23 MB)
SILENT = 1e-12  # power under which a window is digital silence
EDGE_DROP = 15.0  # dB: a clip's sound that falls this far at its ends is the codec's padding


def db(power: float) -> float:
    """A power as dB (-inf for none)."""
    return 10 * math.log10(power) if power > 0 else -math.inf


def window_levels(x: Samples) -> npt.NDArray[np.float64]:
    """The power of every whole 50 ms window of x (mean of the channels)."""
    count = len(x) // WINDOW
    if not count:
        return np.zeros(0)
    part = x[: count * WINDOW].astype(np.float64)
    return np.asarray((part**2).mean(axis=1).reshape(count, WINDOW).mean(axis=1))


def free_of(speech: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    """True when no stretch of speech (samples) overlaps [start, end)."""
    return all(e <= start or s >= end for s, e in speech)


def widen(segments: Sequence[tuple[float, float]], *, length: int) -> tuple[tuple[int, int], ...]:
    """Speech stretches in seconds as samples, widened by the margin and clipped to length."""
    margin = SPEECH_MARGIN * AUDIO_RATE
    return tuple(
        (max(0, round(s * AUDIO_RATE - margin)), min(length, round(e * AUDIO_RATE + margin)))
        for s, e in segments
        if e * AUDIO_RATE + margin > 0 and s * AUDIO_RATE - margin < length
    )


def block_powers(x: Samples) -> npt.NDArray[np.float64]:
    """The power of every whole 10 ms block of x (mean of the channels): what the first pass
    measures a clip by, once."""
    count = len(x) // BLOCK
    squares = np.einsum("ij,ij->i", x[: count * BLOCK], x[: count * BLOCK]) / x.shape[1]
    return np.asarray(squares.reshape(count, BLOCK).mean(axis=1, dtype=np.float64))


def speech_blocks(speech: Sequence[tuple[int, int]], count: int) -> npt.NDArray[np.bool_]:
    """Which 10 ms blocks any stretch of speech touches."""
    mask = np.zeros(count, dtype=np.bool_)
    for s, e in speech:
        mask[s // BLOCK : -(-e // BLOCK)] = True
    return mask


def quietest(
    power: npt.NDArray[np.float64], speech: Sequence[tuple[int, int]], valid: tuple[int, int]
) -> tuple[int, int]:
    """The quietest stretch of TONE seconds (in samples) of a clip's own sound clear of speech,
    or of any of it when speech leaves none; power: its 10 ms blocks."""
    first, last = valid[0] // BLOCK, valid[1] // BLOCK
    span = min(round(TONE * AUDIO_RATE) // BLOCK, last - first)
    if span <= 0:
        return valid[0], valid[0]
    # by its loudest block, not its mean: a tone is looped, and a click in it would repeat
    loudness = np.lib.stride_tricks.sliding_window_view(power[first:last], span).max(axis=1)
    talk = np.concatenate([[0], np.cumsum(speech_blocks(speech, len(power))[first:last])])
    clear = (talk[span:] - talk[:-span]) == 0
    if clear.any():
        pick = int(np.argmin(np.where(clear, loudness, np.inf)))
    else:  # speech all through: the quietest tenth of a second, between two words
        span = min(span, GAP // BLOCK)
        loudness = np.lib.stride_tricks.sliding_window_view(power[first:last], span).max(axis=1)
        pick = int(np.argmin(loudness))
    start = (first + pick) * BLOCK
    return start, start + span * BLOCK


def continue_after(source: Samples, count: int) -> Samples:
    """count samples that carry on from source's last one: source reflected back and forth,
    so the sound is continuous at every turn (no click) and keeps its level and colour."""
    if count <= 0 or not len(source):
        return np.zeros((max(count, 0), 2), np.float32)
    back_and_forth = np.concatenate([source[::-1], source])
    turns = -(-count // len(back_and_forth))
    return np.tile(back_and_forth, (turns, 1))[:count]


def _entered(reflected: Samples, tone: Samples) -> Samples:
    """tone, entered from reflected (the sound's own continuation) by a short crossfade."""
    n = min(round(ENTRY * AUDIO_RATE), len(tone))
    if n:
        ramp = np.linspace(0, math.pi / 2, n, dtype=np.float32)[:, None]
        tone = tone.copy()
        tone[:n] = reflected[:n] * np.cos(ramp) + tone[:n] * np.sin(ramp)
    return tone


def tail_tone(
    x: Samples, end: int, count: int, *, speech: Sequence[tuple[int, int]], quiet: tuple[int, int]
) -> Samples:
    """count samples continuing x after sample end with its own room tone: its last stretch
    when clear of speech and of transients, else its quietest stretch at the level around the
    end, entered by a short crossfade (after a bang: faded in, the bang never reflected)."""
    span = min(round(TONE * AUDIO_RATE), end)
    own = x[end - span : end]
    speech_free = free_of(speech, end - span, end)
    if (speech_free and clean(own)) or quiet[1] <= quiet[0]:
        return continue_after(own, count)
    # speech or a bang near the end (content, never looped): its quiet stretch goes on instead,
    # at the level of the background around the end
    around = background_near(x[:end], speech, at=end)
    tone = matched(continue_after(x[quiet[0] : quiet[1]], count), around)
    if speech_free:  # a bang: the tone fades in after it, nothing of the bang is reflected
        n = min(round(ENTRY * AUDIO_RATE), count)
        tone[:n] *= np.sin(np.linspace(0, math.pi / 2, n, dtype=np.float32))[:, None]
        return tone
    return _entered(continue_after(own, count), tone)


def head_tone(
    x: Samples, start: int, count: int, *, speech: Sequence[tuple[int, int]], quiet: tuple[int, int]
) -> Samples:
    """count samples leading into x at sample start, made of its own room tone."""
    mirrored = [(len(x) - e, len(x) - s) for s, e in speech]
    quiet_m = (len(x) - quiet[1], len(x) - quiet[0])
    return tail_tone(x[::-1], len(x) - start, count, speech=mirrored, quiet=quiet_m)[::-1]


@dataclass(frozen=True)
class ClipSound:
    """One clip's sound in its slot, as the first pass found it (all in samples of its slot)."""

    name: str
    offset: int  # where its samples are in the scratch file
    samples: int  # its slot
    valid: tuple[int, int]  # the part that is the clip's own sound (the rest is room tone)
    speech: tuple[tuple[int, int], ...]  # widened by the margin
    quiet: tuple[int, int]  # its quietest stretch clear of speech
    floor: float | None  # dBFS: the quietest tenth of its non-speech windows


def valid_part(power: npt.NDArray[np.float64], start: int, decoded: int) -> tuple[int, int]:
    """Where a clip's sound (power: its 10 ms blocks) is its own, in whole blocks from start
    (before it: the silence the decoder lines the sound up with the picture by) to what was
    decoded, less the codec's padding at either end (blocks EDGE_DROP dB under the median of
    their end's half second)."""
    first, count = -(-start // BLOCK), decoded // BLOCK
    if count <= first:
        return 0, 0
    last = count - 1
    near = 50  # blocks: half a second
    drop = 10 ** (-EDGE_DROP / 10)
    end_level = float(np.median(power[max(first, last - near) : last + 1]))
    while last > first and power[last] < end_level * drop:
        last -= 1
    start_level = float(np.median(power[first : min(last, first + near) + 1]))
    while first < last and power[first] < start_level * drop:
        first += 1
    return first * BLOCK, (last + 1) * BLOCK


def fill(
    x: Samples, valid: tuple[int, int], speech: Sequence[tuple[int, int]], quiet: tuple[int, int]
) -> None:
    """Fill what x lacks before and after its own sound with its room tone, in place (quiet:
    its quietest stretch clear of speech, where the tone comes from when it has to)."""
    start, end = valid
    if end - start < WINDOW:
        return  # nothing to make a tone of: silence is its room tone
    if start > 0:
        x[:start] = head_tone(x, start, start, speech=speech, quiet=quiet)
    if end < len(x):
        x[end:] = tail_tone(x, end, len(x) - end, speech=speech, quiet=quiet)


def floor_of(
    power: npt.NDArray[np.float64], speech: Sequence[tuple[int, int]], valid: tuple[int, int]
) -> float | None:
    """A clip's background floor in dBFS: the quietest tenth of its own sound's 50 ms windows
    clear of speech (None when it has none, or when that is digital silence)."""
    per = WINDOW // BLOCK
    first = valid[0] // BLOCK
    count = (valid[1] // BLOCK - first) // per
    if count <= 0:
        return None
    windows = power[first : first + count * per].reshape(count, per)
    talk = speech_blocks(speech, len(power))[first : first + count * per].reshape(count, per)
    quiet = windows.mean(axis=1)[~talk.any(axis=1)]
    if not len(quiet):
        return None
    floor = float(np.quantile(quiet, FLOOR_SHARE))
    return db(floor) if floor > SILENT else None  # silence is its own floor: nothing to move


def floor_gains(floors: Sequence[float | None]) -> list[float]:
    """Each clip's floor gain (dB): toward the cut's median floor, at most FLOOR_LIMIT."""
    known = [f for f in floors if f is not None]
    if len(known) < 2:
        return [0.0] * len(floors)
    median = float(np.median(known))
    return [0.0 if f is None else max(-FLOOR_LIMIT, min(FLOOR_LIMIT, median - f)) for f in floors]


def away_from(speech: Sequence[tuple[int, int]], count: int, *, ramp: float) -> Gains:
    """0 on speech, rising to 1 over ramp seconds away from it (computed every 10 ms)."""
    step = AUDIO_RATE // 100
    blocks = -(-count // step) + 1
    centres = np.arange(blocks) * step
    distance = np.full(blocks, np.inf)
    for s, e in speech:
        distance = np.minimum(distance, np.maximum(np.maximum(s - centres, centres - e), 0))
    share = np.clip(distance / (ramp * AUDIO_RATE), 0, 1)
    return np.interp(np.arange(count), centres, share)


def local_background(x: Samples, speech: Sequence[tuple[int, int]]) -> npt.NDArray[np.float64]:
    """For every 50 ms window of x, the background around it: the median of the non-speech,
    not silent windows within LOCAL s of it (the clip's median where there are none; 0 for
    none at all). A slow rise of the ambience moves it; a bang does not."""
    levels = window_levels(x)
    clear = np.array(
        [free_of(speech, k * WINDOW, (k + 1) * WINDOW) for k in range(len(levels))], dtype=bool
    ) & (levels > SILENT)
    overall = float(np.median(levels[clear])) if clear.any() else 0.0
    reach = round(LOCAL * AUDIO_RATE / WINDOW)
    around = np.full(len(levels), overall)
    for k in range(len(levels)):
        near = levels[max(0, k - reach) : k + reach + 1][clear[max(0, k - reach) : k + reach + 1]]
        if len(near):
            around[k] = float(np.median(near))
    return around


def events(x: Samples, speech: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The stretches (samples, widened by a window) of x's sound that stand TRANSIENT dB over
    the background around them: a bang, a crash, a cheer. They are content, not room tone: the
    floor gain leaves them as they are."""
    around = local_background(x, speech)
    if not len(around) or not around.max() > 0:
        return []
    power = block_powers(x)
    per = WINDOW // BLOCK
    threshold = np.repeat(around, per)
    threshold = np.concatenate([threshold, np.full(len(power) - len(threshold), threshold[-1])])
    loud = power > threshold * 10 ** (TRANSIENT / 10) + SILENT
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    return [
        (max(0, s * BLOCK - WINDOW), min(len(x), e * BLOCK + WINDOW))
        for s, e in zip(edges[::2], edges[1::2], strict=True)
    ]


def floor_envelope(sound: ClipSound, gain_db: float, x: Samples | None = None) -> Gains | None:
    """The linear gain bringing a clip's background toward the cut's floor, 1 on its speech and
    on the events in its sound x, changing smoothly (linear in dB) around them; None for none."""
    if abs(gain_db) < 0.05:
        return None
    held = list(sound.speech) + (events(x, sound.speech) if x is not None else [])
    share = away_from(held, sound.samples, ramp=FLOOR_RAMP)
    return np.asarray(10 ** (gain_db * share / 20))


@dataclass(frozen=True)
class Seam:
    """What was done at one join: the handles' lengths on each side (s) and the backgrounds'
    levels across it (dBFS)."""

    before: float
    after: float
    level_out: float
    level_in: float

    def as_dict(self) -> dict[str, float | None]:
        """A JSON-ready view."""
        return {
            "handle_before": round(self.before, 3),
            "handle_after": round(self.after, 3),
            "level_out_dbfs": round(self.level_out, 1) if math.isfinite(self.level_out) else None,
            "level_in_dbfs": round(self.level_in, 1) if math.isfinite(self.level_in) else None,
        }


def clean(x: Samples) -> bool:
    """True when no 10 ms block of x stands TRANSIENT dB over the median of the blocks within
    CLEAN_REACH of it: no bang, no click, so x may be continued by reflection (a transient is
    content, never looped); a slow rise of the ambience is no transient."""
    power = block_powers(x)
    if not len(power):
        return True
    reach = round(CLEAN_REACH * AUDIO_RATE) // BLOCK
    padded = np.pad(power, reach, mode="edge")
    around = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1), axis=1)
    return bool((power <= around * 10 ** (TRANSIENT / 10) + SILENT).all())


def matched(tone: Samples, power: float) -> Samples:
    """tone at the given power (mean of the channels), moved TONE_MATCH dB at most."""
    have = float(np.mean(tone.astype(np.float64) ** 2)) if len(tone) else 0.0
    if have <= SILENT or power <= SILENT:
        return tone
    gain = min(10 ** (TONE_MATCH / 10), max(10 ** (-TONE_MATCH / 10), power / have))
    return (tone * math.sqrt(gain)).astype(np.float32)


def background_near(x: Samples, speech: Sequence[tuple[int, int]], *, at: int) -> float:
    """The power of a clip's background near sample at: the median of its non-speech, not silent
    50 ms windows within EDGE s of it (reaching farther when speech leaves fewer than three),
    leaving out those TRANSIENT dB over the second around it (a bang); 0 when it has none."""
    levels = window_levels(x)
    centres = (np.arange(len(levels)) + 0.5) * WINDOW
    keep = np.array(
        [free_of(speech, k * WINDOW, (k + 1) * WINDOW) for k in range(len(levels))], dtype=bool
    ) & (levels > SILENT)
    distance = np.abs(centres - at)
    wider = levels[keep & (distance < 4 * EDGE * AUDIO_RATE)]
    if len(wider):  # what stands out of the second around (a bang) is no background
        keep &= levels <= float(np.median(wider)) * 10 ** (TRANSIENT / 10)
    for reach in (EDGE, 3 * EDGE, math.inf):
        near = levels[keep & (distance < reach * AUDIO_RATE)]
        if len(near) >= 3 or (reach == math.inf and len(near)):
            return float(np.median(near))
    return 0.0


def edge_power(x: Samples, sound: ClipSound, *, tail: bool) -> float:
    """The power of a clip's background at one end, where a seam meets it (its quiet stretch's,
    when speech leaves it none)."""
    power = background_near(x, sound.speech, at=len(x) if tail else 0)
    if power > 0:
        return power
    quiet = x[sound.quiet[0] : sound.quiet[1]].astype(np.float64)
    return float(np.mean(quiet**2)) if len(quiet) else 0.0


def steady(tone: Samples) -> Samples:
    """tone with its level held steady (divided by its own envelope: 10 ms blocks, smoothed over
    50 ms): a bridge made of it keeps the room's colour but not its swells, which under another
    clip would be steps of their own."""
    power = block_powers(tone)
    if len(power) < 2:
        return tone
    smooth = np.convolve(np.pad(power, 2, mode="edge"), np.ones(5) / 5, mode="valid")
    centres = (np.arange(len(power)) + 0.5) * BLOCK
    envelope = np.sqrt(np.maximum(smooth, SILENT) / max(float(smooth.mean()), SILENT))
    held = tone / np.interp(np.arange(len(tone)), centres, envelope)[:, None]
    return held.astype(np.float32)


def room_tone(x: Samples, sound: ClipSound, count: int, *, tail: bool, power: float) -> Samples:
    """count samples of a clip's own room tone at the given power, going on past its end (tail)
    or leading into its start: its edge stretch reflected (continuous with it) when that is
    clear of speech and of transients, else its quiet stretch, faded in from the edge."""
    span = min(round(TONE * AUDIO_RATE), len(x))
    own = x[len(x) - span :] if tail else x[:span][::-1]
    speech_free = (
        free_of(sound.speech, len(x) - span, len(x)) if tail else free_of(sound.speech, 0, span)
    )
    if (speech_free and clean(own)) or sound.quiet[1] <= sound.quiet[0]:
        tone = matched(steady(continue_after(own, count)), power)
    else:
        quiet = x[sound.quiet[0] : sound.quiet[1]]
        tone = matched(steady(continue_after(quiet if tail else quiet[::-1], count)), power)
        n = min(round(ENTRY * AUDIO_RATE), count)
        tone[:n] *= np.sin(np.linspace(0, math.pi / 2, n, dtype=np.float32))[:, None]
    return tone if tail else tone[::-1]


def bridge_gain(own: float, other: float, count: int) -> Gains:
    """The gain of the other clip's tone (power other) under a clip's background (power own)
    over count samples ending at the join: their sum rises evenly in dB from own to own + other.
    """
    u = (np.arange(count) + 0.5) / max(count, 1)
    if other <= SILENT:
        return np.zeros(count)
    own = max(own, other * 1e-6)  # from silence: a 60 dB rise, not an endless one
    target = own ** (1 - u) * (own + other) ** u
    return np.asarray(np.sqrt(np.clip((target - own) / other, 0, 1)))


def seam(
    out: ClipSound, x_out: Samples, into: ClipSound, x_in: Samples
) -> tuple[Seam, Samples, Samples]:
    """The bridge over the join of two clips' (already leveled) sounds: what to add under the
    outgoing clip's last samples (the incoming one's room tone, rising) and under the incoming
    one's first (the outgoing one's, falling). Both backgrounds sound together at the join, so
    its two sides meet at one level; each side's own sound, speech above all, is untouched."""
    before = min(round(BRIDGE * AUDIO_RATE), int(out.samples * BRIDGE_SHARE), len(x_out))
    after = min(round(BRIDGE * AUDIO_RATE), int(into.samples * BRIDGE_SHARE), len(x_in))
    p_out, p_in = edge_power(x_out, out, tail=True), edge_power(x_in, into, tail=False)
    tone_in = room_tone(x_in, into, before, tail=False, power=p_in)
    tone_out = room_tone(x_out, out, after, tail=True, power=p_out)
    under_out = tone_in * bridge_gain(p_out, p_in, before)[:, None].astype(np.float32)
    under_in = tone_out * bridge_gain(p_in, p_out, after)[::-1, None].astype(np.float32)
    record = Seam(before / AUDIO_RATE, after / AUDIO_RATE, db(p_out), db(p_in))
    return record, under_out.astype(np.float32), under_in.astype(np.float32)


def seamed(
    leveled: Iterator[tuple[ClipSound, Samples]], *, seams: bool, record: list[Seam]
) -> Iterator[Samples]:
    """Each clip's slot in order, joined by seams (when on): one clip ahead is held."""
    ahead = next(leveled, None)
    while ahead is not None:
        sound, current = ahead
        ahead = next(leveled, None)
        if seams and ahead is not None:
            done, under_out, under_in = seam(sound, current, ahead[0], ahead[1])
            record.append(done)
            current[len(current) - len(under_out) :] += under_out
            ahead[1][: len(under_in)] += under_in
        yield current


def duck_envelope(speech: Sequence[tuple[float, float]], t: npt.NDArray[np.float64]) -> Gains:
    """1 under speech (cut seconds), falling to 0 away from it: DUCK_ATTACK before a line,
    DUCK_RELEASE after it; at times t (seconds of the cut, rising)."""
    near = np.zeros(len(t))
    for s, e in speech:
        if e + DUCK_RELEASE < t[0] or s - DUCK_ATTACK > t[-1]:
            continue
        rise = np.clip((t - (s - DUCK_ATTACK)) / DUCK_ATTACK, 0, 1)
        fall = np.clip(1 - (t - e) / DUCK_RELEASE, 0, 1)
        near = np.maximum(near, np.minimum(rise, fall))
    return near


@dataclass(frozen=True)
class Layer:
    """A looped sound under the cut (music or an ambience bed), with its level in dB, how far it
    ducks under speech, and where it plays (cut seconds; None: to the end)."""

    path: Path
    volume: float
    duck: float
    start: float = 0.0  # offset into the file
    fade_in: float = 0.0
    fade_out: float = 0.0
    begin: float = 0.0  # where it starts in the cut
    end: float | None = None  # where it ends in the cut (fading out after it)
    crossfade_in: float = 0.0  # an equal-power fade in after begin (a bed taking over)
    crossfade_out: float = 0.0  # and out after end
    off: tuple[tuple[float, float], ...] = ()  # stretches (cut seconds) where it is silent


class Loop:
    """A sound file read as an endless stream of 48 kHz float stereo: from start, then looped
    from its beginning, each pass crossfaded into the next. A file of up to HELD seconds is
    decoded once and kept; a longer one is read again for each pass, one pass open at a time."""

    def __init__(self, path: Path, *, start: float) -> None:
        self.path, self.start = path, start
        self.held = self._hold()
        seconds = len(self.held) / AUDIO_RATE if self.held is not None else HELD
        self.overlap = round(min(LOOP_CROSSFADE, seconds / 4) * AUDIO_RATE)
        self.pending = np.zeros((0, 2), np.float32)
        self.loops = 0
        self.stream = self._pass(start)

    def _hold(self) -> Samples | None:
        """The whole file decoded, when it lasts HELD seconds at most (else None)."""
        parts, have = [np.zeros((0, 2), np.float32)], 0
        for chunk in self._decode(0.0):
            parts.append(chunk)
            have += len(chunk)
            if have > HELD * AUDIO_RATE:
                return None
        return np.concatenate(parts)

    def _pass(self, start: float) -> Iterator[Samples]:
        if self.held is None:
            yield from self._decode(start)
            return
        at = round(start * AUDIO_RATE)
        for first in range(at, len(self.held), AUDIO_RATE):
            yield self.held[first : first + AUDIO_RATE]

    def _decode(self, start: float) -> Iterator[Samples]:
        from .. import media

        chain = (
            f"aresample={AUDIO_RATE},"
            + (f"atrim=start={start:.6f},asetpts=PTS-STARTPTS," if start else "")
            + f"aformat=sample_fmts={media.PCM_FORMAT}:sample_rates={AUDIO_RATE}"
            ":channel_layouts=stereo"
        )
        for chunk in media.audio_pcm(self.path, chain):
            yield np.frombuffer(chunk, np.float32).reshape(-1, 2)

    def _more(self, wanted: int) -> None:
        parts = [self.pending]
        have = len(self.pending)
        while have < wanted + self.overlap:
            chunk = next(self.stream, None)
            if chunk is None:  # the pass ended: its last stretch fades into the next's first
                joined = np.concatenate(parts)
                self.loops += 1
                self.stream = self._pass(0.0)
                lead = self._lead(max(self.overlap, 1))
                if not len(lead):  # nothing decodes any more: looping it would never end
                    raise StitchError(f"{self.path}: its sound no longer decodes: check the file")
                n = min(self.overlap, len(joined), len(lead))
                ramp = np.linspace(0, math.pi / 2, n, dtype=np.float32)[:, None]
                tail = joined[len(joined) - n :] * np.cos(ramp) + lead[:n] * np.sin(ramp)
                parts = [joined[: len(joined) - n], tail.astype(np.float32), lead[n:]]
                have = sum(len(p) for p in parts)
                continue
            parts.append(chunk)
            have += len(chunk)
        self.pending = np.concatenate(parts)

    def _lead(self, count: int) -> Samples:
        parts, have = [], 0
        while have < count:
            chunk = next(self.stream, None)
            if chunk is None:
                break
            parts.append(chunk)
            have += len(chunk)
        joined = np.concatenate(parts) if parts else np.zeros((0, 2), np.float32)
        if len(joined) > count:  # what is past the lead goes back in front of the stream
            self.stream = _prepend(joined[count:], self.stream)
        return joined[:count]

    def take(self, count: int) -> Samples:
        """The next count samples."""
        self._more(count)
        taken, self.pending = self.pending[:count], self.pending[count:]
        return taken


def _prepend(first: Samples, rest: Iterator[Samples]) -> Iterator[Samples]:
    yield first
    yield from rest


def _fade(t: npt.NDArray[np.float64], at: float, length: float, *, rising: bool) -> Gains:
    """An equal-power fade (sin/cos) of length seconds from at; 1 after (rising) or before."""
    if length <= 0:
        return np.asarray((t >= at) if rising else (t < at), dtype=np.float64)
    share = np.clip((t - at) / length, 0, 1)
    return np.sin(share * math.pi / 2) if rising else np.cos(share * math.pi / 2)


class Layered:
    """A layer played under the cut: its gain at every sample, and its samples."""

    def __init__(self, layer: Layer, *, total: float) -> None:
        self.layer, self.total = layer, total
        self.loop = Loop(layer.path, start=layer.start)
        self.at = 0  # samples of the cut already given
        self.loop_at = round(layer.begin * AUDIO_RATE)  # the loop starts playing here

    def gains(self, start: int, count: int, speech: Sequence[tuple[float, float]]) -> Gains:
        """The layer's linear gain over samples start to start + count of the cut (worked out
        every 5 ms and drawn straight between: no envelope here moves faster)."""
        step = AUDIO_RATE // 200
        coarse = np.arange(start, start + count + step, step)
        curve = self._curve(coarse, speech)
        return np.interp(np.arange(start, start + count), coarse, curve)

    def _curve(
        self, samples: npt.NDArray[np.int64], speech: Sequence[tuple[float, float]]
    ) -> Gains:
        """The layer's linear gain at those samples of the cut."""
        layer = self.layer
        t = samples / AUDIO_RATE
        level = layer.volume - layer.duck * duck_envelope(speech, t)
        gain = 10 ** (level / 20)
        gain *= _fade(t, layer.begin, layer.fade_in or layer.crossfade_in, rising=True)
        end = layer.end if layer.end is not None else self.total
        if layer.end is not None:
            gain *= _fade(t, end, layer.crossfade_out, rising=False)
        if layer.fade_out:
            gain *= _fade(t, self.total - layer.fade_out, layer.fade_out, rising=False)
        for s, e in layer.off:
            # silent over [s, e], fading out before it and in after it
            gain *= 1 - _fade(t, s - OFF_FADE, OFF_FADE, rising=True) * _fade(
                t, e, OFF_FADE, rising=False
            )
        return np.asarray(gain)

    def add(self, y: Samples, start: int, speech: Sequence[tuple[float, float]]) -> None:
        """Mix the layer into y, the cut's samples from start, in place."""
        count = len(y)
        first = max(start, self.loop_at)
        end = self.layer.end if self.layer.end is not None else self.total
        last = min(start + count, round((end + self.layer.crossfade_out) * AUDIO_RATE))
        if last <= first:
            return
        sound = self.loop.take(last - first)
        gains = self.gains(first, last - first, speech)
        y[first - start : last - start] += sound * gains[:, None].astype(np.float32)
