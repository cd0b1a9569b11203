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
FLOOR_RAMP = 0.3  # s: how fast a floor gain comes and goes around speech (at most 12 dB/0.3 s)
FLOOR_SHARE = 0.1  # a clip's floor: the quietest tenth of its non-speech windows
HANDLE_MIN, HANDLE_MAX = 0.2, 1.2  # s: a seam's crossfade, longer for a bigger step
DB_PER_SECOND = 24.0  # the step a seam spreads over a second: 1.2 dB a window
DUCK_ATTACK, DUCK_RELEASE = 0.12, 0.35  # s: music and bed go down before a line, up after it
OFF_FADE = 0.5  # s: the music's fades around a scene that says `music: off`
BED_SWITCH = 1.0  # s: one ambience crossfading into the next at a scene
LOOP_CROSSFADE = 0.5  # s at most (a quarter of a short file): where a loop meets itself
HELD = 60.0  # s: a file up to this long is decoded once and looped from memory (23 MB)
SILENT = 1e-12  # power under which a window is digital silence
EDGE_DROP = 30.0  # dB: a clip's sound that falls this far at its ends is the codec's padding


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
    when clear of speech, else its quietest stretch entered by a short crossfade."""
    span = min(round(TONE * AUDIO_RATE), end)
    own = x[end - span : end]
    if free_of(speech, end - span, end) or quiet[1] <= quiet[0]:
        return continue_after(own, count)
    return _entered(continue_after(own, count), continue_after(x[quiet[0] : quiet[1]], count))


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


def floor_envelope(sound: ClipSound, gain_db: float) -> Gains | None:
    """The linear gain bringing a clip's background toward the cut's floor, 1 on its speech and
    changing smoothly (linear in dB) around it; None for no change."""
    if abs(gain_db) < 0.05:
        return None
    share = away_from(sound.speech, sound.samples, ramp=FLOOR_RAMP)
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


def _clear_tail(sound: ClipSound) -> int:
    """Samples at the end of a clip's slot clear of speech."""
    last = max((e for _, e in sound.speech), default=0)
    return max(0, sound.samples - last)


def _clear_head(sound: ClipSound) -> int:
    """Samples at the start of a clip's slot clear of speech."""
    return min((s for s, _ in sound.speech), default=sound.samples)


def _edge_level(x: Samples, sound: ClipSound, *, tail: bool) -> float:
    """The level (dBFS) of the background a seam crossfades at one end of a clip: its last (or
    first) quarter second clear of speech, or its quietest stretch when speech runs to the end."""
    clear = _clear_tail(sound) if tail else _clear_head(sound)
    probe = min(round(0.25 * AUDIO_RATE), clear)
    if probe >= WINDOW:
        part = x[len(x) - probe :] if tail else x[:probe]
    else:
        part = x[sound.quiet[0] : sound.quiet[1]]
    return db(float((part.astype(np.float64) ** 2).mean())) if len(part) else -math.inf


def handles(out: ClipSound, into: ClipSound, step_db: float) -> tuple[int, int]:
    """A seam's handles (samples before and after the join): long enough to spread the step
    (DB_PER_SECOND), within the non-speech ends of both clips."""
    if not math.isfinite(step_db):
        step_db = 0.0
    want = round(min(HANDLE_MAX, max(HANDLE_MIN, abs(step_db) / DB_PER_SECOND)) * AUDIO_RATE)
    room_out, room_in = _clear_tail(out), _clear_head(into)
    before = min(room_out, want // 2)
    after = min(room_in, want - before)
    before = min(room_out, want - after)
    return before, after


def crossfade_levels(out: Samples, into: Samples) -> Samples:
    """out fading into into (same length, uncorrelated), their sum's level moving evenly in dB
    from out's to into's: the quieter follows an equal-power ramp, the louder whatever keeps
    the sum on its course."""
    n = len(out)
    if not n:
        return out
    p_out = float((out.astype(np.float64) ** 2).mean()) + SILENT
    p_in = float((into.astype(np.float64) ** 2).mean()) + SILENT
    u = (np.arange(n) + 0.5) / n
    target = p_out ** (1 - u) * p_in**u
    if p_in <= p_out:
        g_in2 = u
        g_out2 = np.clip((target - g_in2 * p_in) / p_out, 0, 1)
    else:
        g_out2 = 1 - u
        g_in2 = np.clip((target - g_out2 * p_out) / p_in, 0, 1)
    mixed = out * np.sqrt(g_out2)[:, None] + into * np.sqrt(g_in2)[:, None]
    return mixed.astype(np.float32)


def seam(out: ClipSound, x_out: Samples, into: ClipSound, x_in: Samples) -> tuple[Seam, Samples]:
    """The join of two clips' (already leveled) sounds: the crossfaded stretch around it, the
    outgoing clip's last `before` samples and the incoming one's first `after`."""
    level_out = _edge_level(x_out, out, tail=True)
    level_in = _edge_level(x_in, into, tail=False)
    step = level_in - level_out if math.isfinite(level_in - level_out) else 60.0
    before, after = handles(out, into, step)
    n = before + after
    if not n:
        return Seam(0, 0, level_out, level_in), np.zeros((0, 2), np.float32)
    carried = np.concatenate(
        [x_out[len(x_out) - before :],
         tail_tone(x_out, len(x_out), after, speech=out.speech, quiet=out.quiet)]
    )  # fmt: skip
    led = np.concatenate(
        [head_tone(x_in, 0, before, speech=into.speech, quiet=into.quiet), x_in[:after]]
    )
    made = crossfade_levels(carried, led)
    return Seam(before / AUDIO_RATE, after / AUDIO_RATE, level_out, level_in), made


def seamed(
    leveled: Iterator[tuple[ClipSound, Samples]], *, seams: bool, record: list[Seam]
) -> Iterator[Samples]:
    """Each clip's slot in order, joined by seams (when on): one clip ahead is held."""
    ahead = next(leveled, None)
    carry: Samples | None = None
    while ahead is not None:
        sound, current = ahead
        ahead = next(leveled, None)
        if carry is not None:
            current[: len(carry)] = carry
            carry = None
        if seams and ahead is not None:
            done, made = seam(sound, current, ahead[0], ahead[1])
            record.append(done)
            before = round(done.before * AUDIO_RATE)
            if before:
                current[len(current) - before :] = made[:before]
            carry = made[before:]
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
