"""f1gen generate: resumable, never accepts a bad clip, never loses a good one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from f1gen import storyboard as storyboards
from f1gen.backends.animatic import AnimaticBackend
from f1gen.errors import BadInputError, ConfigError, LockedError, WriteError
from f1gen.events import SceneAccepted, SceneAttemptFailed, SceneStarted
from f1gen.plan import parse_only
from f1gen.runner import Runner, RunOptions
from f1gen.state import StateStore, work_lock
from f1gen.takes import TakeStore
from tests.support.mediatools import MarkerClip
from tests.support.scripted import ScriptedBackend, failing, good, truncated

F1GEN = [sys.executable, "-m", "f1gen"]


def _runner(board: Path, backend: Any, events: list[Any] | None = None) -> Runner:
    loaded = storyboards.load(board).storyboard
    sink = events.append if events is not None else (lambda event: None)
    return Runner(loaded, workdir=Path("out") / loaded.stem, lanes=[backend], emit=sink)


def test_every_scene_gets_a_checked_clip_and_a_state_entry(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    backend = ScriptedBackend([good(c) for c in marker_clips[:3]])

    summary = _runner(write_storyboard(3), backend).run(RunOptions())

    assert (summary.done, summary.failed, summary.skipped) == (["s1", "s2", "s3"], [], [])
    state = json.loads(Path("out/board/state.json").read_text())
    assert state["version"] == 2
    entry = state["scenes"]["s2"]
    assert entry["status"] == "done" and entry["attempts"] == 1 and len(entry["takes"]) == 1
    assert entry["clip"].startswith("clips/02-s2-") and Path("out/board", entry["clip"]).is_file()
    assert entry["video_seconds"] == pytest.approx(121 / 24, abs=0.001)
    assert entry["audio_seconds"] == pytest.approx(4.992, abs=0.01)


def test_a_second_run_skips_finished_scenes_without_calling_the_backend(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(3)
    _runner(board, ScriptedBackend([good(c) for c in marker_clips[:3]])).run(RunOptions())
    again = ScriptedBackend([])

    summary = _runner(board, again).run(RunOptions())

    assert (again.calls, summary.skipped) == ([], ["s1", "s2", "s3"])


def test_editing_one_scene_regenerates_that_scene_alone_and_keeps_the_old_take(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(3)
    _runner(board, ScriptedBackend([good(c) for c in marker_clips[:3]])).run(RunOptions())
    old_clip = Path(
        "out/board", json.loads(Path("out/board/state.json").read_text())["scenes"]["s2"]["clip"]
    )
    data = yaml.safe_load(board.read_text())
    data["scenes"][1]["speech"] = "A different line."
    board.write_text(yaml.safe_dump(data))
    backend = ScriptedBackend([good(marker_clips[5])])

    summary = _runner(board, backend).run(RunOptions())

    assert backend.calls == ["s2"] and summary.skipped == ["s1", "s3"]
    assert old_clip.is_file()  # a new take never replaces the last good clip
    new_clip = json.loads(Path("out/board/state.json").read_text())["scenes"]["s2"]["clip"]
    assert Path("out/board", new_clip) != old_clip


def test_force_makes_a_new_take_beside_the_old_one(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(1)
    _runner(board, ScriptedBackend([good(marker_clips[0])])).run(RunOptions())

    _runner(board, ScriptedBackend([good(marker_clips[1])])).run(RunOptions(force=True))

    clips = sorted(p.name for p in Path("out/board/clips").iterdir())
    assert len(clips) == 2 and clips[0].endswith("-take2.mp4")
    assert len(json.loads(Path("out/board/state.json").read_text())["scenes"]["s1"]["takes"]) == 2


def test_a_changed_or_deleted_clip_file_is_made_again(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(2)
    _runner(board, ScriptedBackend([good(c) for c in marker_clips[:2]])).run(RunOptions())
    clips = sorted(Path("out/board/clips").glob("*.mp4"))
    clips[0].unlink()
    with clips[1].open("ab") as handle:
        handle.write(b"tampered")
    backend = ScriptedBackend([good(c) for c in marker_clips[2:4]])

    _runner(board, backend).run(RunOptions())

    assert backend.calls == ["s1", "s2"]


def test_a_clip_rewritten_in_place_with_its_size_and_time_kept_is_made_again(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(1)
    _runner(board, ScriptedBackend([good(marker_clips[0])])).run(RunOptions())
    clip = next(Path("out/board/clips").glob("*.mp4"))
    seen = clip.stat()
    with clip.open("r+b") as handle:  # same length, other bytes, the old modification time
        handle.seek(seen.st_size // 2)
        handle.write(b"tampered")
    os.utime(clip, ns=(seen.st_atime_ns, seen.st_mtime_ns))
    backend = ScriptedBackend([good(marker_clips[1])])

    _runner(board, backend).run(RunOptions())  # in the process that read the clip before

    assert backend.calls == ["s1"]


@pytest.mark.parametrize(
    ("bad_take", "message"),
    [
        (truncated, "does not decode"),
        (lambda clip: lambda dest: dest.write_bytes(b"not a video at all"), "does not decode"),
    ],
)
def test_a_corrupt_clip_is_rejected_and_retried_never_accepted(
    bad_take: Callable[[MarkerClip], Callable[[Path], None]],
    message: str,
    write_storyboard: Callable[..., Path],
    marker_clips: list[MarkerClip],
) -> None:
    events: list[Any] = []
    backend = ScriptedBackend([bad_take(marker_clips[0]), good(marker_clips[0])])

    summary = _runner(write_storyboard(1), backend, events).run(RunOptions())

    assert summary.done == ["s1"] and backend.calls == ["s1", "s1"]
    failed = [e for e in events if isinstance(e, SceneAttemptFailed)]
    assert len(failed) == 1 and message in failed[0].message and failed[0].will_retry
    entry = json.loads(Path("out/board/state.json").read_text())["scenes"]["s1"]
    assert (entry["attempts"], entry["failures"][0]["kind"]) == (2, "rejected")
    assert not list(Path("out/board/clips").glob(".partial-*"))


def test_a_clip_of_the_wrong_size_or_length_is_rejected(
    write_storyboard: Callable[..., Path], tmp_path: Path
) -> None:
    from tests.support.mediatools import make_marker_clip

    wide = make_marker_clip(tmp_path / "wide.mp4", marker_frame=5, size=(640, 360))
    short = make_marker_clip(tmp_path / "short.mp4", marker_frame=5, frames=48)
    backend = ScriptedBackend([good(wide), good(short)])

    summary = _runner(write_storyboard(1), backend).run(RunOptions(max_attempts=2))

    assert summary.failed == ["s1"]
    entry = json.loads(Path("out/board/state.json").read_text())["scenes"]["s1"]
    assert entry["status"] == "failed"
    assert [f["message"] for f in entry["failures"]] == [
        f"{Path(p).name}: {m}" for p, m in [
            (f".partial-s1-{os.getpid()}.mp4", "is 640x360, expected 576x896"),
            (f".partial-s1-{os.getpid()}.mp4", "lasts 2.00 s, expected 4.5-5.5 s"),
        ]
    ]  # fmt: skip


def test_the_next_clip_is_asked_for_before_the_last_one_is_checked_and_accepted(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    events: list[Any] = []
    backend = ScriptedBackend([good(c) for c in marker_clips[:3]])

    summary = _runner(write_storyboard(3), backend, events).run(RunOptions())

    order = [
        f"{type(e).__name__} {e.scene.id}"
        for e in events
        if isinstance(e, SceneStarted | SceneAccepted)
    ]
    assert summary.done == ["s1", "s2", "s3"]  # accepted in the order they came back
    assert order.index("SceneStarted s2") < order.index("SceneAccepted s1")


def test_the_clips_folder_is_probed_once_and_again_after_a_failed_attempt(
    write_storyboard: Callable[..., Path],
    marker_clips: list[MarkerClip],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probes: list[int] = []
    real = TakeStore.check_writable

    def counted(store: TakeStore) -> None:
        probes.append(1)
        real(store)

    monkeypatch.setattr(TakeStore, "check_writable", counted)
    takes = [good(marker_clips[0]), good(marker_clips[1]), failing("GPU task aborted"),
             good(marker_clips[2]), good(marker_clips[3])]  # fmt: skip

    summary = _runner(write_storyboard(4), ScriptedBackend(takes)).run(RunOptions())

    assert summary.done == ["s1", "s2", "s3", "s4"]
    assert len(probes) == 2  # before the first call; before the call after the failure


def test_a_folder_without_room_for_a_clip_stops_before_the_next_call_naming_the_room_needed(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    def free(folder: Path) -> int:  # the first clip leaves 2 MB: the 64 KiB write probe passes
        return 2_000_000 if any(folder.glob("*.mp4")) else 50_000_000

    backend = ScriptedBackend([good(c) for c in marker_clips[:3]])
    loaded = storyboards.load(write_storyboard(3)).storyboard
    runner = Runner(loaded, workdir=Path("out/board"), lanes=[backend], free=free)

    with pytest.raises(WriteError) as stopped:
        runner.run(RunOptions())

    # The next clip needs room beside the one back and not yet checked: 3 x 2.2 MB (OVI_SPEC).
    assert stopped.value.message == (
        "out/board/clips: no room for the next clip (2.0 MB free, 6.6 MB needed): free disk "
        "space or give another work folder with --workdir, then re-run (it resumes); nothing "
        "more was spent"
    )
    assert backend.calls == ["s1"]
    state = StateStore(Path("out/board")).read()
    assert state.scenes["s1"].status == "done" and state.scenes["s2"].attempts == 0


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB filesystem (tmpfs), where this machine lets the tests mount one."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 2 MB tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_2_mb_filesystem_stops_the_run_before_any_call(
    write_storyboard: Callable[..., Path], small_filesystem: Path
) -> None:
    board = write_storyboard(6)
    workdir = small_filesystem / "board"

    run = subprocess.run([*F1GEN, "generate", str(board), "--backend", "animatic",
                          "--workdir", str(workdir)], capture_output=True, text=True,
                         timeout=120)  # fmt: skip

    assert run.returncode == 1, run.stderr
    assert run.stderr.splitlines()[-1].startswith(f"error: {workdir / 'clips'}: no room for the")
    assert "MB free, 4.4 MB needed): free disk space" in run.stderr
    state = StateStore(workdir).read()
    assert [entry.attempts for entry in state.scenes.values()] == [0] * 6


def test_a_scene_that_keeps_failing_is_marked_failed_and_the_run_goes_on(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    backend = ScriptedBackend([failing("GPU task aborted")] * 3 + [good(marker_clips[1])])

    summary = _runner(write_storyboard(2), backend).run(RunOptions(max_attempts=3))

    assert (summary.failed, summary.done) == (["s1"], ["s2"])


def test_a_final_error_stops_the_run_with_the_state_saved(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    backend = ScriptedBackend([good(marker_clips[0]), failing("token rejected", error=ConfigError)])

    with pytest.raises(ConfigError):
        _runner(write_storyboard(3), backend).run(RunOptions())

    state = StateStore(Path("out/board")).read()
    assert state.scenes["s1"].status == "done"
    assert state.scenes["s2"].last_error == "token rejected"


def test_only_picks_scenes_by_number_range_and_id(write_storyboard: Callable[..., Path]) -> None:
    board = storyboards.load(write_storyboard(6)).storyboard

    assert parse_only("1,3-4,s6", board) == {1, 3, 4, 6}
    with pytest.raises(BadInputError, match=r"^--only '9': scenes are numbered 1-6$"):
        parse_only("9", board)
    with pytest.raises(BadInputError, match=r"^--only 'nope': no scene has that number or id$"):
        parse_only("nope", board)


def test_a_held_work_folder_refuses_a_second_run(write_storyboard: Callable[..., Path]) -> None:
    write_storyboard(1)
    with (
        work_lock(Path("out/board")),
        pytest.raises(LockedError, match=rf"in use by f1gen pid {os.getpid()}"),
    ):
        _runner(Path("board.yaml"), ScriptedBackend([])).run(RunOptions())


def test_animatic_clip_meets_the_ovi_spec(write_storyboard: Callable[..., Path]) -> None:
    board = write_storyboard(1)
    loaded = storyboards.load(board).storyboard
    runner = Runner(
        loaded, workdir=Path("out/board"), lanes=[AnimaticBackend(ffmpeg=None, scratch=Path("tmp"))]
    )

    runner.run(RunOptions())

    import av

    clip = next(Path("out/board/clips").glob("*.mp4"))
    with av.open(str(clip)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.width, video.codec_context.height) == (576, 896)
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert video.average_rate == 24 and video.frames == 121
    assert not list(Path("tmp").iterdir())


# Real processes: a killed run, an interrupted run, two runs at once.


def _start(board: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*F1GEN, "generate", str(board), "--backend", "animatic", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_for_done(count: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = json.loads(Path("out/board/state.json").read_text())
        except (OSError, ValueError):
            state = {"scenes": {}}
        if sum(s["status"] == "done" for s in state["scenes"].values()) >= count:
            return state
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} scenes done after {timeout} s")


def test_resume_after_kill_9_does_not_regenerate_finished_scenes(
    write_storyboard: Callable[..., Path],
) -> None:
    board = write_storyboard(6)
    process = _start(board)
    _wait_for_done(2)
    process.kill()
    process.wait()
    before = json.loads(Path("out/board/state.json").read_text())  # parses: writes are atomic
    finished = {k: v["sha256"] for k, v in before["scenes"].items() if v["status"] == "done"}

    resumed = subprocess.run([*F1GEN, "generate", str(board), "--backend", "animatic", "--json"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip

    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert set(summary["skipped"]) >= set(finished)
    assert set(summary["generated"]).isdisjoint(finished)
    after = json.loads(Path("out/board/state.json").read_text())
    assert all(after["scenes"][k]["sha256"] == sha for k, sha in finished.items())
    assert all(s["status"] == "done" for s in after["scenes"].values())
    assert not list(Path("out/board/clips").glob(".partial-*"))


def _held_at_scene_2(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose ffmpeg holds scene 2's render until the test lets it go (a file
    named release appears), so that the run is certainly not over when the signal comes."""
    from f1gen.media import find_ffmpeg

    hold = tmp_path / "hold"
    hold.mkdir()
    wrapper = hold / "ffmpeg"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *partial-s2-*) touch "{hold}/s2-started"\n'
        f'  while [ ! -e "{hold}/release" ]; do sleep 0.05; done;; esac\n'
        f'exec "{find_ffmpeg()}" "$@"\n'
    )
    wrapper.chmod(0o755)
    return {**os.environ, "F1GEN_FFMPEG": str(wrapper)}, hold


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout} s"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_exits_130_resumable(
    write_storyboard: Callable[..., Path], sig: int, tmp_path: Path
) -> None:
    board = write_storyboard(6)
    env, hold = _held_at_scene_2(tmp_path)
    process = subprocess.Popen([*F1GEN, "generate", str(board), "--backend", "animatic"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    _wait_for_done(1)
    _wait_for(hold / "s2-started")  # scene 1 is done and scene 2 held: the run is not over
    process.send_signal(sig)
    (hold / "release").touch()
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert "interrupted: nothing was lost; run the same command again to go on" in stderr
    assert "Traceback" not in stderr
    state = StateStore(Path("out/board")).read()
    assert state.scenes["s1"].status == "done"
    assert [state.scenes[f"s{n}"].status for n in range(3, 7)] == ["pending"] * 4
    assert not list(Path("out/board/clips").glob(".partial-*"))


# A KeyboardInterrupt raised inside a finalizer is printed as "Exception ignored" and dropped by
# Python: this child sends itself Ctrl-C from one, on the main thread, as scene 1 is accepted.
SWALLOWED_CTRL_C = """
import signal, sys
from f1gen import cli, runner

class SwallowsCtrlC:
    def __del__(self):
        signal.raise_signal(signal.SIGINT)
        for _ in range(1000):  # the handler runs here, inside the finalizer
            pass

accepted = runner.RunRecord.accepted

def accepted_then_ctrl_c(self, flight, info):
    again = accepted(self, flight, info)
    SwallowsCtrlC()  # dropped at once: its finalizer runs now
    return again

runner.RunRecord.accepted = accepted_then_ctrl_c
sys.argv = ["f1gen", "generate", "board.yaml", "--backend", "animatic"]
cli.main()
"""


def test_a_ctrl_c_swallowed_in_a_finalizer_still_stops_the_run(
    write_storyboard: Callable[..., Path],
) -> None:
    write_storyboard(4)

    run = subprocess.run([sys.executable, "-c", SWALLOWED_CTRL_C],
                         capture_output=True, text=True, timeout=120)  # fmt: skip

    assert "KeyboardInterrupt" in run.stderr  # Python's "Exception ignored in ... __del__"
    assert run.returncode == 130, run.stderr
    assert "interrupted: nothing was lost; run the same command again to go on" in run.stderr
    state = StateStore(Path("out/board")).read()
    assert state.scenes["s1"].status == "done" and state.scenes["s4"].status == "pending"


def test_a_second_generate_on_the_same_folder_exits_75_naming_the_holder(
    write_storyboard: Callable[..., Path],
) -> None:
    board = write_storyboard(6)
    first = _start(board)
    _wait_for_done(1)

    second = subprocess.run([*F1GEN, "generate", str(board), "--backend", "animatic"],
                            capture_output=True, text=True, timeout=30)  # fmt: skip

    first.kill()
    first.wait()
    assert second.returncode == 75
    assert f"out/board is in use by f1gen pid {first.pid} on " in second.stderr
    # A lock left by a killed process is no obstacle: the kernel released it.
    third = subprocess.run([*F1GEN, "generate", str(board), "--backend", "animatic"],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert third.returncode == 0, third.stderr


def test_a_take_left_on_disk_by_a_killed_run_is_used_not_made_again(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(2)
    _runner(board, ScriptedBackend([good(c) for c in marker_clips[:2]])).run(RunOptions())
    state = json.loads(Path("out/board/state.json").read_text())
    state["scenes"]["s2"].update(
        status="pending", clip=None, sha256=None, takes=[]
    )  # killed before the save
    Path("out/board/state.json").write_text(json.dumps(state))
    backend = ScriptedBackend([])

    summary = _runner(board, backend).run(RunOptions())

    assert backend.calls == [] and sorted(summary.skipped) == ["s1", "s2"]
    entry = StateStore(Path("out/board")).read().scenes["s2"]
    assert (entry.status, len(entry.takes)) == ("done", 1) and entry.clip is not None
    assert entry.takes[0].clip == entry.clip


def test_undoing_an_edit_brings_back_the_earlier_take_without_generating(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(1)
    original = board.read_text()
    _runner(board, ScriptedBackend([good(marker_clips[0])])).run(RunOptions())
    board.write_text(original.replace("Line number 1.", "Another line."))
    _runner(board, ScriptedBackend([good(marker_clips[1])])).run(RunOptions())
    board.write_text(original)
    backend = ScriptedBackend([])

    _runner(board, backend).run(RunOptions())

    assert backend.calls == []
    assert StateStore(Path("out/board")).read().scenes["s1"].sha256 == file_digest_of(
        marker_clips[0].path
    )


def file_digest_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
