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
