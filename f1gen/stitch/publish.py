"""Publishing a storyboard's cut: where it goes, what it must never replace, its side files
(captions, contact sheet, poster, manifest), fetching missing clips and uploading the result."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__, media
from ..backends import shows_captions
from ..captions import to_srt, to_vtt
from ..checks.cache import CheckCache
from ..errors import BadInputError, StitchError
from ..files import file_digest, write_atomic
from ..picks import check_key, settle_lost
from ..plan import cut_spec, scene_clip
from ..prompts import build as build_prompt
from ..scene import Ambience, Storyboard
from ..state import RunState, StateStore, work_lock
from ..sync import fetch_missing
from .cut import CutClip, CutOptions, Source, StitchResult, cues, join, layout, own_shape
from .ffargs import Shape
from .mix import BED_SWITCH, Layer

if TYPE_CHECKING:
    from PIL import Image

    from ..storage import Storage

# PIL (review art) loads only when a cut is made.


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


def settle_picks(storyboard: Storyboard, workdir: Path, state: RunState) -> tuple[str, ...]:
    """Re-pick the scenes whose picked take went away where the choice is obvious (the state
    saved: the reason recorded), saying so; StitchError naming the pick to make otherwise."""
    lost = settle_lost(storyboard, state, workdir=workdir)
    if any(found.chosen is not None for found in lost):
        StateStore(workdir).save(state)
    undecided = [found for found in lost if found.chosen is None]
    if undecided:
        more = len(undecided) - 1
        raise StitchError(
            undecided[0].message() + (f" (and {more} more: see 'f1gen status')" if more else "")
        )
    return tuple(found.message() for found in lost)


def collect(storyboard: Storyboard, workdir: Path, state: RunState) -> list[Source]:
    """Every scene's clip in order; StitchError listing the scenes that are not done."""
    found: list[Source] = []
    missing: list[str] = []
    for scene in storyboard.scenes:
        clip = scene_clip(scene, state, workdir)
        if clip is None:
            missing.append(f"{scene.number} ({scene.id})")
        else:
            entry = state.scenes.get(scene.id) if scene.generated else None
            found.append(
                Source(
                    scene.id, clip, scene.trim, footage=not scene.generated, caption=scene.speech,
                    captioned=shows_captions(entry.backend if entry else None),
                )
            )  # fmt: skip
    if missing:
        shown = ", ".join(missing[:8]) + (
            f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        )
        raise StitchError(
            f"{len(missing)} of {len(storyboard.scenes)} scenes are not done yet: {shown}: "
            f"run 'f1gen generate {storyboard.path}' first"
        )
    return found


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

    The cut takes the shape (size, fps) of the backend that made its clips. Beside the cut:
    captions (.srt, .vtt), a contact sheet, a poster frame and a manifest. With storage, clips
    missing here are fetched from the bucket first, and everything is uploaded. Nothing the user
    made (storyboard, images, footage, accepted takes, state) is ever replaced.
    state: the run's state when the caller holds it (a run that just ended), else it is read.
    """
    options = options or CutOptions()
    paths = outputs(workdir, output, preview=options.preview)
    check_outputs(storyboard, workdir, paths, given=output is not None)
    # A run in the same folder would sweep tmp/, where the cut keeps its scratch files.
    with work_lock(workdir):
        return _stitch(storyboard, workdir=workdir, paths=paths, ffmpeg=ffmpeg, storage=storage,
                       options=options, state=state)  # fmt: skip


def _stitch(
    storyboard: Storyboard,
    *,
    workdir: Path,
    paths: Outputs,
    ffmpeg: str | None,
    storage: Storage | None,
    options: CutOptions,
    state: RunState | None,
) -> StitchResult:
    fetched = fetch_missing(storyboard, workdir=workdir, storage=storage) if storage else []
    if state is None or fetched:
        state = StateStore(workdir).load(storyboard=str(storyboard.path), title=storyboard.title)
    notes = settle_picks(storyboard, workdir, state)
    if not storyboard.seams:
        options = replace(options, seams=False)
    cache = CheckCache(workdir)
    found = collect(storyboard, workdir, state)
    digests = _digests(storyboard, state, found)
    sources = []
    for source, digest in zip(found, digests, strict=True):
        known, floor = cache.floor_of(_part(digest, source))
        sources.append(replace(source, speech=cache.speech_of(digest), floor=floor,
                               floor_known=known))  # fmt: skip
    clips = layout(sources, crossfade=options.crossfade)  # each clip probed once, here
    shape = own_shape(clips, Shape.of(cut_spec(storyboard, state)))
    drawing: list[Future[ReviewFrames]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="f1gen-art") as pool:
        # The review art comes from the clips, not the cut: it is drawn while ffmpeg works.
        result = join(
            sources,
            output=paths.cut,
            scratch=workdir / "tmp",
            ffmpeg=ffmpeg,
            options=options,
            shape=shape,
            laid=clips,
            aside=None
            if options.preview
            else lambda: drawing.append(pool.submit(review_frames, clips)),
            layers=layers_of(storyboard, clips, options),
        )
    frames = drawing[0].result() if drawing else None
    mix = result.mix
    if mix is not None and not all(s.floor_known for s in sources):
        # found by the stitch itself: the next one need not look, nor make a first pass
        for digest, source, heard, floor in zip(
            digests, sources, mix.found_speech, mix.floors, strict=True
        ):
            if heard is not None:
                cache.put_speech(digest, heard)
            cache.put_floor(_part(digest, source), floor)
        cache.save()
    side = write_side_files(
        storyboard, result, state=state, options=options, paths=paths, frames=frames,
        workdir=workdir,
    )  # fmt: skip
    result = replace(result, side_files=tuple(side), fetched=tuple(fetched), notes=notes)
    if storage is None:
        return result
    uploaded = storage.upload(result.output, result.output.name)
    for path in side:
        storage.upload(path, path.name)
    return replace(result, link=storage.link(uploaded.key))


def _part(digest: str, source: Source) -> str:
    """What a clip's floor is kept by: its bytes, and the part of it used."""
    return digest if source.trim is None else f"{digest}@{source.trim[0]:g}-{source.trim[1]:g}"


