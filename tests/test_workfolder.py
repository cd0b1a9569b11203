"""The work folder and the bucket prefix belong to one storyboard, and a folder that cannot be
written stops the run at once with one line, before anything is spent."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from f1gen import storyboard as storyboards
from f1gen.errors import WriteError
from f1gen.runner import Runner, RunOptions
from tests.support.faults import refuse_writes
from tests.support.images import draw_portrait
from tests.support.mediatools import MarkerClip
from tests.support.scripted import ScriptedBackend, good
from tests.support.seaweedfs import WRITER, SeaweedFS

BUCKET = "f1-video-clips"


def _board(folder: str, *, speech: str = "Hello.") -> Path:
    """folder/small.yaml: one generated scene over its own portrait."""
    base = Path(folder)
    draw_portrait(base / "images" / "p.png", color="red")
    path = base / "small.yaml"
    path.write_text(yaml.safe_dump({"title": folder, "scenes": [
        {"id": "s1", "image": "images/p.png", "action": "Waves.", "speech": speech}]}))  # fmt: skip
    return path


def test_two_storyboards_with_the_same_name_do_not_share_a_work_folder(
    cli: Callable[..., Any],
) -> None:
    first, second = _board("a"), _board("b")
    assert cli("generate", first, "--backend", "animatic").exit_code == 0
    state = Path("out/small/state.json").read_bytes()

    results = [cli(command, second, "--backend", "animatic") if command == "generate"
               else cli(command, second) for command in ("generate", "status", "stitch")]  # fmt: skip

    message = (
        "error: out/small/state.json belongs to the storyboard a/small.yaml, not b/small.yaml: "
        "give this one its own work folder (--workdir out/small-2) or rename it\n"
    )
    assert [(r.exit_code, r.stderr) for r in results] == [(2, message)] * 3
    assert Path("out/small/state.json").read_bytes() == state
    assert len(list(Path("out/small/clips").glob("*.mp4"))) == 1


def test_the_suggested_work_folder_keeps_them_apart(cli: Callable[..., Any]) -> None:
    first, second = _board("a"), _board("b")
    cli("generate", first, "--backend", "animatic")

    result = cli("generate", second, "--backend", "animatic", "--workdir", "out/small-2")

    assert result.exit_code == 0, result.stderr
    assert json.loads(Path("out/small-2/state.json").read_text())["source"] == "b/small.yaml"


def test_a_copied_project_keeps_its_runs(cli: Callable[..., Any], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    board = _board("proj/scenes")
    monkeypatch.chdir("proj")
    cli("generate", "scenes/small.yaml", "--backend", "animatic")
    shutil.copytree(tmp_path / "proj", tmp_path / "copy")
    monkeypatch.chdir(tmp_path / "copy")

    result = cli("generate", "scenes/small.yaml", "--backend", "animatic", "--json")

    assert (tmp_path / board).exists() and result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["skipped"] == ["s1"]


def test_a_moved_storyboard_adopts_its_run(cli: Callable[..., Any]) -> None:
    cli("generate", _board("a"), "--backend", "animatic")
    shutil.move("a", "renamed")

    result = cli("generate", "renamed/small.yaml", "--backend", "animatic", "--json")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["skipped"] == ["s1"]


@pytest.fixture
def bucket(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SeaweedFS:
    """An empty bucket on the real local S3 server, with f1gen pointed at it."""
    if not seaweedfs.running:
        seaweedfs.start()
    seaweedfs.empty()
    for name, value in {"AWS_ACCESS_KEY_ID": WRITER.access_key,
                        "AWS_SECRET_ACCESS_KEY": WRITER.secret_key, "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_CONFIG_FILE": str(tmp_path / "none"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                        "F1GEN_S3_ENDPOINT": seaweedfs.url, "F1GEN_BUCKET": BUCKET}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    seaweedfs.client().create_bucket(Bucket=BUCKET)
    return seaweedfs


def _keys(server: SeaweedFS) -> list[str]:
    listing = server.client().list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_two_storyboards_with_the_same_name_do_not_share_a_bucket_prefix(
    bucket: SeaweedFS, cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("generate", _board("a"), "--backend", "animatic")
    before = _keys(bucket)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # another machine: no out/ here
    board = _board("b", speech="Another line.")

    results = [cli("generate", board, "--backend", "animatic"), cli("push", board)]

    message = (
        f"error: s3://{BUCKET}/small holds the run of the storyboard a/small.yaml, not "
        "b/small.yaml: give this one its own work folder and bucket prefix "
        "(--workdir out/small-2) or rename it\n"
    )
    assert [r.exit_code for r in results] == [2, 2]
    assert results[0].stderr.endswith(message) and results[1].stderr == message
    assert not list(Path("out/small").glob("clips/*.mp4"))  # refused before anything was made
    assert _keys(bucket) == before
    made = cli("generate", board, "--backend", "animatic", "--workdir", "out/small-2")
    assert made.exit_code == 0, made.stderr
    assert any(key.startswith("small-2/clips/") for key in _keys(bucket))


def test_a_state_in_the_bucket_that_names_paths_outside_clips_is_refused(
    bucket: SeaweedFS, cli: Callable[..., Any], tmp_path: Path
) -> None:
    board = _board("a")
    cli("generate", board, "--backend", "animatic")
    state = json.loads(Path("out/small/state.json").read_text())
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    state["scenes"]["s1"]["clip"] = "clips/../../../victim.txt"
    body = json.dumps(state).encode()
    bucket.client().put_object(
        Bucket=BUCKET, Key="small/state.json", Body=body,
        Metadata={"sha256": hashlib.sha256(body).hexdigest()})  # fmt: skip
    shutil.rmtree("out")  # a fresh machine: the state comes from the bucket

    result = cli("stitch", board)

    assert (result.exit_code, result.stderr) == (
        2,
        f"error: s3://{BUCKET}/small/state.json: scene 's1', field clip: "
        "'clips/../../../victim.txt' is not a file in out/small/clips: the state is not trusted; "
        "move it aside to start afresh (clips are kept)\n",
    )
    assert victim.read_text() == "mine"
    assert not Path("out/small/state.json").exists()
    # Nothing but the lock the stitch held while it looked (empty, and free again)
    assert [p for p in Path("out").rglob("*") if p.is_file()] == [Path("out/small/.lock")]
    assert Path("out/small/.lock").stat().st_size == 0


def _runner(board: Path, backend: Any) -> Runner:
    loaded = storyboards.load(board).storyboard
    return Runner(loaded, workdir=Path("out") / loaded.stem, lanes=[backend])


def test_a_clips_folder_that_cannot_be_written_stops_before_any_call(
    write_storyboard: Callable[..., Path],
    marker_clips: list[MarkerClip],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board = write_storyboard(3)
    backend = ScriptedBackend([good(c) for c in marker_clips[:3]])
    refuse_writes(monkeypatch, Path("out/board/clips"))

    with pytest.raises(WriteError) as caught:
        _runner(board, backend).run(RunOptions())

    assert caught.value.message == (
        "out/board/clips: cannot write a clip (Permission denied): fix the folder's permissions "
        "or free disk space, then re-run; nothing more was spent"
    )
    assert caught.value.exit_code == 1
    assert backend.calls == []


def test_a_clips_folder_that_fails_mid_run_stops_at_once_and_keeps_the_clips_made(
    write_storyboard: Callable[..., Path],
    marker_clips: list[MarkerClip],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board = write_storyboard(3)

    def disk_gone(dest: Path) -> None:
        refuse_writes(monkeypatch, Path("out/board/clips"))
        good(marker_clips[1])(dest)

    backend = ScriptedBackend([good(marker_clips[0]), disk_gone, good(marker_clips[2])])

    with pytest.raises(WriteError, match=r"^out/board/clips: cannot write \(Permission denied\)"):
        _runner(board, backend).run(RunOptions())

    assert backend.calls == ["s1", "s2"]  # no retries, no third scene: nothing could be kept
    state = json.loads(Path("out/board/state.json").read_text())
    assert state["scenes"]["s1"]["status"] == "done"
    assert Path("out/board", state["scenes"]["s1"]["clip"]).is_file()
    assert (state["scenes"]["s2"]["status"], state["scenes"]["s2"]["failures"]) == ("pending", [])


def test_a_full_or_read_only_clips_folder_is_one_line_and_exit_1(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    board = write_storyboard(2)
    refuse_writes(monkeypatch, Path("out/board/clips"))

    result = cli("generate", board, "--backend", "animatic")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "error: out/board/clips: cannot write a clip (Permission denied): fix the folder's "
        "permissions or free disk space, then re-run; nothing more was spent"
    )


@pytest.mark.parametrize(
    ("refused", "command", "message"),
    [
        ("out", "generate", "out/board/logs: cannot write (Permission denied): fix its permissions "
         "or free disk space, or give another work folder with --workdir"),
        ("out/board/.lock", "generate", "out/board: cannot write (Permission denied): fix its "
         "permissions or free disk space, or give another work folder with --workdir"),
    ],
)  # fmt: skip
def test_a_work_folder_that_cannot_be_written_is_one_line_not_a_traceback(
    refused: str,
    command: str,
    message: str,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board = write_storyboard(1)
    Path("out/board/logs").mkdir(parents=True)
    refuse_writes(monkeypatch, Path(refused))

    result = cli(command, board, "--backend", "animatic")

    assert (result.exit_code, result.stderr.splitlines()[-1]) == (1, f"error: {message}")


def test_a_clip_in_the_bucket_that_fails_its_checksum_is_exit_1_not_try_later(
    bucket: SeaweedFS, cli: Callable[..., Any]
) -> None:
    board = _board("a")
    cli("generate", board, "--backend", "animatic")
    clip = json.loads(Path("out/small/state.json").read_text())["scenes"]["s1"]["clip"]
    client = bucket.client()
    head = client.head_object(Bucket=BUCKET, Key=f"small/{clip}")
    client.put_object(Bucket=BUCKET, Key=f"small/{clip}", Body=b"not the clip",
                      Metadata=head["Metadata"])  # fmt: skip
    shutil.rmtree("out")

    result = cli("stitch", board)

    assert (result.exit_code, result.stderr) == (
        1,
        f"error: s3://{BUCKET}/small: small/{clip} does not match its checksum: upload it again\n",
    )
    assert not Path("out/small", clip).exists()
