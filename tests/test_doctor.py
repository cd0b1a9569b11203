"""f1gen doctor: one line per check (ok / FAIL with the fix / skip), each check on its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from f1gen import media
from tests.support.seaweedfs import READER, WRITER, SeaweedFS

CLOSED = "http://127.0.0.1:9/"  # nothing listens there


@pytest.fixture
def bucket(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> SeaweedFS:
    """A bucket on the real S3 server, with f1gen pointed at it as the writer."""
    if not seaweedfs.running:
        seaweedfs.start()
    seaweedfs.empty()
    seaweedfs.client().create_bucket(Bucket="doctor-bucket")
    for name, value in {"AWS_ACCESS_KEY_ID": WRITER.access_key, "AWS_SECRET_ACCESS_KEY": WRITER.secret_key,
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                        "F1GEN_S3_ENDPOINT": seaweedfs.url, "F1GEN_BUCKET": "doctor-bucket",
                        "F1GEN_S3_ATTEMPTS": "1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return seaweedfs


def _lines(result: Any) -> dict[str, str]:
    return {line.split(":")[0][5:]: line for line in result.stdout.splitlines()}


def test_a_space_that_cannot_be_reached_does_not_hide_a_good_bucket(
    bucket: SeaweedFS, cli: Callable[..., Any]
) -> None:
    result = cli("doctor", "--space", CLOSED)

    assert result.exit_code == 3
    lines = _lines(result)
    assert list(lines) == ["ffmpeg", "token", "space", "storage"]
    assert lines["space"].startswith(f"FAIL space: {CLOSED} is busy or unreachable: ConnectError")
    assert lines["storage"] == (
        "ok   storage: s3://doctor-bucket/ is reachable and writable with these credentials"
    )
    assert bucket.client().list_objects_v2(Bucket="doctor-bucket")["KeyCount"] == 0  # probe gone


def test_read_only_keys_fail_the_storage_check(
    bucket: SeaweedFS, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", READER.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", READER.secret_key)

    result = cli("doctor", "--space", CLOSED)

    assert result.exit_code == 3
    assert _lines(result)["storage"] == (
        "FAIL storage: s3://doctor-bucket/: access denied while writing a test object "
        "(.f1gen-write-probe): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and that they may "
        "read and write the bucket"
    )
    assert READER.secret_key not in result.stdout + result.stderr


def test_a_malformed_endpoint_is_a_fail_line_not_a_crash(
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("F1GEN_BUCKET", "doctor-bucket")
    monkeypatch.setenv("F1GEN_S3_ENDPOINT", "not a url")

    result = cli("doctor", "--space", CLOSED)

    assert result.exit_code == 3
    assert _lines(result)["storage"] == (
        "FAIL storage: the S3 endpoint 'not a url' is not a URL (Invalid endpoint: not a url): "
        "set F1GEN_S3_ENDPOINT to one like http://minio.local:9000"
    )


def test_without_a_bucket_storage_is_skipped(cli: Callable[..., Any]) -> None:
    result = cli("doctor", "--space", CLOSED)

    assert _lines(result)["storage"] == (
        "skip storage: no bucket configured (F1GEN_BUCKET): clips stay local"
    )


def test_an_unexpected_error_in_one_check_is_its_fail_line_and_the_rest_still_run(
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ffmpeg: str | None) -> str:
        raise RuntimeError("ffmpeg printed nothing")

    monkeypatch.setattr(media, "ffmpeg_version", broken)

    result = cli("doctor", "--space", CLOSED)

    assert result.exit_code == 3
    lines = _lines(result)
    assert lines["ffmpeg"] == (
        "FAIL ffmpeg: unexpected error (RuntimeError: ffmpeg printed nothing): please report it"
    )
    assert list(lines) == ["ffmpeg", "token", "space", "storage"]