def _digests(storyboard: Storyboard, state: RunState, sources: list[Source]) -> list[str]:
    """The sha256 of each source's clip: from the state for a take, else read."""
    digests = []
    for scene, source in zip(storyboard.scenes, sources, strict=True):
        entry = state.scenes.get(scene.id) if scene.generated else None
        digests.append((entry.sha256 if entry else None) or file_digest(source.path))
    return digests


def layers_of(storyboard: Storyboard, clips: Sequence[CutClip], options: CutOptions) -> list[Layer]:
    """What the storyboard lays under the cut: its music (silent over scenes that say
    `music: off`) and its ambience beds, each from where it is named, unless options turn
    them off."""
    layers: list[Layer] = []
    music = storyboard.music
    if music is not None and options.music:
        off = tuple(
            (clip.start, clip.start + clip.duration)
            for clip, scene in zip(clips, storyboard.scenes, strict=True)
            if scene.music_off
        )
        layers.append(Layer(music.file, music.volume, music.duck, start=music.start,
                            fade_in=music.fade_in, fade_out=music.fade_out, off=off))  # fmt: skip
    if not options.ambience:
        return layers
    beds: list[tuple[float, Ambience | None]] = [(0.0, storyboard.ambience)]
    for clip, scene in zip(clips, storyboard.scenes, strict=True):
        if scene.ambience is not None or scene.ambience_off:
            beds.append((clip.start, scene.ambience))
    for n, (begin, bed) in enumerate(beds):
        end = beds[n + 1][0] if n + 1 < len(beds) else None
        if bed is None or (end is not None and end <= begin):  # none, or replaced where it begins
            continue
        layers.append(Layer(bed.file, bed.volume, bed.duck, begin=begin, end=end,
                            crossfade_in=BED_SWITCH if begin else 0.0,
                            crossfade_out=BED_SWITCH if end is not None else 0.0))  # fmt: skip
    return layers


@dataclass(frozen=True)
class ReviewFrames:
    """The review art's pictures: every clip's key frame, small, and the first one full size."""

    thumbnails: list[tuple[str, Image.Image]]
    poster: Image.Image


