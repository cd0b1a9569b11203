"""ffmpeg and media probing: the only module that runs subprocesses or opens media with PyAV.

Other programs (espeak-ng, crontab) go through the same door: run_program and run_tool.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import BadInputError, ClipRejected, ConfigError, MediaError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .clipspec import ClipSpec


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream of a file."""

    codec: str
    width: int
    height: int
    fps: Fraction
    frames: int
    duration: float
    start: float
    pix_fmt: str | None
    profile: str | None
    index: int = 0  # its place among the file's streams


@dataclass(frozen=True)
class AudioInfo:
    """The first audio stream of a file."""

    codec: str
    sample_rate: int
    channels: int
    duration: float
    start: float


@dataclass(frozen=True)
class MediaInfo:
    """What a probe found in a media file."""

    path: Path
    duration: float
    video: VideoInfo | None
    audio: AudioInfo | None


@lru_cache(maxsize=8)
def find_ffmpeg(configured: str | None = None) -> str:
    """F1GEN_FFMPEG when set, else an ffmpeg on PATH, else the imageio-ffmpeg wheel's binary."""
    if configured:
        found = shutil.which(configured)
        if not found:
            raise ConfigError(f"F1GEN_FFMPEG={configured!r} is not an executable: fix or unset it")
        return found
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        raise ConfigError(
            "no ffmpeg found: install the imageio-ffmpeg package or put ffmpeg on PATH"
        ) from None


def which(program: str) -> str | None:
    """The path of program on PATH, or None."""
    return shutil.which(program)


def run_ffmpeg(
    args: Sequence[str | Path],
    *,
    ffmpeg: str | None = None,
    what: str,
    feed: Callable[[IO[bytes]], None] | None = None,
) -> str:
    """Run ffmpeg with args (never a shell string); return its stderr; MediaError on failure.

    feed, when given, writes what ffmpeg reads as `pipe:0` while it runs.
    """
    exe = find_ffmpeg(ffmpeg)
    command = [exe, "-hide_banner", "-nostdin", "-y", *map(str, args)]
    if feed is None:
        return run_tool(command, what=what)
    return _run_fed(command, feed, what=what)


def _run_fed(command: list[str], feed: Callable[[IO[bytes]], None], *, what: str) -> str:
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise MediaError(f"{what}: cannot run {Path(command[0]).name}: {exc.strerror}") from None
    assert process.stdin is not None and process.stderr is not None
    stderr = process.stderr
    chunks: list[bytes] = []
    # stderr is drained on its own thread: a full pipe would stop ffmpeg, and so the feed.
    reader = threading.Thread(target=lambda: chunks.append(stderr.read()), daemon=True)
    reader.start()
    try:
        try:
            feed(process.stdin)
        except BrokenPipeError:
            pass  # ffmpeg stopped reading: its exit status and its last words say why
        finally:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
        returncode = process.wait()
    except BaseException:  # Ctrl-C, a stop: ffmpeg goes too, whether fed yet or finishing
        process.kill()
        process.wait()
        raise
    reader.join()
    text = b"".join(chunks).decode(errors="replace")
    if returncode != 0:
        raise _failed(what, command[0], returncode, text)
    return text


# What a program says when the disk, not the media, stopped it: a full or read-only disk.
WRITE_FAILURES = tuple(os.strerror(code) for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS))


def write_failure(message: str) -> str | None:
    """The reason a failure's message gives when a file could not be written, if that is it."""
    return next((reason for reason in WRITE_FAILURES if reason in message), None)


def _failed(what: str, program: str, returncode: int, stderr: str) -> MediaError:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    # ffmpeg ends with "Conversion failed!": the line that says why is an earlier one.
    named = [line for line in lines if write_failure(line)]
    tail = (named or lines)[-1] if lines else f"exit status {returncode}"
    return MediaError(f"{what}: {Path(program).name} failed: {tail}")


def ffmpeg_version(ffmpeg: str | None = None) -> str:
    """The first line ffmpeg prints of its version."""
    exe = find_ffmpeg(ffmpeg)
    out = run_tool([exe, "-hide_banner", "-version"], what="ffmpeg -version", stdout=True)
    return out.splitlines()[0] if out else "unknown version"


def run_program(command: Sequence[str], *, what: str) -> subprocess.CompletedProcess[str]:
    """Run a program (an argument list, never a shell string) and return what it did."""
    try:
        return subprocess.run(
            command, capture_output=True, text=True, errors="replace", check=False
        )
    except OSError as exc:
        raise MediaError(f"{what}: cannot run {Path(command[0]).name}: {exc.strerror}") from None


def run_tool(command: Sequence[str], *, what: str, stdout: bool = False) -> str:
    """Run a program; its stderr (or stdout) on success, MediaError naming what failed."""
    done = run_program(command, what=what)
    if done.returncode != 0:
        raise _failed(what, command[0], done.returncode, done.stderr)
    return done.stdout if stdout else done.stderr


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe(path: Path) -> MediaInfo:
    """Streams and durations of a media file; BadInputError when it is not media."""
    import av

    try:
        with av.open(str(path)) as container:
            return _info(path, container)
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise BadInputError(f"not a readable video ({_short(exc)})") from None


