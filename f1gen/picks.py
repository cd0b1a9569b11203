"""Which take of a scene is its clip: the one picked by hand, else the best by its checks.

The stitch, status, review and push read the scene's clip; this module alone decides it.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from .checks import TakeChecks, choose
from .errors import BadInputError
from .files import unchanged
from .plan import plan_scene
from .scene import Scene, Storyboard
from .state import SceneState, TakeRecord
from .storyboard import MAX_SEED

BY_HAND = "picked by hand (f1gen pick)"


def take_seed(seed: int | None, fingerprint: str, slot: int) -> int | None:
    """The seed of a scene's take number slot: the scene's own seed (or the backend's choice)
    for the first, then seeds derived from it (or from the fingerprint): the same every run, so
    a resumed run asks for the takes still missing, and distinct from each other."""
    if slot == 1:
        return seed
    base = str(seed) if seed is not None else fingerprint
    digest = hashlib.sha256(f"{base}:take{slot}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & MAX_SEED


def is_current(scene: Scene, entry: SceneState, take: TakeRecord) -> bool:
    """True when take was made for the scene as it is now (its prompt, image, steps, seed)."""
    if take.backend is None or take.steps is None or scene.image is None:
        return take.fingerprint == entry.fingerprint
    steps = scene.sample_steps or take.steps
    made = plan_scene(
        scene, backend_identity=take.backend, steps=steps, default_seed=entry.seed
    ).fingerprint
    return made == take.fingerprint


def pickable(scene: Scene, entry: SceneState, workdir: Path) -> list[TakeRecord]:
    """The takes the scene's clip may be: current, on disk, and none that failed a hard check."""
    return [
        take
        for take in entry.takes
        if not take.rejected
        and unchanged(workdir / take.clip, size=take.size, sha256=take.sha256)
        and is_current(scene, entry, take)
    ]


def repick(
    scene: Scene,
    entry: SceneState,
    *,
    workdir: Path,
    checks: dict[str, TakeChecks],
) -> TakeRecord | None:
    """Point the scene's clip at its pick and say why; None (clip untouched) when no take is
    pickable. checks: what is known of each take, by name."""
    takes = pickable(scene, entry, workdir)
    if not takes:
        return None
    by_hand = next((t for t in takes if t.name == entry.pick), None)
    if by_hand is not None:
        chosen, reason = by_hand, BY_HAND
    elif all(t.name in checks for t in takes):
        # Named by the take: the checks are kept by the clip's bytes, whatever its name was.
        choice = choose([replace(checks[t.name], take=t.name) for t in takes])
        chosen, reason = takes[choice.index], choice.reason
    else:
        chosen = takes[-1]  # not checked: the newest, as before takes were compared
        reason = "the only take (not checked)" if len(takes) == 1 else "the newest (not checked)"
    point_at(entry, chosen)
    entry.pick_reason = reason
    return chosen


def point_at(entry: SceneState, take: TakeRecord) -> None:
    """Make take the scene's clip in the state."""
    entry.status = "done"
    entry.clip, entry.sha256, entry.size = take.clip, take.sha256, take.size
    entry.fingerprint = take.fingerprint
    if take.backend is not None:
        entry.backend = take.backend
    if take.steps is not None:
        entry.steps = take.steps
    entry.video_seconds, entry.audio_seconds = take.video_seconds, take.audio_seconds


def find(entry: SceneState, name: str) -> TakeRecord:
    """The take named by its file name or its number (1: the first made); BadInputError if none."""
    if name.isdigit() and 1 <= int(name) <= len(entry.takes):
        return entry.takes[int(name) - 1]
    for take in entry.takes:
        if name in (take.name, Path(take.name).stem):
            return take
    names = ", ".join(t.name for t in entry.takes) or "none yet"
    raise BadInputError(
        f"scene {entry.id!r} has no take {name!r}: give a number 1-{len(entry.takes)} or a name "
        f"({names})"
    )


def pick(storyboard: Storyboard, *, workdir: Path, scene_ref: str, take: str | None) -> SceneState:
    """Pick a scene's take by hand (take: its number or name), or by its checks again (None);
    the state saved under the work-folder lock. BadInputError naming the fix when it cannot be."""
    from .checks.cache import CheckCache
    from .prompts import build as build_prompt
    from .state import StateStore, work_lock

    scene = next(
        (s for s in storyboard.scenes if scene_ref in (s.id, str(s.number)) and s.generated), None
    )
    if scene is None:
        raise BadInputError(f"no generated scene {scene_ref!r}: give a scene's id or number")
    store = StateStore(workdir)
    with work_lock(workdir):
        state = store.load(storyboard=str(storyboard.path), title=storyboard.title)
        entry = state.scenes.get(scene.id)
        if entry is None or not entry.takes:
            raise BadInputError(f"{scene.label} has no takes yet: run 'f1gen generate' first")
        if take is None:
            entry.pick = None
        else:
            chosen = find(entry, take)
            if chosen.rejected:
                raise BadInputError(
                    f"{scene.label}: take {chosen.name} failed a hard check ({chosen.checks}): "
                    "pick another, or make more with --takes"
                )
            if chosen not in pickable(scene, entry, workdir):
                raise BadInputError(
                    f"{scene.label}: take {chosen.name} was made for an earlier version of the "
                    "scene, or its file changed: pick a current take"
                )
            entry.pick = chosen.name
        cache = CheckCache(workdir)
        known: dict[str, TakeChecks] = {}
        for made in entry.takes:
            if made.sha256 is not None:
                key = CheckCache.key_of(made.sha256, line=scene.speech, prompt=build_prompt(scene))
                found = cache.get(key)
                if found is not None:
                    known[made.name] = found
        if repick(scene, entry, workdir=workdir, checks=known) is None:
            raise BadInputError(
                f"{scene.label}: no current take to pick: run 'f1gen generate' to make one"
            )
        store.save(state)
    return entry