def review_frames(clips: Sequence[CutClip]) -> ReviewFrames:
    """Each clip's key frame (media.frame_at: the cheap one), labelled with its number and id."""
    from ..sheets import THUMB

    first = media.frame_at(clips[0].path, clips[0].part)
    thumbnails = [("01 " + clips[0].source.name, first)]
    thumbnails += [
        (f"{n:02d} {c.source.name}", media.frame_at(c.path, c.part, fit=THUMB))
        for n, c in enumerate(clips[1:], start=2)
    ]
    return ReviewFrames(thumbnails, first)


def write_side_files(
    storyboard: Storyboard,
    result: StitchResult,
    *,
    state: RunState,
    options: CutOptions,
    paths: Outputs,
    frames: ReviewFrames | None = None,
    workdir: Path | None = None,
) -> list[Path]:
    """Captions, contact sheet, poster and manifest beside the cut, each written atomically
    (frames: the review art's pictures, when already drawn; workdir: where the takes' checks
    are kept)."""
    from ..sheets import contact_sheet, poster

    timeline = cues(list(result.clips), options)
    write_atomic(paths.srt, to_srt(timeline).encode("utf-8"))
    write_atomic(paths.vtt, to_vtt(timeline).encode("utf-8"))
    written = [paths.srt, paths.vtt]
    if options.preview:  # a proof: the review art and the manifest describe the real cut
        return written
    frames = frames or review_frames(result.clips)
    contact_sheet(frames.thumbnails, paths.sheet)
    poster(frames.poster, paths.poster)
    write_manifest(storyboard, result, state=state, path=paths.manifest, workdir=workdir)
    return [*written, paths.sheet, paths.poster, paths.manifest]


def write_manifest(
    storyboard: Storyboard,
    result: StitchResult,
    *,
    state: RunState,
    path: Path,
    workdir: Path | None = None,
) -> None:
    """What the cut is made of: every scene's fingerprint, prompt, take, durations, checksums,
    and every take of it with its seed, its checks (each with its number and reason, when the
    work folder keeps them) and which one is the pick, and why."""
    from ..status import cast_of

    cache = CheckCache(workdir) if workdir is not None else None
    scenes = []
    for clip, scene in zip(result.clips, storyboard.scenes, strict=True):
        entry = state.scenes.get(scene.id) if scene.generated else None
        takes = []
        for take in entry.takes if entry else []:
            found = None
            if cache is not None and take.checks is not None and take.sha256 is not None:
                found = cache.get(check_key(scene, take.sha256))
            takes.append(
                {
                    "name": take.name,
                    "seed": take.seed,
                    "picked": take.clip == entry.clip if entry else False,
                    "rejected": take.rejected,
                    "checks": take.checks,
                    "results": [asdict(c) for c in found.checks] if found else None,
                    "voice": take.voice,  # similarity to its character's reference
                }
            )
        scenes.append(
            {
                "number": scene.number,
                "id": scene.id,
                "kind": "generated" if scene.generated else "footage",
                "prompt": (  # as sent: in the prompt format of the backend that made it
                    build_prompt(scene, identity=entry.backend if entry else None)
                    if scene.generated
                    else None
                ),
                "fingerprint": entry.fingerprint if entry and scene.generated else None,
                "backend": entry.backend if entry and scene.generated else None,
                "take": clip.path.name,
                "sha256": file_digest(clip.path),
                "start": round(clip.start, 4),
                "duration": round(clip.duration, 4),
                "video_seconds": round(clip.info.video.duration, 4) if clip.info.video else None,
                "audio_seconds": round(clip.info.audio.duration, 4) if clip.info.audio else None,
                "takes": takes,
                "picked_by": ("hand" if entry.pick else "checks") if entry else None,
                "pick_reason": entry.pick_reason if entry else None,
                "shortfall": entry.shortfall if entry else None,
                "character": scene.character.id if scene.character else None,
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
            "frame": f"{result.frame[0]}x{result.frame[1]}" if result.frame else None,
        },
        "loudness_measured": asdict(result.loudness) if result.loudness else None,
        "leveling": asdict(result.leveling) if result.leveling else None,
        "loudness_made": asdict(result.made_loudness) if result.made_loudness else None,
        "mix": result.mix.as_dict() if result.mix else None,
        "scenes": scenes,
        "characters": cast_of(storyboard, workdir) if workdir is not None else {},
    }
    write_atomic(path, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
