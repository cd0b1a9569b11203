"""S3/MinIO storage: boto3 against a real S3 server over HTTP on 127.0.0.1 (SeaweedFS).

The server is the session's `seaweedfs` fixture; it knows a writer and a read-only identity.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from f1gen import storyboard as storyboards
from f1gen.config import load_settings
from f1gen.errors import ConfigError, StorageUnavailable
from f1gen.runner import Runner, RunOptions
from f1gen.storage import MIB, Storage, from_settings
from tests.support.scripted import ScriptedBackend, good
from tests.support.seaweedfs import READER, WRITER, SeaweedFS

BUCKET = "f1-video-clips"
SECRET = WRITER.secret_key


@pytest.fixture
def s3(
    seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[SeaweedFS]:
    """The server, emptied, with f1gen and boto3 pointed at it as the writer, and a bucket made."""
    if not seaweedfs.running:
        seaweedfs.start()
    seaweedfs.empty()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", WRITER.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", WRITER.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no credentials from a cloud host
    monkeypatch.setenv("F1GEN_S3_ENDPOINT", seaweedfs.url)
    monkeypatch.setenv("F1GEN_BUCKET", BUCKET)
    monkeypatch.setenv("F1GEN_S3_ATTEMPTS", "2")
    _client(seaweedfs).create_bucket(Bucket=BUCKET)
    yield seaweedfs
    if not seaweedfs.running:  # a test took it away
        seaweedfs.start()


def _client(server: SeaweedFS) -> Any:
    return server.client(WRITER)


def _objects(server: SeaweedFS) -> dict[str, dict[str, Any]]:
    listing = _client(server).list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: o for o in listing}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_clips_go_to_the_bucket_under_the_storyboard_prefix_with_metadata(
    s3: SeaweedFS, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
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
    s3: SeaweedFS, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    cli("generate", board, "--backend", "animatic")

    cli("generate", board, "--backend", "animatic", "--force")

    clips = [k for k in _objects(s3) if k.startswith("board/clips/")]
    assert len(clips) == 2 and any(k.endswith("-take2.mp4") for k in clips)


def test_push_is_idempotent_no_second_put(
    s3: SeaweedFS, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
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


def test_a_large_file_goes_up_in_parts(s3: SeaweedFS, tmp_path: Path) -> None:
    big = tmp_path / "final.mp4"
    big.write_bytes(os.urandom(12 * MIB))
    storage = Storage(bucket=BUCKET, prefix="board", endpoint=s3.url, multipart_threshold=5 * MIB)

    uploaded = storage.upload(big, "final.mp4")

    etag = _client(s3).head_object(Bucket=BUCKET, Key="board/final.mp4")["ETag"]
    assert uploaded.sent and etag.strip('"').endswith("-3")  # a multipart ETag counts its parts
    assert storage.remote_sha256("board/final.mp4") == _sha(big.read_bytes())


def test_links_are_presigned_or_public(s3: SeaweedFS, tmp_path: Path) -> None:
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
    s3: SeaweedFS,
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


def test_read_only_keys_are_found_before_the_first_clip_with_exit_3(
    s3: SeaweedFS,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board = write_storyboard(2)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", READER.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", READER.secret_key)

    generated = cli("generate", board, "--backend", "animatic")
    pushed = cli("push", board)

    assert (generated.exit_code, generated.stderr.splitlines()[-1]) == (3, (
        "error: s3://f1-video-clips/board: access denied while writing a test object "
        "(board/.f1gen-write-probe): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and that "
        "they may read and write the bucket"))  # fmt: skip
    assert not list(Path("out/board").rglob("*.mp4"))  # nothing was spent
    assert (pushed.exit_code, pushed.stderr) == (3, generated.stderr.splitlines()[-1] + "\n")
    assert _objects(s3) == {}
    assert READER.secret_key not in generated.stderr + pushed.stderr


@pytest.mark.parametrize(
    ("key", "secret"),
    [("F1GENNOSUCHKEY000001", WRITER.secret_key), (WRITER.access_key, "wrongSECRETwrongSECRET0123")],
    ids=["unknown-key", "wrong-secret"],
)  # fmt: skip
def test_keys_the_server_refuses_are_exit_3_with_the_fix(
    key: str, secret: str, s3: SeaweedFS, write_storyboard: Callable[..., Path],
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)

    result = cli("generate", write_storyboard(1), "--backend", "animatic")

    assert (result.exit_code, result.stderr.splitlines()[-1]) == (3, (
        "error: s3://f1-video-clips/board: access denied while checking the bucket: check "
        "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and that they may read and write the bucket"))  # fmt: skip
    assert not list(Path("out/board").rglob("*.mp4"))
    assert secret not in result.stderr  # a HEAD's refusal carries no error code: a bare 403


def test_a_bucket_with_no_credentials_is_exit_3_before_anything_is_spent(
    s3: SeaweedFS, write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    result = cli("generate", write_storyboard(1), "--backend", "animatic")

    assert (result.exit_code, result.stderr.splitlines()[-1]) == (3, (
        "error: s3://f1-video-clips/board: no S3 credentials found while checking the bucket: "
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in .env (or an AWS profile)"))  # fmt: skip
    assert not list(Path("out/board").rglob("*.mp4"))


@pytest.mark.parametrize("endpoint", ["not a url", "minio.local:9000"])
def test_an_endpoint_that_is_not_a_url_is_exit_3(
    endpoint: str, write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("F1GEN_BUCKET", BUCKET)
    monkeypatch.setenv("F1GEN_S3_ENDPOINT", endpoint)

    result = cli("generate", write_storyboard(1), "--backend", "animatic")

    assert (result.exit_code, result.stderr.splitlines()[-1]) == (3, (
        f"error: the S3 endpoint {endpoint!r} is not a URL (Invalid endpoint: {endpoint}): set "
        "F1GEN_S3_ENDPOINT to one like http://minio.local:9000"))  # fmt: skip


def test_an_upload_refused_under_boto3s_wrapper_is_access_denied(
    s3: SeaweedFS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", READER.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", READER.secret_key)
    clip = tmp_path / "x.mp4"
    clip.write_bytes(b"clip bytes")
    storage = Storage(bucket=BUCKET, prefix="board", endpoint=s3.url, attempts=1)

    with pytest.raises(ConfigError, match=r"^s3://f1-video-clips/board: access denied while "
                       r"uploading board/clips/x.mp4: check AWS_ACCESS_KEY_ID"):  # fmt: skip
        storage.upload(clip, "clips/x.mp4")  # boto3 raises S3UploadFailedError here


def _raised(
    make: Callable[[], BaseException], wrap: Callable[[BaseException], BaseException]
) -> BaseException:
    """wrap(error) raised while handling error, as boto3's transfer layer does."""
    try:
        try:
            raise make()
        except BaseException as inner:
            raise wrap(inner)  # noqa: B904 - boto3 does exactly this
    except BaseException as outer:
        return outer


