"""The state file: atomic, versioned, and never damaged by a failed write."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from f1gen.errors import StateError, WriteError
from f1gen.state import STATE_VERSION, StateStore


def test_state_round_trips(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = store.load(storyboard="b.yaml", title="T")
    entry = state.scene("intro", 1)
    entry.add_failure("rejected", "too short")
    store.save(state)

    again = store.read()

    assert again.scenes["intro"].failures[0].message == "too short"
    assert json.loads((tmp_path / "state.json").read_text())["version"] == STATE_VERSION


def test_a_failed_write_leaves_the_previous_state_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(tmp_path)
    state = store.load(storyboard="b.yaml", title="T")
    state.scene("intro", 1).status = "done"
    store.save(state)
    before = (tmp_path / "state.json").read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    state.scene("intro", 1).status = "failed"
    with pytest.raises(
        WriteError, match=r"cannot write \(No space left on device\): free disk space"
    ):
        store.save(state)

    assert (tmp_path / "state.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_newer_state_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(
        json.dumps({"version": 99, "storyboard": "b", "scenes": {}})
    )

    with pytest.raises(
        StateError, match="state version 99 is newer than this f1gen understands: upgrade"
    ):
        StateStore(tmp_path).read()


def test_a_damaged_state_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(
        json.dumps({"version": 1, "storyboard": "b", "scenes": {"x": {"bogus": 1}}})
    )

    with pytest.raises(StateError, match=r"damaged state .*: move it aside to start afresh"):
        StateStore(tmp_path).read()


DAMAGED = "move it aside to start afresh (clips are kept)"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe{}", f"is not an f1gen state file (not UTF-8 text): {DAMAGED}"),
        (b'{"version": 1, "storyboard": "b", "scenes": []}',
         f"damaged state (scenes: expected a mapping of scene ids): {DAMAGED}"),
        (b'{"scenes": 5}', f"is not an f1gen state file: {DAMAGED}"),
        (b'{"version": "1", "storyboard": "b", "scenes": {}}',
         f"is not an f1gen state file or is damaged (version '1'): {DAMAGED}"),
        (b'{"version": 0, "storyboard": "b"}',
         f"is not an f1gen state file or is damaged (version 0): {DAMAGED}"),
        (b'{"version": true, "storyboard": "b"}',
         f"is not an f1gen state file or is damaged (version True): {DAMAGED}"),
        (b'[1, 2]', f"is not an f1gen state file: {DAMAGED}"),
        (b'{"version": 1, "storyboard": "b", "scenes": {"s1": {"id": "s1", "number": "one"}}}',
         f"damaged state (scenes.s1.number: expected int, found 'one'): {DAMAGED}"),
        (b'{"version": 1, "storyboard": "b", "scenes": {"s1": {"id": "s1", "number": 1, '
         b'"status": "great"}}}',
         f"damaged state (scenes.s1.status: 'great' is not one of pending, done, failed): {DAMAGED}"),
        (b'{"version": 1, "storyboard": "b", "retry_after": {"ovi:x": "soon"}}',
         f"damaged state (retry_after.ovi:x: 'soon' is not a time): {DAMAGED}"),
        (b'{"version": 1, "storyboard": "b", "scenes": {"s1": {"id": "s1", "number": 1, '
         b'"failures": [{"at": 1}]}}}',
         f"damaged state (scenes.s1.failures[0]: expected a failure with at, kind and message): {DAMAGED}"),
    ],
)  # fmt: skip
def test_a_damaged_state_says_so_and_never_asks_for_an_upgrade(
    tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "state.json").write_bytes(content)

    with pytest.raises(StateError) as caught:
        StateStore(tmp_path).read()

    assert caught.value.message == f"{tmp_path / 'state.json'}: {message}"
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "clip", ["/abs/path/file", "clips/../../x", "../clips/x.mp4", "clips", "images/x.png", ""]
)
def test_a_clip_path_outside_the_clips_folder_is_not_trusted(tmp_path: Path, clip: str) -> None:
    state = {
        "version": 1,
        "storyboard": "b",
        "scenes": {"pit": {"id": "pit", "number": 2, "clip": clip}},
    }
    (tmp_path / "state.json").write_text(json.dumps(state))

    with pytest.raises(StateError) as caught:
        StateStore(tmp_path).read()

    assert caught.value.message == (
        f"{tmp_path / 'state.json'}: scene 'pit', field clip: {clip!r} is not a file in "
        f"{tmp_path / 'clips'}: the state is not trusted; {DAMAGED}"
    )


def test_a_clip_through_a_link_out_of_the_clips_folder_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "out").symlink_to(tmp_path.parent)
    state = {"version": 1, "storyboard": "b", "scenes": {"pit": {"id": "pit", "number": 2,
             "clip": "clips/out/x.mp4"}}}  # fmt: skip
    (tmp_path / "state.json").write_text(json.dumps(state))

    with pytest.raises(StateError, match=r"field clip: 'clips/out/x\.mp4' is not a file in"):
        StateStore(tmp_path).read()


def test_every_field_f1gen_writes_is_read_back(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = store.load(storyboard=str(tmp_path / "b.yaml"), title="T")
    entry = state.scene("intro", 1)
    entry.clip, entry.video_seconds, entry.steps = "clips/01-intro-abc.mp4", 5.0417, 40
    entry.add_failure("busy", "queue full")
    state.retry_after["ovi:x"] = "2026-01-01T00:00:00+00:00"
    store.save(state)

    assert store.read() == state


def test_a_write_clears_the_partial_files_of_writers_that_were_killed(tmp_path: Path) -> None:
    import subprocess
    import sys

    from f1gen.files import write_atomic

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    left = tmp_path / f".state.json.{ended.pid}.tmp"  # kill -9 between the write and the rename
    left.write_bytes(b"{half")
    alive = tmp_path / f".state.json.{os.getppid()}.tmp"  # another writer, still at it
    alive.write_bytes(b"{half")

    write_atomic(tmp_path / "state.json", b"{}")

    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name, "state.json"]
