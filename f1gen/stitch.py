"""The final cut: clips joined in order with sound and picture in sync at every boundary.

Why not `ffmpeg -f concat -c copy`: each AAC track is a little shorter than its video (1024-sample
frames) and carries encoder priming, so joined as they are the sound drifts by seconds over 24
clips. Here the picture is stream-copied when every clip shares its parameters (otherwise encoded
once), and the sound is rebuilt as one continuous track in which each clip's audio is aligned to
its first video frame and padded or trimmed to exactly its video's duration.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from . import __version__, media
from .captions import Cue, draw_caption, to_srt, to_vtt
from .errors import BadInputError, MediaError, StitchError, WriteError
from .files import file_digest, move_durably, write_atomic
from .plan import scene_clip
from .prompts import build as build_prompt
from .sheets import contact_sheet, poster
from .state import RunState, StateStore
from .storyboard import Storyboard
from .sync import fetch_missing

if TYPE_CHECKING:
    from .storage import Storage

WIDTH, HEIGHT, FPS = 576, 896, 24
AUDIO_RATE = 48_000
AUDIO_BITRATE = "192k"
PREVIEW = (288, 448)


@dataclass(frozen=True)
class CutOptions:
    """How the cut is finished: captions, loudness, joins, and a quick preview."""

    burn_captions: bool = False
    loudnorm: bool = True
    loudness: float = -14.0  # LUFS integrated
    true_peak: float = -1.0  # dBTP ceiling
    fade_ms: int = 20
    crossfade: float = 0.0
    preview: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """The output frame size."""
        return PREVIEW if self.preview else (WIDTH, HEIGHT)


@dataclass(frozen=True)
class Loudness:
    """What the first loudnorm pass measured of the joined sound."""

    input_i: float
    input_tp: float
    input_lra: float
    input_thresh: float
    target_offset: float


@dataclass(frozen=True)
class Source:
    """A clip to put in the cut: a generated take, or footage (always normalized)."""

    name: str
    path: Path
    trim: tuple[float, float] | None = None
    footage: bool = False
    caption: str | None = None


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

    @property
    def middle(self) -> float:
        """The second, in the clip's own file, halfway through the part the cut uses."""
        return (self.trim[0] if self.trim else 0.0) + self.duration / 2


@dataclass(frozen=True)
class StitchResult:
    """What the stitch made."""

    output: Path
    duration: float
    clips: tuple[CutClip, ...]
    video_copied: bool
    loudness: Loudness | None = None
    side_files: tuple[Path, ...] = ()
    fetched: tuple[str, ...] = ()
    link: str | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "output": str(self.output),
            "duration": round(self.duration, 3),
            "video_copied": self.video_copied,
            "loudness": asdict(self.loudness) if self.loudness else None,
            "side_files": [str(p) for p in self.side_files],
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


def collect(storyboard: Storyboard, workdir: Path, state: RunState) -> list[Source]:
    """Every scene's clip in order; StitchError listing the scenes that are not done."""
    found: list[Source] = []
    missing: list[str] = []
    for scene in storyboard.scenes:
        clip = scene_clip(scene, state, workdir)
        if clip is None:
            missing.append(f"{scene.number} ({scene.id})")
        else:
            found.append(
                Source(
                    scene.id, clip, scene.trim, footage=not scene.generated, caption=scene.speech
                )
            )
    if missing:
        shown = ", ".join(missing[:8]) + (
            f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        )
        raise StitchError(
            f"{len(missing)} of {len(storyboard.scenes)} scenes are not done yet: {shown}: "
            f"run 'f1gen generate {storyboard.path}' first"
        )
    return found


def layout(sources: list[Source], *, crossfade: float = 0.0) -> list[CutClip]:
    """Probe every source and give it its slot: each starts where the earlier ones end
    (less the crossfade, when clips overlap in transitions)."""
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
        if crossfade and duration <= 2 * crossfade:
            raise StitchError(
                f"{source.name}: {duration:.2f} s is too short for a {crossfade} s crossfade"
            )
        laid.append(CutClip(source, info, start, duration))
        start += duration - crossfade
    return laid


