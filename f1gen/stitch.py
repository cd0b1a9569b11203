"""The final cut: clips joined in order with sound and picture in sync at every boundary.

Why not `ffmpeg -f concat -c copy`: each AAC track is a little shorter than its video (1024-sample
frames) and carries encoder priming, so joined as they are the sound drifts by seconds over 24
clips. Here the picture is stream-copied when every clip shares its parameters (otherwise encoded
once), and the sound is rebuilt as one continuous track in which each clip's audio is aligned to
its first video frame and padded or trimmed to exactly its video's duration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import media
from .errors import BadInputError, MediaError, StitchError
from .files import move_durably
from .plan import clip_is_current, expected_fingerprint
from .state import RunState, StateStore
from .storyboard import Scene, Storyboard
from .sync import fetch_missing

if TYPE_CHECKING:
    from .storage import Storage

WIDTH, HEIGHT, FPS = 576, 896, 24
AUDIO_RATE = 48_000
AUDIO_BITRATE = "192k"


@dataclass(frozen=True)
class Source:
    """A clip to put in the cut: a generated take, or footage (always normalized)."""

    name: str
    path: Path
    trim: tuple[float, float] | None = None
    footage: bool = False


@dataclass(frozen=True)
class CutClip:
    """One clip in the cut, with its real measured durations."""

    source: Source
    info: media.MediaInfo
    start: float  # where the clip starts in the cut
    duration: float  # its video duration, and so its slot

    @property
    def path(self) -> Path:
        """The clip file."""
        return self.source.path

    @property
    def trim(self) -> tuple[float, float] | None:
        """The part of the clip used, if not all of it."""
        return self.source.trim


@dataclass(frozen=True)
class StitchResult:
    """What the stitch made."""

    output: Path
    duration: float
    clips: tuple[CutClip, ...]
    video_copied: bool
    fetched: tuple[str, ...] = ()
    link: str | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "output": str(self.output),
            "duration": round(self.duration, 3),
            "video_copied": self.video_copied,
            "fetched": list(self.fetched),
            "link": self.link,
            "clips": [
                {
                    "scene": c.source.name,
                    "path": str(c.path),
                    "start": round(c.start, 4),
                    "duration": round(c.duration, 4),
                }
                for c in self.clips
            ],
        }


def scene_clip(scene: Scene, state: RunState, workdir: Path) -> Path | None:
    """The clip a scene contributes to the cut, or None when it is not done (or changed since)."""
    if scene.footage is not None:
        return scene.footage if scene.footage.is_file() else None
    entry = state.scenes.get(scene.id)
    if entry is None:
        return None
    fingerprint = expected_fingerprint(scene, entry)
    if fingerprint is None or not clip_is_current(entry, fingerprint, workdir):
        return None
    return workdir / str(entry.clip)


def collect(storyboard: Storyboard, workdir: Path) -> list[Source]:
    """Every scene's clip in order; StitchError listing the scenes that are not done."""
    state = StateStore(workdir).load(storyboard=str(storyboard.path), title=storyboard.title)
    found: list[Source] = []
    missing: list[str] = []
    for scene in storyboard.scenes:
        clip = scene_clip(scene, state, workdir)
        if clip is None:
            missing.append(f"{scene.number} ({scene.id})")
        else:
            found.append(Source(scene.id, clip, scene.trim, footage=not scene.generated))
    if missing:
        shown = ", ".join(missing[:8]) + (
            f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        )
        raise StitchError(
            f"{len(missing)} of {len(storyboard.scenes)} scenes are not done yet: {shown}: "
            f"run 'f1gen generate {storyboard.path}' first"
        )
    return found


def layout(sources: list[Source]) -> list[CutClip]:
    """Probe every source and give it its slot: each starts where the earlier ones end."""
    laid: list[CutClip] = []
    start = 0.0
    for source in sources:
        try:
            info = media.probe(source.path)
        except BadInputError as exc:
            raise StitchError(f"{source.name}: {source.path}: {exc.message}") from None
        if info.video is None:
            raise StitchError(f"{source.name}: {source.path}: has no video stream")
        trim = source.trim
        duration = (trim[1] - trim[0]) if trim else info.video.duration
        laid.append(CutClip(source, info, start, duration))
        start += duration
    return laid


def can_copy_video(clips: list[CutClip]) -> bool:
    """True when every clip's H.264 stream shares size, rate and pixel format, untrimmed."""
    shapes = set()
    for clip in clips:
        video = clip.info.video
        assert video is not None
        if clip.trim or clip.source.footage or video.codec != "h264":
            return False
        shapes.add((video.width, video.height, video.fps, video.pix_fmt, video.profile))
    return len(shapes) == 1


def _audio_chain(index: int, clip: CutClip) -> str:
    """Filters that turn input index's audio into exactly the clip's slot at 48 kHz stereo."""
    fmt = f"aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts=stereo"
    length = f"{clip.duration:.6f}"
    if clip.info.audio is None:
        return f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=duration={length}[a{index}]"
    skip = f"atrim=start={clip.trim[0]:.6f}," if clip.trim else ""
    # async with first_pts=0 lines the audio up with the clip's first frame (silence where it
    # starts late); apad + atrim makes it exactly as long as the picture.
    return (
        f"[{index}:a:0]aresample={AUDIO_RATE}:async=1:first_pts=0,{skip}asetpts=PTS-STARTPTS,"
        f"{fmt},apad,atrim=duration={length},asetpts=N/SR/TB[a{index}]"
    )