def _ticks(seconds: float, time_base: Fraction | None) -> int:
    return round(seconds / (time_base or Fraction(1, 1_000_000)))


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] or type(exc).__name__


def _info(path: Path, container: Any) -> MediaInfo:
    video = audio = None
    total = (container.duration or 0) / 1_000_000
    if container.streams.video:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        fps = stream.average_rate or stream.guessed_rate or Fraction(24)
        duration = _seconds(stream.duration, stream.time_base) or total
        frames = stream.frames or round(duration * fps)
        video = VideoInfo(
            codec=ctx.name,
            width=ctx.width,
            height=ctx.height,
            fps=Fraction(fps),
            frames=int(frames),
            duration=frames / float(fps) if stream.frames else duration,
            start=_seconds(stream.start_time, stream.time_base) or 0.0,
            pix_fmt=ctx.pix_fmt,
            profile=ctx.profile,
            index=stream.index,
        )
    if container.streams.audio:
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        audio = AudioInfo(
            codec=ctx.name,
            sample_rate=ctx.sample_rate,
            channels=ctx.channels,
            duration=_seconds(stream.duration, stream.time_base) or total,
            start=_seconds(stream.start_time, stream.time_base) or 0.0,
        )
    return MediaInfo(path=path, duration=total, video=video, audio=audio)


def frame_at(path: Path, part: tuple[float, float], *, fit: tuple[int, int] | None = None) -> Any:
    """A frame of the part (seconds of the file) of path, as a PIL image (scaled to fit inside
    fit, if given), decoded cheaply: the keyframe at or before the part's middle, or the part's
    first frame when that keyframe lies before the part.

    A generated clip usually has one keyframe, its first frame: a frame or two is decoded, not
    the dozens between it and the middle.
    """
    import av

    start, end = part
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            middle = _ticks((start + end) / 2, stream.time_base)
            container.seek(middle, stream=stream, backward=True)
            frame = _first_frame_from(container, stream, start)
            if frame is None:
                raise MediaError(f"{path.name}: has no frames")
            if fit is not None:
                scale = min(fit[0] / frame.width, fit[1] / frame.height)
                width, height = (
                    max(1, round(frame.width * scale)),
                    max(1, round(frame.height * scale)),
                )
                frame = frame.reformat(width=width, height=height, format="rgb24")
            return frame.to_image()
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise MediaError(f"{path.name}: cannot read a frame ({_short(exc)})") from None


def _first_frame_from(container: Any, stream: Any, start: float) -> Any:
    """The first frame decoded at or after start (or the last one), packet by packet: only
    what it takes is decoded."""
    last = None
    for packet in container.demux(stream):
        for frame in stream.codec_context.decode(packet):
            last = frame
            if frame.time is None or frame.time >= start - 0.001:
                return frame
    return last


PCM_FORMAT = "flt"  # what audio_pcm and crossfade_pcm carry: 32-bit float, channels interleaved
PCM_BYTES = 4


def audio_pcm(path: Path, chain: str, *, origin: float | None = None) -> Iterator[bytes]:
    """The first audio stream of path through an ffmpeg filter chain, as raw samples.

    chain is filters separated by commas (no escaping) and must end in a packed format, which
    decides the bytes. Timestamps are shifted so that origin (seconds of the file's own
    timeline) is zero; None: the file's start, as the ffmpeg command line does. One file is
    open at a time, so joining many clips this way takes no more memory than joining two.
    """
    import av
    import av.filter

    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            start = (container.start_time or 0) / 1_000_000 if origin is None else origin
            shift = _ticks(start, stream.time_base)
            graph = av.filter.Graph()
            nodes = [graph.add_abuffer(template=stream)]
            for part in chain.split(","):
                name, _, args = part.partition("=")
                nodes.append(graph.add(name, args or None))
            nodes.append(graph.add("abuffersink"))
            graph.link_nodes(*nodes).configure()
            source, sink = nodes[0], nodes[-1]
            for frame in container.decode(stream):
                if frame.pts is not None:
                    frame.pts -= shift
                try:
                    source.push(frame)
                except EOFError:
                    break  # the chain has all it takes (a trim ended): the rest is not decoded
                yield from _pulled(sink)
            with contextlib.suppress(EOFError):
                source.push(None)
            yield from _pulled(sink)
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise MediaError(f"{path.name}: cannot read its sound ({_short(exc)})") from None


def _pulled(sink: Any) -> Iterator[bytes]:
    """Every frame the sink has ready, as bytes."""
    while True:
        try:
            frame = sink.pull()
        except (BlockingIOError, EOFError):
            return
        size = frame.samples * frame.format.bytes * frame.layout.nb_channels
        yield bytes(frame.planes[0])[:size]