def uniform(clips: list[CutClip]) -> bool:
    """True when every clip is an untrimmed generated take with one and the same H.264 shape,
    so that the concat demuxer can read them as one stream."""
    shapes = set()
    for clip in clips:
        video = clip.info.video
        assert video is not None
        if clip.trim or clip.source.footage or video.codec != "h264":
            return False
        shapes.add((video.width, video.height, video.fps, video.pix_fmt, video.profile))
    return len(shapes) == 1


def can_copy_video(clips: list[CutClip], options: CutOptions) -> bool:
    """True when the picture can be stream-copied: uniform takes, nothing drawn on them."""
    return not (options.burn_captions or options.crossfade or options.preview) and uniform(clips)


class Graph:
    """Inputs and filter chains of one ffmpeg command, with input numbers handed out in order."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.chains: list[str] = []
        self._count = 0

    def add_input(self, *args: str) -> int:
        """Add an input (its options then -i PATH); its number."""
        self.args += args
        self._count += 1
        return self._count - 1


def _audio_chain(index: int, clip: CutClip, label: str, options: CutOptions) -> str:
    """Filters that turn input index's audio into exactly the clip's slot at 48 kHz stereo."""
    fmt = f"aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts=stereo"
    length = clip.duration
    fade = options.fade_ms / 1000
    # Short fades at each join take the click out of clips' invented ambience, not the sync.
    fades = (
        f",afade=t=in:st=0:d={fade:.3f},afade=t=out:st={length - fade:.6f}:d={fade:.3f}"
        if fade and not options.crossfade
        else ""
    )
    if clip.info.audio is None:
        return f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=duration={length:.6f},{fmt}[{label}]"
    skip = f"atrim=start={clip.trim[0]:.6f}," if clip.trim else ""
    # async with first_pts=0 lines the audio up with the clip's first frame (silence where it
    # starts late); apad + atrim makes it exactly as long as the picture.
    return (
        f"[{index}:a:0]aresample={AUDIO_RATE}:async=1:first_pts=0,{skip}asetpts=PTS-STARTPTS,"
        f"{fmt},apad,atrim=duration={length:.6f},asetpts=N/SR/TB{fades}[{label}]"
    )


def _video_chain(index: int, clip: CutClip, label: str) -> str:
    """Filters that normalize input index's picture to 576x896, 24 fps, yuv420p, from zero."""
    trim = f"trim=start={clip.trim[0]:.6f}:end={clip.trim[1]:.6f}," if clip.trim else ""
    chain = (
        f"[{index}:v:0]{trim}setpts=PTS-STARTPTS,"
        f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease,"
        f"pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={FPS},format=yuv420p,"
        f"trim=duration={clip.duration:.6f}"
    )
    return f"{chain}[{label}]"


def _join_audio(graph: Graph, labels: list[str], clips: list[CutClip], options: CutOptions) -> str:
    """Join the per-clip tracks (concat, or acrossfade in transitions); the joined label."""
    if options.crossfade and len(labels) > 1:
        current = labels[0]
        for n, label in enumerate(labels[1:], start=1):
            graph.chains.append(
                f"[{current}][{label}]acrossfade=d={options.crossfade:.6f}:c1=tri:c2=tri[ax{n}]"
            )
            current = f"ax{n}"
        return current
    graph.chains.append(
        f"{''.join(f'[{x}]' for x in labels)}concat=n={len(labels)}:v=0:a=1[ajoined]"
    )
    return "ajoined"


def _join_video(graph: Graph, labels: list[str], clips: list[CutClip], options: CutOptions) -> str:
    if options.crossfade and len(labels) > 1:
        current, length = labels[0], clips[0].duration
        for n, (label, clip) in enumerate(zip(labels[1:], clips[1:], strict=True), start=1):
            offset = length - options.crossfade
            graph.chains.append(
                f"[{current}][{label}]xfade=transition=fade:duration={options.crossfade:.6f}"
                f":offset={offset:.6f}[vx{n}]"
            )
            current, length = f"vx{n}", offset + clip.duration
        return current
    graph.chains.append(
        f"{''.join(f'[{x}]' for x in labels)}concat=n={len(labels)}:v=1:a=0[vjoined]"
    )
    return "vjoined"


