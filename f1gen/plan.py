"""What decides a scene's clip: prompt, steps, image bytes, fit and backend, as a fingerprint."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import prompts
from .backends import factories, made_by, spec_of
from .clipspec import ClipSpec
from .errors import BadInputError, StoryboardError
from .files import file_digest, unchanged
from .scene import Scene, Storyboard
from .state import RunState, SceneState


@dataclass(frozen=True)
class PlannedScene:
    """A generated scene with everything that decides its clip."""

    scene: Scene
    prompt: str
    steps: int
    image_digest: str
    fingerprint: str
    seed: int | None = None  # the scene's seed: part of the fingerprint when set
    takes: int = 1  # takes still to make in this run
    slot: int = 1  # this attempt's take number among the fingerprint's takes
    take_seed: int | None = None  # what this attempt asks the backend for


def scene_takes(scene: Scene, *, option: int | None) -> int:
    """How many takes a scene wants: its own takes, else --takes, else defaults.takes, else 1."""
    return scene.takes or option or scene.board_takes or 1


def scene_steps(scene: Scene, *, option: int | None, default: int) -> int:
    """The sample steps a scene is made with: its own sample_steps, else --sample-steps, else the
    storyboard's defaults.sample_steps, else OVI_SAMPLE_STEPS, else 40 (default: the last two)."""
    return scene.sample_steps or option or scene.board_steps or default


def plan_scene(
    scene: Scene, *, backend_identity: str, steps: int, default_seed: int | None = None
) -> PlannedScene:
    """Prompt, seed and fingerprint of a generated scene made with steps."""
    assert scene.image is not None
    prompt = prompts.build(scene, identity=backend_identity)
    seed = scene.seed if scene.seed is not None else default_seed
    digest = file_digest(scene.image)
    key: dict[str, object] = {
        "image": digest,
        "prompt": prompt,
        "steps": steps,
        "fit": scene.fit,
        "backend": backend_identity,
    }
    if seed is not None:  # only then: clips made before seeds existed keep their fingerprint
        key["seed"] = seed
    fingerprint = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return PlannedScene(scene, prompt, steps, digest, fingerprint, seed)


def expected_fingerprint(scene: Scene, entry: SceneState) -> str | None:
    """The fingerprint scene has now under the backend, steps and seed its clip was made with (its
    own sample_steps when it sets them; otherwise the steps came from the run's options)."""
    if entry.backend is None or entry.steps is None or scene.image is None:
        return None
    steps = scene.sample_steps or entry.steps
    return plan_scene(
        scene, backend_identity=entry.backend, steps=steps, default_seed=entry.seed
    ).fingerprint


def clip_is_current(entry: SceneState | None, fingerprint: str, workdir: Path) -> bool:
    """True when entry holds an accepted clip for fingerprint whose file is unchanged."""
    if (
        entry is None
        or entry.status != "done"
        or entry.fingerprint != fingerprint
        or not entry.clip
    ):
        return False
    # An accepted clip always has its digest recorded: without one, it is not known to be it.
    sha256 = entry.sha256
    return sha256 is not None and unchanged(workdir / entry.clip, size=entry.size, sha256=sha256)


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


def cut_spec(storyboard: Storyboard, state: RunState) -> ClipSpec:
    """The clips the cut takes its shape (size, fps) from: those of the backend that made the
    first generated scene's clip (any other clip is normalized to it, as footage is); the default
    backend's when no generated clip is recorded (footage alone)."""
    for scene in storyboard.scenes:
        entry = state.scenes.get(scene.id) if scene.generated else None
        if entry is not None and entry.backend is not None:
            return spec_of(entry.backend)
    return spec_of(None)


def duration_problems(scenes: Iterable[Scene], identity: str) -> list[str]:
    """Where a generated scene asks for a clip length the model of identity does not make: each
    naming the scene, the backend, the model and the models that make it."""
    made, model = made_by(identity)
    problems = []
    for scene in scenes:
        seconds = scene.seconds
        if not scene.generated or seconds is None or seconds == model.seconds:
            continue
        # Another model of the same backend first; else the backends whose models make it.
        others = [f"--model {m.name}" for m in made.served if m.seconds == seconds] or [
            f"--backend {other.name}" + (f" --model {m.name}" if len(other.served) > 1 else "")
            for other in factories()
            for m in other.served
            if m.seconds == seconds
        ]
        fix = f"make it with {' or '.join(others)}, or " if others else ""
        problems.append(
            f"{scene.label}.duration: {seconds} s, but --backend {made.name} with model "
            f"{model.name} makes {model.seconds} s clips: {fix}leave it out with --only"
        )
    return problems


def refuse_durations(storyboard: Storyboard, scenes: Iterable[Scene], identity: str) -> None:
    """StoryboardError (exit 2) when a scene asks for a clip length identity's model cannot make."""
    problems = duration_problems(scenes, identity)
    if problems:
        raise StoryboardError([f"{storyboard.path}: {p}" for p in problems])


def parse_only(spec: str, storyboard: Storyboard) -> frozenset[int]:
    """Scene numbers picked by '3,5-7,pit-wall'; BadInputError naming what does not match."""
    ids = {scene.id: scene.number for scene in storyboard.scenes}
    count = len(storyboard.scenes)
    picked: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if match:
            first = int(match.group(1))
            last = int(match.group(2) or first)
            if first > last:
                raise BadInputError(f"--only {part!r}: the range is reversed: write {last}-{first}")
            if not 1 <= first <= last <= count:
                raise BadInputError(f"--only {part!r}: scenes are numbered 1-{count}")
            picked.update(range(first, last + 1))
        elif part in ids:
            picked.add(ids[part])
        else:
            raise BadInputError(f"--only {part!r}: no scene has that number or id")
    if not picked:
        raise BadInputError("--only: name at least one scene number or id")
    return frozenset(picked)
