"""Casting: each character's reference worked out from its takes, set by hand, and every scene
of a character picked again against it (voices.py holds the values and the judgement)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .checks.cache import CheckCache
from .checks.model import TakeChecks
from .files import file_digest
from .picks import check_key, find, known_checks, pickable, repick
from .state import RunState, StateStore, TakeRecord, work_lock
from .voices import Reference, VoiceBook, embed_file, medoid, scenes_of

if TYPE_CHECKING:
    from .scene import Character, Storyboard, VoiceCheck


def character_takes(
    character: Character,
    storyboard: Storyboard,
    state: RunState,
    *,
    workdir: Path,
) -> dict[tuple[str, str], tuple[TakeRecord, TakeChecks]]:
    """The character's takes that may be picked (current, on disk, not rejected) and have a
    voice, by (scene id, take name), with their checks."""
    cache = CheckCache(workdir)
    found: dict[tuple[str, str], tuple[TakeRecord, TakeChecks]] = {}
    for scene in scenes_of(character, storyboard):
        entry = state.scenes.get(scene.id)
        if entry is None:
            continue
        for take in pickable(scene, entry, workdir):
            if take.sha256 is None:
                continue
            checks = cache.get(check_key(scene, take.sha256))
            if checks is not None and checks.voice is not None and not checks.rejected:
                found[(scene.id, take.name)] = (take, checks)
    return found


def refresh(storyboard: Storyboard, state: RunState, *, workdir: Path) -> dict[str, Reference]:
    """Every character's reference worked out again and kept: one set by hand stays, a
    voice_ref is embedded once (again when its bytes change), else the medoid of its takes."""
    book = VoiceBook(workdir)
    kept = book.load()
    references: dict[str, Reference] = {}
    for character in storyboard.characters:
        old = kept.get(character.id)
        if old is not None and old.source == "picked":
            references[character.id] = old
            continue
        if character.voice_ref is not None:
            digest = file_digest(character.voice_ref)
            if old is not None and old.source == "voice_ref" and old.digest == digest:
                references[character.id] = old
                continue
            embedding = embed_file(character.voice_ref)
            if embedding is not None:
                references[character.id] = Reference(
                    character.id,
                    "voice_ref",
                    embedding,
                    voice_ref=str(character.voice_ref),
                    digest=digest,
                )
                continue
        takes = character_takes(character, storyboard, state, workdir=workdir)
        by_key = {f"{scene}/{name}": checks.voice for (scene, name), (_, checks) in takes.items()}
        center = medoid({k: v for k, v in by_key.items() if v is not None})
        if center is None:
            continue
        scene_id, name = center.split("/", 1)
        take, checks = takes[(scene_id, name)]
        assert checks.voice is not None
        references[character.id] = Reference(
            character.id, "medoid", checks.voice, scene=scene_id, take=name, clip=take.clip
        )
    if references != kept:
        book.save(references)
    return references


def set_reference(
    storyboard: Storyboard, *, workdir: Path, character_id: str, source: str
) -> Reference:
    """Make a take (SCENE or SCENE:TAKE; the scene's pick when no take is named) the character's
    reference; BadInputError naming the fix when it cannot be."""
    from .errors import BadInputError

    character = next((c for c in storyboard.characters if c.id == character_id), None)
    if character is None:
        names = ", ".join(c.id for c in storyboard.characters) or "none defined"
        raise BadInputError(f"no character {character_id!r}: give one of {names}")
    scene_ref, _, take_ref = source.partition(":")
    scene = next(
        (s for s in scenes_of(character, storyboard) if scene_ref in (s.id, str(s.number))), None
    )
    if scene is None:
        raise BadInputError(
            f"{scene_ref!r} is not a generated scene of {character.label}: give one of "
            f"{', '.join(s.id for s in scenes_of(character, storyboard)) or 'none'}"
        )
    with work_lock(workdir):
        state = StateStore(workdir).load(storyboard=str(storyboard.path), title=storyboard.title)
        entry = state.scenes.get(scene.id)
        if entry is None or not entry.takes:
            raise BadInputError(f"{scene.label} has no takes yet: run 'f1gen generate' first")
        if take_ref:
            take = find(entry, take_ref)
        else:
            take = next((t for t in entry.takes if t.clip == entry.clip), None) or entry.takes[-1]
        checks = None
        if take.sha256 is not None:
            checks = CheckCache(workdir).get(check_key(scene, take.sha256))
        if checks is None or checks.voice is None:
            raise BadInputError(
                f"{scene.label}: take {take.name} has no voice to take (no checks, or under a "
                "second of speech): pick another take"
            )
        book = VoiceBook(workdir)
        references = book.load()
        reference = Reference(
            character.id, "picked", checks.voice, scene=scene.id, take=take.name, clip=take.clip
        )
        references[character.id] = reference
        book.save(references)
        recast(storyboard, state, workdir=workdir)
        StateStore(workdir).save(state)
    return reference


def recast(
    storyboard: Storyboard,
    state: RunState,
    *,
    workdir: Path,
    option: VoiceCheck | None = None,
) -> list[str]:
    """Every character's scene picked again against the reference as it stands now (a pick by
    hand stays); the ids of scenes whose clip changed."""
    refresh(storyboard, state, workdir=workdir)
    cache = CheckCache(workdir)
    changed = []
    for character in storyboard.characters:
        for scene in scenes_of(character, storyboard):
            entry = state.scenes.get(scene.id)
            if entry is None or not entry.takes:
                continue
            before = entry.clip
            known = known_checks(cache, scene, entry)
            repick(scene, entry, workdir=workdir, checks=known, voice_check=option)
            if entry.clip != before:
                changed.append(scene.id)
    return changed
