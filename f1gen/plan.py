"""What decides a scene's clip: prompt, steps, image bytes, fit and backend, as a fingerprint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from . import prompts
from .files import file_digest
from .state import SceneState
from .storyboard import Scene


@dataclass(frozen=True)
class PlannedScene:
    """A generated scene with everything that decides its clip."""

    scene: Scene
    prompt: str
    steps: int
    image_digest: str
    fingerprint: str
    seed: int | None = None


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
    clip = workdir / entry.clip
    try:
        if clip.stat().st_size != entry.size:
            return False
    except OSError:
        return False
    return file_digest(clip) == entry.sha256