def _video_chain(index: int, clip: CutClip) -> str:
    """Filters that normalize input index's picture to 576x896, 24 fps, yuv420p, from zero."""
    trim = f"trim=start={clip.trim[0]:.6f}:end={clip.trim[1]:.6f}," if clip.trim else ""
    return (
        f"[{index}:v:0]{trim}setpts=PTS-STARTPTS,"
        f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease,"
        f"pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={FPS},format=yuv420p,"
        f"trim=duration={clip.duration:.6f}[v{index}]"
    )


def _concat_list(videos: list[Path], clips: list[CutClip], path: Path) -> None:
    lines = ["ffconcat version 1.0"]
    for video, clip in zip(videos, clips, strict=True):
        quoted = str(video.resolve()).replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"duration {clip.duration:.6f}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def video_only_command(clips: list[CutClip], videos: list[Path]) -> list[str]:
    """One ffmpeg pass that copies each clip's picture into its own video-only file.

    The concat demuxer times each file from its earliest stream, which is the primed audio
    (negative) in an AAC clip: fed whole clips it starts the picture 64 ms late.
    """
    args: list[str] = []
    for clip in clips:
        args += ["-i", str(clip.path)]
    for index, video in enumerate(videos):
        args += ["-map", f"{index}:v:0", "-c", "copy", "-f", "mp4", str(video)]
    return args


def build_command(
    clips: list[CutClip], *, output: Path, concat_list: Path, videos: list[Path] | None
) -> list[str]:
    """The ffmpeg arguments for the cut; videos, when given, are the video-only copies to join."""
    copy = videos is not None
    args: list[str] = []
    offset = 0
    if videos is not None:
        _concat_list(videos, clips, concat_list)
        args += ["-f", "concat", "-safe", "0", "-i", str(concat_list)]
        offset = 1
    for clip in clips:
        args += ["-i", str(clip.path)]
    chains = [_audio_chain(offset + i, clip) for i, clip in enumerate(clips)]
    joined_audio = "".join(f"[a{offset + i}]" for i in range(len(clips)))
    chains.append(f"{joined_audio}concat=n={len(clips)}:v=0:a=1[aout]")
    if copy:
        video_map, video_codec = ["-map", "0:v:0"], ["-c:v", "copy"]
    else:
        chains += [_video_chain(offset + i, clip) for i, clip in enumerate(clips)]
        joined_video = "".join(f"[v{offset + i}]" for i in range(len(clips)))
        chains.append(f"{joined_video}concat=n={len(clips)}:v=1:a=0[vout]")
        video_map = ["-map", "[vout]"]
        video_codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20"]
        video_codec += ["-pix_fmt", "yuv420p", "-r", str(FPS)]
    args += ["-filter_complex", ";".join(chains), *video_map, "-map", "[aout]", *video_codec]
    # The fast AAC coder is about 3x quicker than the default twoloop, and transparent at 192k.
    args += ["-c:a", "aac", "-aac_coder", "fast", "-b:a", AUDIO_BITRATE]
    args += ["-ar", str(AUDIO_RATE), "-ac", "2", "-movflags", "+faststart"]
    args += ["-f", "mp4", str(output)]
    return args


def stitch(
    storyboard: Storyboard,
    *,
    workdir: Path,
    output: Path | None = None,
    ffmpeg: str | None = None,
    storage: Storage | None = None,
) -> StitchResult:
    """Make the final cut of a storyboard whose scenes are all done.

    With storage, clips missing here are fetched from the bucket first, and the cut is uploaded.
    """
    fetched = fetch_missing(storyboard, workdir=workdir, storage=storage) if storage else []
    result = join(
        collect(storyboard, workdir),
        output=output or workdir / "final.mp4",
        scratch=workdir / "tmp",
        ffmpeg=ffmpeg,
    )
    if storage is None:
        return replace(result, fetched=tuple(fetched))
    uploaded = storage.upload(result.output, result.output.name)
    return replace(result, fetched=tuple(fetched), link=storage.link(uploaded.key))


def join(
    sources: list[Source], *, output: Path, scratch: Path, ffmpeg: str | None = None
) -> StitchResult:
    """Join sources into output, in order, keeping each one's sound on its picture."""
    clips = layout(sources)
    output.parent.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".partial-{os.getpid()}-{output.name}")
    concat_list = scratch / f".partial-concat-{os.getpid()}.txt"
    copied = can_copy_video(clips)
    videos = [scratch / f".partial-video-{os.getpid()}-{i:03d}.mp4" for i in range(len(clips))]
    try:
        if copied:
            media.run_ffmpeg(video_only_command(clips, videos), ffmpeg=ffmpeg, what="stitch: video")
        args = build_command(
            clips, output=partial, concat_list=concat_list, videos=videos if copied else None
        )
        media.run_ffmpeg(args, ffmpeg=ffmpeg, what="stitch")
        move_durably(partial, output)
    except MediaError as exc:
        raise StitchError(exc.message) from None
    finally:
        for leftover in (partial, concat_list, *videos):
            leftover.unlink(missing_ok=True)
    total = sum(c.duration for c in clips)
    return StitchResult(output=output, duration=total, clips=tuple(clips), video_copied=copied)