def audio_graph(graph: Graph, clips: list[CutClip], inputs: list[int], options: CutOptions) -> str:
    """Add the joined-sound chains to graph; the label of the joined (not yet normalized) track."""
    labels = [f"a{i}" for i in range(len(clips))]
    for index, clip, label in zip(inputs, clips, labels, strict=True):
        graph.chains.append(_audio_chain(index, clip, label, options))
    return _join_audio(graph, labels, clips, options)


def loudnorm_filter(options: CutOptions, measured: Loudness | None) -> str:
    """EBU R128 loudnorm: the measuring first pass, or the linear second pass."""
    # Aim a little under the ceiling: the AAC encode can add a few tenths of a dB of true peak.
    target = f"I={options.loudness}:TP={options.true_peak - 0.5}:LRA=11"
    if measured is None:
        return f"loudnorm={target}:print_format=json"
    return (
        f"loudnorm={target}:measured_I={measured.input_i}:measured_TP={measured.input_tp}"
        f":measured_LRA={measured.input_lra}:measured_thresh={measured.input_thresh}"
        f":offset={measured.target_offset}:linear=true:print_format=summary"
    )


def measure_loudness(clips: list[CutClip], options: CutOptions, *, ffmpeg: str | None) -> Loudness:
    """The first loudnorm pass over the joined sound (audio only: a fraction of a second)."""
    graph = Graph()
    inputs = [graph.add_input("-i", str(clip.path)) for clip in clips]
    joined = audio_graph(graph, clips, inputs, options)
    graph.chains.append(f"[{joined}]{loudnorm_filter(options, None)}[measured]")
    args = [
        *graph.args,
        "-filter_complex",
        ";".join(graph.chains),
        "-map",
        "[measured]",
        "-f",
        "null",
        "-",
    ]
    stderr = media.run_ffmpeg(["-loglevel", "info", *args], ffmpeg=ffmpeg, what="stitch: loudness")
    start, end = stderr.rfind("{"), stderr.rfind("}")
    try:
        data = json.loads(stderr[start : end + 1])
        values = {
            k: float(data[k])
            for k in ("input_i", "input_tp", "input_lra", "input_thresh", "target_offset")
        }
    except (ValueError, KeyError):
        raise StitchError(
            "stitch: ffmpeg's loudness measurement could not be read: try --no-loudnorm"
        ) from None
    if any(math.isinf(v) or math.isnan(v) for v in values.values()):
        raise _Silent()
    return Loudness(**values)


class _Silent(Exception):
    """The cut has no sound to normalize."""


def build_command(
    clips: list[CutClip],
    *,
    output: Path,
    options: CutOptions,
    concat_list: Path | None,
    captions: Path | None,
    measured: Loudness | None,
    copy: bool,
) -> list[str]:
    """The ffmpeg arguments for the cut.

    With concat_list the picture comes from one concat demuxer input (copied, or filtered and
    encoded when captions or a preview need it); without, each clip is normalized on its own.
    """
    graph = Graph()
    if concat_list is not None:
        graph.add_input("-f", "concat", "-safe", "0", "-i", str(concat_list))
    inputs = [graph.add_input("-i", str(clip.path)) for clip in clips]
    joined = audio_graph(graph, clips, inputs, options)
    loud = f"{loudnorm_filter(options, measured)}," if measured is not None else ""
    graph.chains.append(
        f"[{joined}]{loud}aresample={AUDIO_RATE},aformat=channel_layouts=stereo[aout]"
    )
    if copy:
        video_map, video_codec = ["-map", "0:v:0"], ["-c:v", "copy"]
    else:
        if concat_list is not None:  # one decoder for all: memory stays flat
            graph.chains.append("[0:v:0]setpts=PTS-STARTPTS[vjoined]")
            joined_video = "vjoined"
        else:
            labels = [f"v{i}" for i in range(len(clips))]
            for index, clip, label in zip(inputs, clips, labels, strict=True):
                graph.chains.append(_video_chain(index, clip, label))
            joined_video = _join_video(graph, labels, clips, options)
        if captions is not None:
            # One input carries every caption image, each held for its cue: decoded in order,
            # so memory stays flat however many scenes there are.
            track = graph.add_input("-f", "concat", "-safe", "0", "-i", str(captions))
            graph.chains.append(
                f"[{track}:v]setpts=PTS-STARTPTS[captions];"
                f"[{joined_video}][captions]overlay=format=auto:eof_action=pass[captioned]"
            )
            joined_video = "captioned"
        scale = f",scale={options.size[0]}:{options.size[1]}" if options.preview else ""
        graph.chains.append(f"[{joined_video}]format=yuv420p{scale}[vout]")
        video_map = ["-map", "[vout]"]
        preset, crf = ("ultrafast", "30") if options.preview else ("veryfast", "20")
        video_codec = ["-c:v", "libx264", "-preset", preset, "-crf", crf]
        video_codec += ["-pix_fmt", "yuv420p", "-r", str(FPS)]
    args = [*graph.args, "-filter_complex", ";".join(graph.chains), *video_map, "-map", "[aout]"]
    # The fast AAC coder is about 3x quicker than the default twoloop, and transparent at 192k.
    args += [*video_codec, "-c:a", "aac", "-aac_coder", "fast", "-b:a", AUDIO_BITRATE]
    args += ["-ar", str(AUDIO_RATE), "-ac", "2", "-movflags", "+faststart"]
    args += ["-f", "mp4", str(output)]
    return args