def crossfade_pcm(first: bytes, second: bytes, *, rate: int, spec: str) -> bytes:
    """first (ending) and second (starting) mixed by ffmpeg's acrossfade with spec, e.g.
    'c1=tri:c2=tri'; both are float stereo samples of the same length."""
    import av
    import av.filter

    samples = len(first) // (2 * PCM_BYTES)
    graph = av.filter.Graph()
    inputs = [
        graph.add_abuffer(
            format=PCM_FORMAT, layout="stereo", sample_rate=rate, time_base=Fraction(1, rate)
        )
        for _ in range(2)
    ]
    mixer = graph.add("acrossfade", f"nb_samples={samples}:{spec}")
    sink = graph.add("abuffersink")
    for slot, source in enumerate(inputs):
        source.link_to(mixer, 0, slot)
    mixer.link_to(sink)
    graph.configure()
    for source, data in zip(inputs, (first, second), strict=True):
        frame = av.AudioFrame(format=PCM_FORMAT, layout="stereo", samples=samples)
        frame.planes[0].update(data)
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        source.push(frame)
        source.push(None)
    return b"".join(_pulled(sink))


def check_clip(path: Path, *, spec: ClipSpec) -> MediaInfo:
    """Accept a generated clip only if it decodes fully, has both streams, and has the size and
    a duration its backend's spec accepts."""
    import av

    name = path.name
    try:
        with av.open(str(path)) as container:
            info = _info(path, container)
            if info.video is None or info.audio is None:
                missing = "video" if info.video is None else "audio"
                raise ClipRejected(f"{name}: has no {missing} stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame threads: the full decode costs half as long
            decoded = sum(1 for _ in container.decode(stream))
    except ClipRejected:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise ClipRejected(f"{name}: does not decode ({_short(exc)})") from None
    video = info.video
    if (video.width, video.height) != spec.size:
        raise ClipRejected(f"{name}: is {video.width}x{video.height}, expected {spec.size_text}")
    if decoded < video.frames * 0.95:
        raise ClipRejected(f"{name}: only {decoded} of {video.frames} frames decode (truncated)")
    shortest, longest = spec.window
    if not shortest <= video.duration <= longest:
        raise ClipRejected(f"{name}: lasts {video.duration:.2f} s, expected {shortest}-{longest} s")
    return info


@dataclass(frozen=True)
class Sound:
    """A decoded audio track: float samples in [-1, 1], one row per channel."""

    samples: npt.NDArray[np.float32]
    rate: int

    @property
    def seconds(self) -> float:
        """The track's length."""
        return self.samples.shape[1] / self.rate if self.rate else 0.0


@dataclass(frozen=True)
class Picture:
    """A decoded video track, shrunk to grey frames for analysis (frames x height x width)."""

    frames: npt.NDArray[np.uint8]
    fps: float


def read_sound(path: Path, *, rate: int | None = None, mono: bool = False) -> Sound | None:
    """The first audio track, resampled to rate and mixed down if asked; None when it has none."""
    found = read_sounds(path, rate=rate, mono=mono)
    return None if found is None else found[1]


def read_sounds(path: Path, *, rate: int | None, mono: bool) -> tuple[Sound, Sound] | None:
    """The first audio track as it is, and resampled to rate and mixed down if asked, from one
    decode (the same Sound twice when it is already so); None when it has none."""
    import av
    import numpy as np

    def joined(chunks: list[npt.NDArray[np.float32]], out_rate: int) -> Sound:
        if not chunks:
            return Sound(np.zeros((1, 0), dtype=np.float32), out_rate)
        return Sound(np.concatenate(chunks, axis=1).astype(np.float32, copy=False), out_rate)

    native: list[npt.NDArray[np.float32]] = []
    wanted: list[npt.NDArray[np.float32]] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            context = stream.codec_context
            as_is = (rate is None or rate == context.sample_rate) and (
                not mono or context.channels == 1
            )
            plain = av.AudioResampler(format="fltp")
            shaped = av.AudioResampler(format="fltp", layout="mono" if mono else None, rate=rate)
            native_rate, out_rate = context.sample_rate, rate or context.sample_rate
            for frame in [*container.decode(stream), None]:
                native += [np.asarray(f.to_ndarray(), np.float32) for f in plain.resample(frame)]
                if not as_is:
                    wanted += [
                        np.asarray(f.to_ndarray(), np.float32) for f in shaped.resample(frame)
                    ]
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise MediaError(f"{path.name}: cannot decode its sound ({_short(exc)})") from None
    first = joined(native, native_rate)
    return (first, first) if as_is else (first, joined(wanted, out_rate))


def read_picture(path: Path, *, size: tuple[int, int], every: int = 1) -> Picture | None:
    """Every frame (or one in every) of the first video track, grey (full range) at size, and
    the rate of those kept; None when it has none."""
    import av
    import numpy as np

    frames: list[npt.NDArray[np.uint8]] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = float(stream.average_rate or stream.guessed_rate or 24)
            for index, frame in enumerate(container.decode(stream)):
                if index % every == 0:  # each frame is decoded; only those kept are shrunk
                    small = frame.reformat(width=size[0], height=size[1], format="gray")
                    frames.append(np.asarray(small.to_ndarray(), np.uint8))
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise MediaError(f"{path.name}: cannot decode its picture ({_short(exc)})") from None
    if not frames:
        return Picture(np.zeros((0, size[1], size[0]), dtype=np.uint8), fps / every)
    return Picture(np.stack(frames), fps / every)
