"""Marker clips and sync measurement, shared by tests and benchmarks.

A marker clip has Ovi's shape (121 frames at 24 fps, 576x896, H.264; AAC mono 16 kHz whose track
is a little shorter than the picture) and one white frame with a beep at the same instant. In a
cut, each white frame and its beep must still coincide, within one frame.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from f1gen.media import find_ffmpeg

FPS = 24
FRAMES = 121
FRAME = 1 / FPS


@dataclass(frozen=True)
class MarkerClip:
    """A clip and where its marker is, in seconds from its start."""

    path: Path
    marker: float


def make_marker_clip(
    path: Path,
    *,
    marker_frame: int,
    size: tuple[int, int] = (576, 896),
    fps: int = FPS,
    frames: int = FRAMES,
    audio_rate: int | None = 16_000,
    channels: int = 1,
    flash_frames: int = 1,
    busy: bool = False,
    bed: float = 0.05,
) -> MarkerClip:
    """Write one marker clip with ffmpeg (audio_rate None: no audio track).

    busy: a moving, dimmed test pattern and a noise bed instead of black and silence, so that
    encoders work as hard as on real footage.
    """
    at = marker_frame / fps
    seconds = frames / fps
    background = (
        f"testsrc2=s={size[0]}x{size[1]}:r={fps}:d={seconds:.6f},"
        "colorlevels=romax=0.55:gomax=0.55:bomax=0.55"
        if busy
        else f"color=c=black:s={size[0]}x{size[1]}:r={fps}:d={seconds:.6f}"
    )
    video = (
        f"{background},"
        f"drawbox=c=white:t=fill:enable='between(n,{marker_frame},{marker_frame + flash_frames - 1})'"
    )
    args = [find_ffmpeg(None), "-v", "error", "-y", "-f", "lavfi", "-i", video]
    maps = ["-map", "0:v"]
    if audio_rate:
        noise = f"{bed}*sin(2*PI*173*t)*(0.6+0.4*sin(2*PI*3*t))+" if busy else ""
        beep = (
            f"aevalsrc='{noise}0.8*sin(2*PI*1000*t)*between(t,{at:.6f},{at + 0.06:.6f})'"
            f":s={audio_rate}:d={seconds:.6f}"
        )
        args += ["-f", "lavfi", "-i", beep]
        maps += ["-map", "1:a", "-c:a", "aac", "-ac", str(channels), "-ar", str(audio_rate)]
    args += [*maps, "-frames:v", str(frames), "-t", f"{seconds:.6f}", "-c:v", "libx264",
             "-preset", "veryfast" if busy else "ultrafast", "-pix_fmt", "yuv420p", "-r", str(fps), str(path)]  # fmt: skip
    subprocess.run(args, check=True)
    return MarkerClip(path, at)


def make_marker_clips(
    folder: Path, *, count: int, busy: bool = False, bed: float = 0.05
) -> list[MarkerClip]:
    """count Ovi-shaped marker clips with markers at different frames."""
    return [
        make_marker_clip(
            folder / f"marker-{i:02d}.mp4", marker_frame=24 + (i * 7) % 72, busy=busy, bed=bed
        )
        for i in range(count)
    ]


def _luma(frame: av.VideoFrame) -> np.ndarray:
    """A frame's brightness, 0-255: its Y plane as it is when it has one (3x faster than a
    conversion; white is 235 or 255 either way, black 16 or 0)."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        return frame.to_ndarray(format="gray")
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return rows[: frame.height, : frame.width]


def white_frame_times(path: Path) -> list[float]:
    """Times of the first frame of each run of mostly white frames."""
    times = []
    previous_white = False
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            white = (_luma(frame) > 200).mean() > 0.25
            if white and not previous_white:
                times.append(float(frame.time))
            previous_white = white
    return times


def beep_times(path: Path, *, threshold: float = 0.35, quiet: float = 0.3) -> list[float]:
    """Onsets of the 1 kHz beeps: high-passed level above threshold x its maximum, after quiet.

    The first difference of the signal passes the beep about six times better than a low sound
    bed, and the threshold is relative, so gain changes (loudness normalization) do not matter.
    """
    chunks = []
    rate = 0
    start = None
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            if start is None:
                start = float(frame.time or 0.0)
            rate = frame.sample_rate
            data = frame.to_ndarray()
            chunks.append(data.reshape(data.shape[0], -1)[0])  # the first channel
    if not chunks:
        return []
    level = np.abs(np.diff(np.concatenate(chunks)))
    loud = np.flatnonzero(level > threshold * level.max())
    onsets: list[float] = []
    last = -1e9
    for index in loud:
        if (index - last) / rate >= quiet:
            onsets.append((start or 0.0) + index / rate)
        last = index
    return onsets


def stream_starts(path: Path) -> dict[str, float]:
    """start_time of each stream in seconds."""
    with av.open(str(path)) as container:
        return {
            s.type: float((s.start_time or 0) * s.time_base)
            for s in container.streams
            if s.time_base
        }


def worst_offset(path: Path) -> tuple[float, list[float], list[float]]:
    """The worst distance between each white frame and its beep, and both lists of times."""
    frames = white_frame_times(path)
    beeps = beep_times(path)
    if len(frames) != len(beeps) or not frames:
        return float("inf"), frames, beeps
    return max(abs(f - b) for f, b in zip(frames, beeps, strict=True)), frames, beeps