def _ffconcat_entry(path: Path, seconds: float) -> list[str]:
    """Lines naming path (absolute: ffconcat resolves from the list's folder) for seconds."""
    quoted = str(path.resolve()).replace("'", "'\\''")
    return [f"file '{quoted}'", f"duration {seconds:.6f}"]


def _concat_list(videos: list[Path], clips: list[CutClip], path: Path) -> None:
    lines = ["ffconcat version 1.0"]
    for video, clip in zip(videos, clips, strict=True):
        lines += _ffconcat_entry(video, clip.duration)
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


def cues(clips: list[CutClip], options: CutOptions) -> list[Cue]:
    """One caption per clip with speech, shown for the clip's slot (halfway through transitions)."""
    half = options.crossfade / 2
    found = []
    for n, clip in enumerate(clips):
        if clip.source.caption:
            start = clip.start + (half if n else 0.0)
            end = clip.start + clip.duration - (half if n < len(clips) - 1 else 0.0)
            found.append(Cue(start, end, clip.source.caption))
    return found


def caption_track(
    clips: list[CutClip], options: CutOptions, *, scratch: Path, tag: str, made: list[Path]
) -> Path | None:
    """An ffconcat list of caption images, each for its cue (a blank one between), or None."""
    timeline = cues(clips, options)
    if not timeline:
        return None
    blank = scratch / f".partial-caption-{tag}-blank.png"
    Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0)).save(blank)
    made.append(blank)
    lines = ["ffconcat version 1.0"]
    now = 0.0
    for n, cue in enumerate(timeline):
        if cue.start > now:
            lines += _ffconcat_entry(blank, cue.start - now)
        art = scratch / f".partial-caption-{tag}-{n:03d}.png"
        made.append(draw_caption(cue.text, art, size=(WIDTH, HEIGHT)))
        lines += _ffconcat_entry(art, cue.end - cue.start)
        now = cue.end
    lines += _ffconcat_entry(blank, 1.0)  # the concat demuxer needs a last frame to end on
    listing = scratch / f".partial-captions-{tag}.txt"
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    made.append(listing)
    return listing


