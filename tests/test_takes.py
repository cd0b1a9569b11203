"""The clips folder: takes named once, kept beside each other, found again on disk."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from f1gen import storyboard as storyboards
from f1gen.errors import ClipRejected, WriteError
from f1gen.scene import Scene
from f1gen.takes import Take, TakeStore

FINGERPRINT = "abcdef12" + "0" * 56
OTHER = "99999999" + "0" * 56


@pytest.fixture
def scene(write_storyboard: Callable[..., Path]) -> Scene:
    """The second scene of a storyboard: number 2, id s2."""
    return storyboards.load(write_storyboard(2)).storyboard.scenes[1]


def _partial(store: TakeStore, scene: Scene, content: bytes) -> Path:
    store.folder.mkdir(parents=True, exist_ok=True)
    partial = store.partial(scene)
    partial.write_bytes(content)
    return partial


def _take(store: TakeStore, scene: Scene, content: bytes, fingerprint: str = FINGERPRINT) -> Take:
    """A clip come back, kept and checked."""
    partial = _partial(store, scene, content)
    take = store.keep(scene, fingerprint, partial)
    store.settle(take, partial)
    return take


def test_a_take_is_named_by_scene_number_id_and_fingerprint(scene: Scene) -> None:
    store = TakeStore(Path("clips"))

    assert store.name(scene, FINGERPRINT) == "02-s2-abcdef12.mp4"
    assert store.name(scene, FINGERPRINT, 3) == "02-s2-abcdef12-take3.mp4"
    assert store.partial(scene) == Path(f"clips/.partial-s2-{os.getpid()}.mp4")


def test_a_new_take_goes_beside_the_older_ones(scene: Scene) -> None:
    store = TakeStore(Path("clips"))

    first = _take(store, scene, b"one")
    second = _take(store, scene, b"two")

    assert first == Take(1, Path("clips/02-s2-abcdef12.mp4"), FINGERPRINT)
    assert second == Take(2, Path("clips/02-s2-abcdef12-take2.mp4"), FINGERPRINT)
    assert (first.path.read_bytes(), second.path.read_bytes()) == (b"one", b"two")
    assert not store.partial(scene).exists()


def test_a_clip_is_kept_under_its_take_name_before_its_checks_and_discarded_if_it_fails(
    scene: Scene,
) -> None:
    store = TakeStore(Path("clips"))
    older = _take(store, scene, b"older")
    partial = _partial(store, scene, b"came back")

    kept = store.keep(scene, FINGERPRINT, partial)

    assert kept == Take(2, Path("clips/02-s2-abcdef12-take2.mp4"), FINGERPRINT)
    assert kept.path.read_bytes() == partial.read_bytes() == b"came back"  # a run killed now
    store.discard(kept, partial)  # loses nothing it paid for; a rejected clip leaves nothing
    assert sorted(Path("clips").iterdir()) == [older.path]


def test_takes_on_disk_are_listed_newest_first_for_their_fingerprint_only(scene: Scene) -> None:
    store = TakeStore(Path("clips"))
    old = _take(store, scene, b"old")
    new = _take(store, scene, b"new")
    os.utime(old.path, (1_000_000, 1_000_000))
    _take(store, scene, b"another fingerprint", OTHER)
    Path("clips/02-s2-abcdef12-notes.mp4").write_bytes(b"not a take")

    assert store.takes(scene, FINGERPRINT) == [new, old]


def test_the_newest_sound_take_is_found_never_the_excluded_one(scene: Scene) -> None:
    store = TakeStore(Path("clips"))
    sound = _take(store, scene, b"sound")
    broken = _take(store, scene, b"broken")
    excluded = _take(store, scene, b"sound too")
    for age, take in enumerate((sound, broken, excluded)):
        os.utime(take.path, (1_000_000 + age, 1_000_000 + age))

    def check(path: Path) -> bytes:
        if path.read_bytes() == b"broken":
            raise ClipRejected(f"{path.name}: does not decode")
        return path.read_bytes()

    assert store.find(scene, FINGERPRINT, check=check, exclude=excluded.path) == (sound, b"sound")
    assert store.find(scene, OTHER, check=check) is None


def test_partials_are_cleaned_and_takes_are_kept(scene: Scene) -> None:
    store = TakeStore(Path("clips"))
    take = _take(store, scene, b"take")
    left = _partial(store, scene, b"half a clip")

    store.clean_partials()

    assert take.path.is_file() and not left.exists()


def test_a_folder_that_cannot_take_a_clip_is_one_line(scene: Scene) -> None:
    Path("clips").write_text("a file where the folder should be")

    with pytest.raises(WriteError) as caught:
        TakeStore(Path("clips")).check_writable()

    assert caught.value.message == (
        "clips: cannot write a clip (File exists): fix the folder's permissions or free disk "
        "space, then re-run; nothing more was spent"
    )
