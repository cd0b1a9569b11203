"""Which take of a scene is its clip: the one picked by hand, else the best by its checks.

The stitch, status, review and push read the scene's clip; this module alone decides it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .checks import TakeChecks, choose, summary
from .errors import BadInputError
from .files import unchanged
from .plan import plan_scene
from .scene import Scene, Storyboard
from .state import RunState, SceneState, TakeRecord
from .storyboard import MAX_SEED

if TYPE_CHECKING:
    from .checks.cache import CheckCache
    from .scene import VoiceCheck

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
    voice_check: VoiceCheck | None = None,
) -> TakeRecord | None:
    """Point the scene's clip at its pick and say why; None (clip untouched) when no take is
    pickable. checks: what is known of each take, by name; each is judged against its
    character's voice (voice_check: --voice-check, beating the character's own)."""
    from .voices import judged

    checks = judged(scene, checks, workdir=workdir, option=voice_check)
    for made in entry.takes:
        found = checks.get(made.name)
        voice = found.named("voice") if found is not None else None
        made.voice = voice.value if voice is not None else None
        if found is not None and voice is not None:
            made.checks = summary(found)  # "another voice: ..." where it is
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


def generated_scene(storyboard: Storyboard, scene_ref: str) -> Scene:
    """The generated scene an id or number names; BadInputError when there is none."""
    scene = next(
        (s for s in storyboard.scenes if scene_ref in (s.id, str(s.number)) and s.generated), None
    )
    if scene is None:
        raise BadInputError(f"no generated scene {scene_ref!r}: give a scene's id or number")
    return scene


def pick(storyboard: Storyboard, *, workdir: Path, scene_ref: str, take: str | None) -> SceneState:
    """Pick a scene's take by hand (take: its number or name), or by its checks again (None);
    the state saved under the work-folder lock. BadInputError naming the fix when it cannot be."""
    from .checks.cache import CheckCache
    from .state import StateStore, work_lock

    scene = generated_scene(storyboard, scene_ref)
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
        # a pick by hand also weighs what a review checked of takes the run did not
        known = known_checks(CheckCache(workdir), scene, entry, recorded_only=False)
        if repick(scene, entry, workdir=workdir, checks=known) is None:
            raise BadInputError(
                f"{scene.label}: no current take to pick: run 'f1gen generate' to make one"
            )
        store.save(state)
    return entry


# A picked take that went away (deleted, or its file changed) while other good takes remain.


@dataclass(frozen=True)
class LostPick:
    """A done scene whose picked take is gone while other current takes remain: the take
    the pick's rule obviously gives (chosen), or None when the choice is the user's."""

    scene: Scene
    lost: str  # the picked take's file name
    chosen: TakeRecord | None
    reason: str  # why chosen; or why the choice is not obvious
    left: tuple[tuple[int, TakeRecord], ...]  # the takes that may be picked, by their number
    board: Path  # the storyboard, as the commands to run name it

    def message(self) -> str:
        """One line: what was re-picked and why, or exactly what to do."""
        gone = f"{self.scene.label}: its picked take {self.lost} is missing or changed"
        if self.chosen is not None:
            return f"{gone}: re-picked {self.chosen.name} ({self.reason})"
        names = ", ".join(f"{number} {take.name}" for number, take in self.left)
        first = self.left[0][0]
        return (
            f"{gone}, and {self.reason}: pick one of its takes ({names}) with "
            f"'{pick_command(self.board, self.scene, str(first))}', or the checks' choice with "
            f"'{pick_command(self.board, self.scene, None)}'"
        )


def pick_command(board: Path, scene: Scene, take: str | None) -> str:
    """The command that picks a scene's take (None: the checks' choice)."""
    return f"f1gen pick {board} {scene.id} {take or '--auto'}"


def check_key(scene: Scene, sha256: str) -> str:
    """Where checks.json keeps the checks of a take of scene whose bytes' sha256 this is."""
    from .checks.cache import CheckCache
    from .prompts import build as build_prompt

    return CheckCache.key_of(sha256, line=scene.speech, prompt=build_prompt(scene))


def known_checks(
    cache: CheckCache, scene: Scene, entry: SceneState, *, recorded_only: bool = True
) -> dict[str, TakeChecks]:
    """What the work folder knows of each of the scene's takes' checks, by the take's name:
    of the takes whose checks the state records (recorded_only), else of every take."""
    known: dict[str, TakeChecks] = {}
    for take in entry.takes:
        if take.sha256 is None or (recorded_only and take.checks is None):
            continue
        found = cache.get(check_key(scene, take.sha256))
        if found is not None:
            known[take.name] = found
    return known


def lost_pick(scene: Scene, entry: SceneState, *, workdir: Path, board: Path) -> LostPick | None:
    """The scene's lost pick, when its picked take is gone and others of the scene as it is now
    remain; None otherwise (the pick is there, the scene was edited, or no take is left).

    The re-pick is obvious when one take is left, or when the checks choose among them (every
    one checked) as they chose before; a pick by hand that went away is the user's to redo.
    """
    if entry.status != "done" or not entry.clip:
        return None
    picked = next((t for t in entry.takes if t.clip == entry.clip), None)
    if (
        picked is None
        or unchanged(workdir / picked.clip, size=picked.size, sha256=picked.sha256)
        or not is_current(scene, entry, picked)
    ):
        return None
    takes = pickable(scene, entry, workdir)
    if not takes:
        return None
    left = tuple((entry.takes.index(t) + 1, t) for t in takes)
    by_hand = entry.pick == picked.name
    from .checks.cache import CheckCache

    checks = known_checks(CheckCache(workdir), scene, entry)
    if len(takes) == 1:
        return LostPick(scene, picked.name, takes[0], "the only take left", left, board)
    if by_hand:
        return LostPick(scene, picked.name, None, "it was picked by hand", left, board)
    if not all(t.name in checks for t in takes):
        why = "its other takes are not all checked"
        return LostPick(scene, picked.name, None, why, left, board)
    choice = choose([replace(checks[t.name], take=t.name) for t in takes])
    why = f"by its checks: {choice.reason}"
    return LostPick(scene, picked.name, takes[choice.index], why, left, board)


def settle_lost(storyboard: Storyboard, state: RunState, *, workdir: Path) -> list[LostPick]:
    """Re-pick, in state, every scene whose lost pick has an obvious successor (its reason
    recorded); every lost pick found, re-picked or not (the caller saves the state)."""
    found = []
    for scene in storyboard.scenes:
        entry = state.scenes.get(scene.id) if scene.generated else None
        lost = (
            lost_pick(scene, entry, workdir=workdir, board=storyboard.path)
            if entry is not None
            else None
        )
        if entry is None or lost is None:
            continue
        if lost.chosen is not None:
            point_at(entry, lost.chosen)
            entry.pick = None
            entry.pick_reason = f"re-picked: {lost.lost} is missing or changed; {lost.reason}"
        found.append(lost)
    return found