def join(
    sources: list[Source],
    *,
    output: Path,
    scratch: Path,
    ffmpeg: str | None = None,
    options: CutOptions | None = None,
) -> StitchResult:
    """Join sources into output, in order, keeping each one's sound on its picture."""
    options = options or CutOptions()
    clips = layout(sources, crossfade=options.crossfade)
    for folder in (output.parent, scratch):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(
                f"{folder}: cannot write ({exc.strerror}): fix its permissions or free disk space"
            ) from None
    tag = f"{os.getpid()}"
    partial = output.with_name(f".partial-{tag}-{output.name}")
    copied = can_copy_video(clips, options)
    demuxed = uniform(clips) and not options.crossfade
    concat_list = scratch / f".partial-concat-{tag}.txt" if demuxed else None
    videos = (
        [scratch / f".partial-video-{tag}-{i:03d}.mp4" for i in range(len(clips))]
        if demuxed
        else []
    )
    art: list[Path] = []
    captions = (
        caption_track(clips, options, scratch=scratch, tag=tag, made=art)
        if options.burn_captions
        else None
    )
    measured = None
    try:
        if concat_list is not None:
            media.run_ffmpeg(video_only_command(clips, videos), ffmpeg=ffmpeg, what="stitch: video")
            _concat_list(videos, clips, concat_list)
        if options.loudnorm:
            try:
                measured = measure_loudness(clips, options, ffmpeg=ffmpeg)
            except _Silent:
                measured = None  # silence stays silence
        args = build_command(
            clips,
            output=partial,
            options=options,
            concat_list=concat_list,
            captions=captions,
            measured=measured,
            copy=copied,
        )
        media.run_ffmpeg(args, ffmpeg=ffmpeg, what="stitch")
        move_durably(partial, output)
    except MediaError as exc:
        raise StitchError(exc.message) from None
    finally:
        for leftover in (partial, concat_list, *videos, *art):
            if leftover is not None:
                leftover.unlink(missing_ok=True)
    total = clips[-1].start + clips[-1].duration if clips else 0.0
    return StitchResult(
        output=output, duration=total, clips=tuple(clips), video_copied=copied, loudness=measured
    )


@dataclass(frozen=True)
class Outputs:
    """Where a stitch writes: the cut and its side files (named after the cut when -o is given)."""

    cut: Path
    srt: Path
    vtt: Path
    sheet: Path
    poster: Path
    manifest: Path

    @property
    def side(self) -> tuple[Path, ...]:
        """The side files, in the order they are written."""
        return (self.srt, self.vtt, self.sheet, self.poster, self.manifest)


def outputs(workdir: Path, output: Path | None = None, *, preview: bool = False) -> Outputs:
    """The cut's path and its side files' paths.

    The default cut keeps the default names (final.srt, contact-sheet.png, manifest.json...);
    a cut named with -o gets side files named after it (cut.srt, cut.manifest.json...), so that
    it never replaces another cut's files in the same folder.
    """
    default = workdir / ("final-preview.mp4" if preview else "final.mp4")
    cut = output if output is not None else default
    base = cut.parent / (cut.stem if cut.suffix.lower() == ".mp4" else cut.name)
    own = output is not None and os.path.abspath(output) != os.path.abspath(default)
    named = {
        name: base.with_name(f"{base.name}.{name}") if own else cut.parent / name
        for name in ("contact-sheet.png", "poster.jpg", "manifest.json")
    }
    return Outputs(
        cut=cut,
        srt=base.with_name(f"{base.name}.srt"),
        vtt=base.with_name(f"{base.name}.vtt"),
        sheet=named["contact-sheet.png"],
        poster=named["poster.jpg"],
        manifest=named["manifest.json"],
    )


def _protected(storyboard: Storyboard, workdir: Path) -> dict[Path, str]:
    """What a stitch must never write over: the storyboard, its media, the run's state."""
    found = {storyboard.path.resolve(): "the storyboard"}
    for scene in storyboard.scenes:
        if scene.image is not None:
            found.setdefault(scene.image.resolve(), f"the image of {scene.label}")
        if scene.footage is not None:
            found.setdefault(scene.footage.resolve(), f"the footage of {scene.label}")
    found[(workdir / "state.json").resolve()] = "the run's state file"
    return found


def check_outputs(storyboard: Storyboard, workdir: Path, paths: Outputs, *, given: bool) -> None:
    """BadInputError, before anything is written, when an output would replace the user's work."""
    flag = f"-o {paths.cut}" if given else str(paths.cut)
    if paths.cut.is_dir():
        example = paths.cut / "cut.mp4"
        raise BadInputError(f"{flag}: is a folder: name the cut's file, e.g. -o {example}")
    protected = _protected(storyboard, workdir)
    clips = (workdir / "clips").resolve()
    for path in (paths.cut, *paths.side):
        resolved = path.resolve()
        what = protected.get(resolved)
        if what is None and (resolved == clips or clips in resolved.parents):
            what = f"a file in {workdir / 'clips'}, where the accepted takes live"
        if what is None:
            continue
        whose = "it" if path == paths.cut else f"its side file {path}"
        raise BadInputError(
            f"{flag}: {whose} would replace {what}: write the cut elsewhere, "
            f"e.g. -o {workdir / 'cut.mp4'}"
        )
    if paths.cut.suffix.lower() != ".mp4":
        raise BadInputError(f"{flag}: the cut is an MP4 video: give a name ending in .mp4")


