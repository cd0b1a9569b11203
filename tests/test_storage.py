"""S3/MinIO storage: boto3 against a real S3 server over HTTP on 127.0.0.1 (moto's server mode)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from f1gen import storyboard as storyboards
from f1gen.config import load_settings
from f1gen.errors import ConfigError
from f1gen.runner import Runner, RunOptions
from f1gen.storage import MIB, Storage, from_settings
from tests.support.s3_server import S3Server
from tests.support.scripted import ScriptedBackend, good

BUCKET = "f1-video-clips"
SECRET = "s3SECRETkeyNEVERshown0123456789"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[S3Server]:
    """The server, emptied, with f1gen and boto3 pointed at it and a bucket made."""
    s3_server.start() if s3_server._server is None else None
    s3_server.reset()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEY000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("F1GEN_S3_ENDPOINT", s3_server.url)
    monkeypatch.setenv("F1GEN_BUCKET", BUCKET)
    monkeypatch.setenv("F1GEN_S3_ATTEMPTS", "2")
    _client(s3_server).create_bucket(Bucket=BUCKET)
    yield s3_server
    if s3_server._server is None:  # a test stopped it
        s3_server.start()


def _client(server: S3Server) -> Any:
    return boto3.client("s3", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id="AKIATESTKEY000000000", aws_secret_access_key=SECRET)  # fmt: skip


def _objects(server: S3Server) -> dict[str, dict[str, Any]]:
    listing = _client(server).list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: o for o in listing}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_clips_go_to_the_bucket_under_the_storyboard_prefix_with_metadata(
    s3: S3Server, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(2), "--backend", "animatic", "--json")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["uploaded"] == ["s1", "s2"]
    keys = sorted(_objects(s3))
    state = json.loads(Path("out/board/state.json").read_text())
    assert keys == sorted([f"board/{state['scenes']['s1']['clip']}", f"board/{state['scenes']['s2']['clip']}",
                           "board/state.json"])  # fmt: skip
    head = _client(s3).head_object(Bucket=BUCKET, Key=f"board/{state['scenes']['s1']['clip']}")
    assert head["ContentType"] == "video/mp4"
    assert head["Metadata"] == {"scene": "s1", "fingerprint": state["scenes"]["s1"]["fingerprint"],
                                "sha256": state["scenes"]["s1"]["sha256"]}  # fmt: skip
    assert state["scenes"]["s1"]["remote_key"] == f"board/{state['scenes']['s1']['clip']}"
    assert "2 clips in the bucket" in result.stderr


def test_a_new_take_is_a_new_object_and_the_old_one_stays(
    s3: S3Server, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    cli("generate", board, "--backend", "animatic")

    cli("generate", board, "--backend", "animatic", "--force")

    clips = [k for k in _objects(s3) if k.startswith("board/clips/")]
    assert len(clips) == 2 and any(k.endswith("-take2.mp4") for k in clips)


def test_push_is_idempotent_no_second_put(
    s3: S3Server, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(2)
    cli("generate", board, "--backend", "animatic")
    before = {k: (o["LastModified"], o["ETag"]) for k, o in _objects(s3).items() if "clips/" in k}

    result = cli("push", board, "--json")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["sent"] == [] and json.loads(result.stdout)["already"] == [
        "s1",
        "s2",
    ]
    after = {k: (o["LastModified"], o["ETag"]) for k, o in _objects(s3).items() if "clips/" in k}
    assert after == before


def test_a_large_file_goes_up_in_parts(s3: S3Server, tmp_path: Path) -> None:
    big = tmp_path / "final.mp4"
    big.write_bytes(os.urandom(12 * MIB))
    storage = Storage(bucket=BUCKET, prefix="board", endpoint=s3.url, multipart_threshold=5 * MIB)

    uploaded = storage.upload(big, "final.mp4")

    etag = _client(s3).head_object(Bucket=BUCKET, Key="board/final.mp4")["ETag"]
    assert uploaded.sent and etag.strip('"').endswith("-3")  # a multipart ETag counts its parts
    assert storage.remote_sha256("board/final.mp4") == _sha(big.read_bytes())


def test_links_are_presigned_or_public(s3: S3Server, tmp_path: Path) -> None:
    clip = tmp_path / "x.mp4"
    clip.write_bytes(b"clip bytes")
    storage = Storage(bucket=BUCKET, prefix="board", endpoint=s3.url, link_seconds=600)
    key = storage.upload(clip, "clips/x.mp4").key

    presigned = storage.link(key)
    public = Storage(bucket=BUCKET, prefix="board", endpoint=s3.url,
                     public_url="https://minio.example/f1-video-clips/").link(key)  # fmt: skip

    assert httpx.get(presigned).content == b"clip bytes"
    assert "X-Amz-Expires=600" in presigned and SECRET not in presigned
    assert public == "https://minio.example/f1-video-clips/board/clips/x.mp4"


def test_a_missing_bucket_says_what_to_do_and_can_be_created(
    s3: S3Server,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("F1GEN_BUCKET", "not-there")
    board = write_storyboard(1)

    refused = cli("generate", board, "--backend", "animatic")
    made_before = list(Path("out/board").rglob("*.mp4"))
    created = cli("generate", board, "--backend", "animatic", "--create-bucket")

    assert (refused.exit_code, refused.stderr.splitlines()[-1]) == (
        3, "error: s3://not-there/board: bucket 'not-there' does not exist: create it, or pass --create-bucket")  # fmt: skip
    assert made_before == []  # refused before anything was spent
    assert created.exit_code == 0, created.stderr
    assert _client(s3).list_objects_v2(Bucket="not-there")["KeyCount"] == 2


def test_access_denied_and_bad_keys_exit_3_with_the_fix(
    s3: S3Server,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    iam = boto3.client("iam", endpoint_url=s3.url, region_name="us-east-1",
                       aws_access_key_id="AKIATESTKEY000000000", aws_secret_access_key=SECRET)  # fmt: skip
    iam.create_user(UserName="intern")
    key = iam.create_access_key(UserName="intern")["AccessKey"]
    board = write_storyboard(1)
    s3.enforce_auth(True)
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        denied = cli("generate", board, "--backend", "animatic")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOSUCHKEY0000000")
        unknown = cli("push", board)
    finally:
        s3.enforce_auth(False)

    assert denied.exit_code == 3
    assert denied.stderr.splitlines()[-1] == (
        "error: s3://f1-video-clips/board: access denied while checking the bucket: check "
        "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and that they may read and write the bucket")  # fmt: skip
    assert unknown.exit_code == 3
    assert unknown.stderr == denied.stderr.splitlines()[-1] + "\n"  # a HEAD carries no error code
    assert key["SecretAccessKey"] not in denied.stderr + unknown.stderr


def test_storage_outage_mid_run_loses_nothing_and_push_completes(
    s3: S3Server,
    write_storyboard: Callable[..., Path],
    marker_clips: list[Any],
    cli: Callable[..., Any],
) -> None:
    board = write_storyboard(5)

    def stop_server_then(clip: Any) -> Callable[[Path], None]:
        def take(dest: Path) -> None:
            s3.stop()
            good(clip)(dest)

        return take

    backend = ScriptedBackend([good(marker_clips[0]), good(marker_clips[1]), stop_server_then(marker_clips[2]),
                               good(marker_clips[3]), good(marker_clips[4])])  # fmt: skip
    notices: list[Any] = []
    settings = load_settings()
    loaded = storyboards.load(board).storyboard
    runner = Runner(loaded, workdir=Path("out/board"), backend=backend, emit=notices.append,
                    storage=from_settings(settings, prefix="board"))  # fmt: skip

    summary = runner.run(RunOptions())

    assert summary.done == ["s1", "s2", "s3", "s4", "s5"]  # generation went on
    assert summary.local_only and set(summary.uploaded) | set(summary.local_only) == set(
        summary.done
    )
    assert any("storage unavailable" in getattr(n, "message", "") for n in notices)
    status = json.loads(cli("status", "--json").stdout)
    assert [s["uploaded"] for s in status["scenes"]].count(False) == len(summary.local_only)

    s3.start()
    pushed = cli("push", "--json")

    assert pushed.exit_code == 0, pushed.stderr
    assert sorted(json.loads(pushed.stdout)["sent"]) == sorted(summary.local_only)
    state = json.loads(Path("out/board/state.json").read_text())
    for scene in state["scenes"].values():
        body = _client(s3).get_object(Bucket=BUCKET, Key=f"board/{scene['clip']}")["Body"].read()
        assert _sha(body) == scene["sha256"] == _sha(Path("out/board", scene["clip"]).read_bytes())


def test_a_cut_can_be_made_on_a_fresh_machine_from_the_bucket_alone(
    s3: S3Server, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(2)
    assert cli("generate", board, "--backend", "animatic").exit_code == 0
    shutil.rmtree("out")  # a fresh work folder: only the storyboard and the bucket

    result = cli("stitch", board, "--json")

    assert result.exit_code == 0, result.stderr
    cut = json.loads(result.stdout)
    assert sorted(cut["fetched"]) == ["s1", "s2"]
    assert Path(cut["output"]).is_file()
    assert httpx.get(cut["link"]).content == Path(cut["output"]).read_bytes()
    assert "board/final.mp4" in _objects(s3)


def test_without_a_bucket_nothing_is_uploaded_and_nothing_complains(
    s3: S3Server,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("F1GEN_BUCKET")

    result = cli("generate", write_storyboard(1), "--backend", "animatic", "--json")

    assert result.exit_code == 0
    assert _objects(s3) == {}
    assert "bucket" not in result.stderr and json.loads(result.stdout)["uploaded"] == []


def test_push_without_a_bucket_says_how_to_configure_one(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)

    result = cli("push", board)

    assert (result.exit_code, result.stderr) == (
        3,
        "error: no bucket configured: set F1GEN_BUCKET in .env or pass --bucket\n",
    )


def test_the_s3_secret_never_appears_in_output_or_state(
    s3: S3Server, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    runs = [cli("generate", board, "--backend", "animatic", "--json"), cli("push", board, "--json"),
            cli("stitch", board, "--json"), cli("status", "--json"), cli("doctor", "--space", "http://127.0.0.1:9/")]  # fmt: skip

    texts = [r.stdout + r.stderr for r in runs]
    texts += [p.read_text(errors="replace") for p in Path("out").rglob("*.json")]
    assert all(SECRET not in text for text in texts)
    assert (
        "ok   storage: s3://f1-video-clips/ is reachable with these credentials" in runs[-1].stdout
    )


def test_storage_errors_that_pass_are_not_configuration(s3: S3Server) -> None:
    s3.stop()
    storage = Storage(bucket=BUCKET, prefix="p", endpoint=s3.url, attempts=1)

    with pytest.raises(Exception) as caught:
        storage.check()

    assert not isinstance(caught.value, ConfigError)
    assert caught.value.exit_code == 75  # type: ignore[attr-defined]
    assert f"storage unavailable while checking the bucket (cannot reach {s3.url})" in str(
        caught.value
    )


@pytest.mark.skipif(
    not os.environ.get("F1GEN_TEST_MINIO_ENDPOINT"),
    reason="set F1GEN_TEST_MINIO_ENDPOINT (and keys) to run against a real MinIO",
)
def test_round_trip_on_a_real_minio(tmp_path: Path) -> None:  # pragma: no cover - needs a MinIO
    storage = Storage(bucket=os.environ.get("F1GEN_TEST_MINIO_BUCKET", BUCKET), prefix="f1gen-test",
                      endpoint=os.environ["F1GEN_TEST_MINIO_ENDPOINT"])  # fmt: skip
    storage.check(create=True)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(os.urandom(1024))

    first, second = storage.upload(clip, "clip.mp4"), storage.upload(clip, "clip.mp4")
    storage.download("clip.mp4", tmp_path / "back.mp4", sha256=first.sha256)

    assert first.sent and not second.sent
    assert (tmp_path / "back.mp4").read_bytes() == clip.read_bytes()


def test_a_run_with_nothing_to_do_does_not_touch_the_bucket(
    s3: S3Server, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(2)
    cli("generate", board, "--backend", "animatic")
    s3.stop()  # any request now would fail and be reported

    result = cli("generate", board, "--backend", "animatic", "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout)["uploaded"] == ["s1", "s2"]
    assert "storage unavailable" not in result.stderr