def _client_error(code: str, operation: str = "PutObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


WRAPPED = [
    (_raised(lambda: _client_error("AccessDenied"), lambda e: S3UploadFailedError(f"Failed to upload x to b/k: {e}")),
     ConfigError, "access denied while uploading k"),
    (_raised(lambda: _client_error("InvalidAccessKeyId"), lambda e: S3UploadFailedError(f"Failed to upload x to b/k: {e}")),
     ConfigError, r"the S3 credentials were refused \(InvalidAccessKeyId\) while uploading k"),
    (_raised(lambda: _client_error("InternalError"), lambda e: S3UploadFailedError(f"Failed to upload x to b/k: {e}")),
     StorageUnavailable, "storage unavailable while uploading k"),
    (RetriesExceededError(EndpointConnectionError(endpoint_url="http://127.0.0.1:9")),
     StorageUnavailable, r"storage unavailable while uploading k \(cannot reach http://127.0.0.1:9\)"),
    (RetriesExceededError(ReadTimeoutError(endpoint_url="http://127.0.0.1:9")),
     StorageUnavailable, "storage unavailable while uploading k"),
    (NoCredentialsError(), ConfigError, "no S3 credentials found while uploading k"),
    (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), ConfigError,
     "no S3 credentials found while uploading k"),
    (_client_error("SlowDown"), StorageUnavailable, "storage unavailable while uploading k"),
    (ConnectionResetError(104, "Connection reset by peer"), StorageUnavailable, "storage unavailable while uploading k"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("exc", "kind", "message"), WRAPPED, ids=[f"{type(e).__name__}-{i}" for i, (e, _, _) in enumerate(WRAPPED)]
)  # fmt: skip
def test_every_storage_failure_is_classified(
    exc: BaseException, kind: type[Exception], message: str, tmp_path: Path
) -> None:
    storage = Storage(bucket="b", prefix="p", endpoint="http://127.0.0.1:9")

    def fail() -> None:
        raise exc

    with pytest.raises(kind, match=message):
        storage._call(fail, "uploading k")


def test_uploads_send_no_trailing_checksums(s3: SeaweedFS, tmp_path: Path) -> None:
    clip = tmp_path / "x.mp4"
    clip.write_bytes(os.urandom(64 * 1024))
    storage = Storage(bucket=BUCKET, prefix="board", endpoint=s3.url)
    sent: list[dict[str, str]] = []
    storage._client.meta.events.register(
        "before-send.s3.*", lambda request, **_: sent.append(dict(request.headers))
    )

    storage.upload(clip, "clips/x.mp4")

    put = [h for h in sent if "x-amz-meta-sha256" in {k.lower() for k in h}]
    assert len(put) == 1
    names = {k.lower() for k in put[0]}
    assert not {
        n for n in names if n.startswith("x-amz-checksum") or n == "x-amz-sdk-checksum-algorithm"
    }
    assert b"aws-chunked" not in put[0].get("Content-Encoding", b"")  # type: ignore[operator]


def test_storage_outage_mid_run_loses_nothing_and_push_completes(
    s3: SeaweedFS,
    write_storyboard: Callable[..., Path],
    marker_clips: list[Any],
    cli: Callable[..., Any],
) -> None:
    board = write_storyboard(5)

    def stop_server_then(clip: Any) -> Callable[[Path], None]:
        def take(dest: Path) -> None:
            s3.stop(keep=True)  # an outage: connections refused until start()
            good(clip)(dest)

        return take

    backend = ScriptedBackend([good(marker_clips[0]), good(marker_clips[1]), stop_server_then(marker_clips[2]),
                               good(marker_clips[3]), good(marker_clips[4])])  # fmt: skip
    notices: list[Any] = []
    settings = load_settings()
    loaded = storyboards.load(board).storyboard
    runner = Runner(loaded, workdir=Path("out/board"), lanes=[backend], emit=notices.append,
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
    s3: SeaweedFS, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
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
    s3: SeaweedFS,
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
    s3: SeaweedFS, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    runs = [cli("generate", board, "--backend", "animatic", "--json"), cli("push", board, "--json"),
            cli("stitch", board, "--json"), cli("status", "--json"), cli("doctor", "--space", "http://127.0.0.1:9/")]  # fmt: skip

    texts = [r.stdout + r.stderr for r in runs]
    texts += [p.read_text(errors="replace") for p in Path("out").rglob("*.json")]
    assert all(SECRET not in text for text in texts)
    assert (
        "ok   storage: s3://f1-video-clips/ is reachable and writable with these credentials"
        in runs[-1].stdout
    )


def test_storage_errors_that_pass_are_not_configuration(s3: SeaweedFS) -> None:
    s3.stop(keep=True)
    storage = Storage(bucket=BUCKET, prefix="p", endpoint=s3.url, attempts=1)

    with pytest.raises(StorageUnavailable) as caught:
        storage.check()

    assert caught.value.exit_code == 75
    assert caught.value.message == (
        f"s3://f1-video-clips/p: storage unavailable while checking the bucket (cannot reach {s3.url})"
    )


# Read now: every test runs with F1GEN_* and AWS_* cleared from its environment.
MINIO = {name: os.environ.get(name, "") for name in (
    "F1GEN_TEST_MINIO_ENDPOINT", "F1GEN_TEST_MINIO_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}  # fmt: skip


@pytest.mark.skipif(
    not MINIO["F1GEN_TEST_MINIO_ENDPOINT"],
    reason="set F1GEN_TEST_MINIO_ENDPOINT (and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) to run against a real MinIO",
)
def test_round_trip_on_a_real_minio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # pragma: no cover - needs a MinIO
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, MINIO[name])
    storage = Storage(bucket=MINIO["F1GEN_TEST_MINIO_BUCKET"] or BUCKET, prefix="f1gen-test",
                      endpoint=MINIO["F1GEN_TEST_MINIO_ENDPOINT"])  # fmt: skip
    storage.check(create=True)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(os.urandom(1024))

    first, second = storage.upload(clip, "clip.mp4"), storage.upload(clip, "clip.mp4")
    storage.download("clip.mp4", tmp_path / "back.mp4", sha256=first.sha256)

    assert first.sent and not second.sent
    assert (tmp_path / "back.mp4").read_bytes() == clip.read_bytes()


def test_a_run_with_nothing_to_do_does_not_touch_the_bucket(
    s3: SeaweedFS, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(2)
    cli("generate", board, "--backend", "animatic")
    s3.stop(keep=True)  # any request now would fail and be reported

    result = cli("generate", board, "--backend", "animatic", "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout)["uploaded"] == ["s1", "s2"]
    assert "storage unavailable" not in result.stderr