def stitch(
    storyboard: Storyboard,
    *,
    workdir: Path,
    output: Path | None = None,
    ffmpeg: str | None = None,
    storage: Storage | None = None,
    options: CutOptions | None = None,
    state: RunState | None = None,
) -> StitchResult:
    """Make the final cut of a storyboard whose scenes are all done, with its side files.

    Beside the cut: captions (.srt, .vtt), a contact sheet, a poster frame and a manifest. With
    storage, clips missing here are fetched from the bucket first, and everything is uploaded.
    Nothing the user made (storyboard, images, footage, accepted takes, state) is ever replaced.
    state: the run's state when the caller holds it (a run that just ended), else it is read.
    """
    options = options or CutOptions()
    paths = outputs(workdir, output, preview=options.preview)
    check_outputs(storyboard, workdir, paths, given=output is not None)
    fetched = fetch_missing(storyboard, workdir=workdir, storage=storage) if storage else []
    if state is None or fetched:
        state = StateStore(workdir).load(storyboard=str(storyboard.path), title=storyboard.title)
    result = join(
        collect(storyboard, workdir, state),
        output=paths.cut,
        scratch=workdir / "tmp",
        ffmpeg=ffmpeg,
        options=options,
    )
    side = write_side_files(storyboard, result, state=state, options=options, paths=paths)
    result = replace(result, side_files=tuple(side), fetched=tuple(fetched))
    if storage is None:
        return result
    uploaded = storage.upload(result.output, result.output.name)
    for path in side:
        storage.upload(path, path.name)
    return replace(result, link=storage.link(uploaded.key))


def write_side_files(
    storyboard: Storyboard,
    result: StitchResult,
    *,
    state: RunState,
    options: CutOptions,
    paths: Outputs,
) -> list[Path]:
    """Captions, contact sheet, poster and manifest beside the cut (each written atomically)."""
    timeline = cues(list(result.clips), options)
    write_atomic(paths.srt, to_srt(timeline).encode("utf-8"))
    write_atomic(paths.vtt, to_vtt(timeline).encode("utf-8"))
    written = [paths.srt, paths.vtt]
    if options.preview:  # a proof: the review art and the manifest describe the real cut
        return written
    frames = [
        (f"{n:02d} {c.source.name}", c.path, c.middle) for n, c in enumerate(result.clips, start=1)
    ]
    contact_sheet(frames, paths.sheet)
    first = result.clips[0]
    poster(first.path, first.middle, paths.poster)
    write_manifest(storyboard, result, state=state, path=paths.manifest)
    return [*written, paths.sheet, paths.poster, paths.manifest]


def write_manifest(
    storyboard: Storyboard, result: StitchResult, *, state: RunState, path: Path
) -> None:
    """What the cut is made of: every scene's fingerprint, prompt, take, durations, checksums."""
    scenes = []
    for clip, scene in zip(result.clips, storyboard.scenes, strict=True):
        entry = state.scenes.get(scene.id)
        scenes.append(
            {
                "number": scene.number,
                "id": scene.id,
                "kind": "generated" if scene.generated else "footage",
                "prompt": build_prompt(scene) if scene.generated else None,
                "fingerprint": entry.fingerprint if entry and scene.generated else None,
                "backend": entry.backend if entry and scene.generated else None,
                "take": clip.path.name,
                "sha256": file_digest(clip.path),
                "start": round(clip.start, 4),
                "duration": round(clip.duration, 4),
                "video_seconds": round(clip.info.video.duration, 4) if clip.info.video else None,
                "audio_seconds": round(clip.info.audio.duration, 4) if clip.info.audio else None,
            }
        )
    manifest = {
        "title": storyboard.title,
        "storyboard": str(storyboard.path),
        "tool": f"f1gen {__version__}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "output": {
            "file": result.output.name,
            "sha256": file_digest(result.output),
            "duration": round(result.duration, 4),
            "video_copied": result.video_copied,
        },
        "loudness_measured": asdict(result.loudness) if result.loudness else None,
        "scenes": scenes,
    }
    write_atomic(path, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
