"""Marker clips and sync measurement, shared by tests and benchmarks.

A marker clip has Ovi's shape (121 frames at 24 fps, 576x896, H.264; AAC mono 16 kHz whose track
is a little shorter than the picture) and one white frame with a beep at the same instant. In a
cut, each white frame and its beep must still coincide, within one frame.
"""

from __future__ import annotations

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