def rewrite(
    source: MarkerClip, path: Path, *, drop_frames: int = 0, audio_first: bool = False
) -> MarkerClip:
    """A copy of a marker clip, still in sync, whose streams start apart or come in another order.

    drop_frames: the picture loses its first frames but keeps its timestamps, so it starts after
    the sound (as in files whose first frames were cut without re-timing). audio_first: the sound
    is the file's first stream.
    """
    args = [find_ffmpeg(None), "-v", "error", "-y", "-copyts", "-i", str(source.path)]
    if drop_frames:
        args += ["-vf", f"trim=start_frame={drop_frames}", "-c:v", "libx264", "-preset", "ultrafast",
                 "-pix_fmt", "yuv420p"]  # fmt: skip
    else:
        args += ["-c:v", "copy"]
    maps = ["-map", "0:a", "-map", "0:v"] if audio_first else ["-map", "0:v", "-map", "0:a"]
    subprocess.run([*args, *maps, "-c:a", "copy", str(path)], check=True)
    return MarkerClip(path, source.marker)


@dataclass(frozen=True)
class VoicedClip:
    """A clip with a room tone at a known level, one line of (stand-in) speech at a known place
    (seconds of its sound track), and a marker (white frame and beep) inside that line."""

    path: Path
    marker: float
    floor_db: float
    speech: tuple[float, float]


def tone_noise(seconds: float, *, rate: int, level_db: float, seed: int) -> np.ndarray:
    """Room tone: low-passed noise whose RMS is level_db dBFS."""
    noise = np.random.default_rng(seed).standard_normal(round(seconds * rate))
    smooth = np.convolve(noise, np.ones(4) / 4, mode="same")
    return smooth / np.sqrt((smooth**2).mean()) * 10 ** (level_db / 20)


def voice(seconds: float, *, rate: int, level_db: float, pitch: float = 140.0) -> np.ndarray:
    """A stand-in for speech: a buzz with its harmonics, in 4 Hz syllables, RMS level_db dBFS."""
    t = np.arange(round(seconds * rate)) / rate
    buzz = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 12))
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    sound = buzz * syllables
    return sound / np.sqrt((sound**2).mean()) * 10 ** (level_db / 20)


def make_voiced_clip(
    path: Path,
    *,
    floor_db: float,
    speech: tuple[float, float] = (1.4, 3.2),
    speech_db: float = -20.0,
    marker_frame: int = 60,
    seed: int = 0,
    sound_seconds: float = 4.95,
    bang: float | None = None,
) -> VoicedClip:
    """An Ovi-shaped clip (121 frames at 24 fps, AAC 16 kHz mono, its sound shorter than its
    picture) whose room tone is floor_db dBFS, with a line at speech and a marker within it
    (and a bang, 60 ms of noise at -10 dBFS, from bang seconds)."""
    rate = 16_000
    sound = tone_noise(sound_seconds, rate=rate, level_db=floor_db, seed=seed)
    start, end = (round(s * rate) for s in speech)
    sound[start:end] += voice((end - start) / rate, rate=rate, level_db=speech_db)
    at = marker_frame / FPS
    beep = round(at * rate)
    t = np.arange(round(0.06 * rate)) / rate
    sound[beep : beep + len(t)] += 0.8 * np.sin(2 * np.pi * 1000 * t)
    if bang is not None:
        first = round(bang * rate)
        burst = np.random.default_rng(seed + 1000).standard_normal(round(0.06 * rate))
        sound[first : first + len(burst)] += burst * 10 ** (-10 / 20)
    wav = path.with_suffix(".wav")
    import wave

    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(sound, -1, 1) * 32767).astype("<i2").tobytes())
    seconds = FRAMES / FPS
    video = (
        f"color=c=black:s=576x896:r={FPS}:d={seconds:.6f},"
        f"drawbox=c=white:t=fill:enable='between(n,{marker_frame},{marker_frame})'"
    )
    subprocess.run([find_ffmpeg(None), "-v", "error", "-y", "-f", "lavfi", "-i", video, "-i", str(wav),
                    "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-ar", str(rate), "-ac", "1",
                    "-frames:v", str(FRAMES), "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", str(path)], check=True)  # fmt: skip
    wav.unlink()
    return VoicedClip(path, at, floor_db, speech)


def levels_db(path: Path, *, window: float = 0.05) -> tuple[np.ndarray, float]:
    """The level of a file's sound in windows of window seconds (dBFS, both channels), and
    the time of its first sample."""
    chunks, rate, start = [], 0, None
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            if start is None:
                start = float(frame.time or 0.0)
            rate = frame.sample_rate
            data = frame.to_ndarray()
            chunks.append(
                data.reshape(frame.layout.nb_channels, -1) if data.ndim > 1 else data[None]
            )
    sound = np.concatenate(chunks, axis=1).astype(np.float64)
    size = round(window * rate)
    count = sound.shape[1] // size
    power = (sound[:, : count * size] ** 2).mean(axis=0).reshape(count, size).mean(axis=1)
    return 10 * np.log10(power + 1e-20), start or 0.0


def ebur128(ffmpeg: str, path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) as ffmpeg's EBU R128 scanner reads them."""
    done = subprocess.run([ffmpeg, "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true",
                           "-f", "null", "-"], capture_output=True, text=True, check=True)  # fmt: skip
    summary = done.stderr[done.stderr.rfind("Summary:") :]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))  # type: ignore[union-attr]
    peak = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1))  # type: ignore[union-attr]
    return integrated, peak
