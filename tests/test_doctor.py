"""f1gen doctor: one line per check (ok / FAIL with the fix / skip), each check on its own;
every endpoint with its own token, and the hosted backends chosen with --backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from f1gen import media
from tests.support.mediatools import MarkerClip
from tests.support.ovi_app_stand_in import OviAppStandIn
from tests.support.ovi_stand_in import StandIn
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


@pytest.fixture
def two_spaces(marker_clips: list[MarkerClip]) -> Iterator[list[StandIn]]:
    """Two Space stand-ins, each accepting only its own token."""
    spaces = [
        StandIn(marker_clips[0].path, token=token).start() for token in ("hf_AAAA1", "hf_BBBB2")
    ]
    yield spaces
    for space in spaces:
        space.stop()


def test_every_endpoint_is_checked_with_its_own_token(
    two_spaces: list[StandIn], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_spaces
    monkeypatch.setenv("OVI_SPACE", f"{first.url}@TOKEN_A, {second.url}@TOKEN_B")
    monkeypatch.setenv("TOKEN_A", "hf_AAAA1")
    monkeypatch.setenv("TOKEN_B", "hf_BBBB2")

    result = cli("doctor")

    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok   ffmpeg: ")
    assert lines[1:] == [
        "ok   token: HF_TOKEN is not set: the anonymous ZeroGPU quota is about 2 minutes a day",
        f"ok   space: {first.url}: /generate_scene takes text_prompt, sample_steps, image",
        f"ok   space: {second.url}: /generate_scene takes text_prompt, sample_steps, image",
        "skip storage: no bucket configured (F1GEN_BUCKET): clips stay local",
    ]
    assert (first.tokens_seen, second.tokens_seen) == ({"Bearer hf_AAAA1"}, {"Bearer hf_BBBB2"})
    assert "hf_AAAA1" not in result.stdout + result.stderr


def test_a_bad_ovi_space_is_the_space_line_and_the_rest_still_run(
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVI_SPACE", "http://gpu9/@GPU9_TOKEN")

    result = cli("doctor")

    assert result.exit_code == 3
    assert list(_lines(result)) == ["ffmpeg", "token", "space", "storage"]
    assert _lines(result)["space"] == (
        "FAIL space: OVI_SPACE names GPU9_TOKEN for http://gpu9/ but it is not set: set it in .env"
    )


def test_the_chosen_hosted_backends_are_checked_for_their_keys(
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAL_KEY", "fal-SECRET-key")

    result = cli("doctor", "--backend", "fal", "--backend", "replicate")

    assert result.exit_code == 3
    lines = _lines(result)
    assert list(lines) == ["ffmpeg", "fal", "replicate", "storage"]  # no Space: not chosen
    assert lines["fal"] == (
        "ok   fal: FAL_KEY is set; requests go to fal-ai/ovi/image-to-video at queue.fal.run "
        "(nothing was sent)"
    )
    assert lines["replicate"] == (
        "FAIL replicate: no REPLICATE_API_TOKEN set: add your token "
        "(replicate.com/account/api-tokens) to .env"
    )
    assert "fal-SECRET-key" not in result.stdout + result.stderr


def test_ovi_app_is_checked_by_asking_its_api(
    marker_clips: list[MarkerClip], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = OviAppStandIn(marker_clips[0].path).start()
    try:
        monkeypatch.setenv("OVI_APP_URL", app.url)
        up = cli("doctor", "--backend", "ovi-app")
    finally:
        app.stop()
    monkeypatch.setenv("OVI_APP_URL", CLOSED)
    down = cli("doctor", "--backend", "ovi-app")

    assert up.exit_code == 0, up.stdout
    assert _lines(up)["ovi-app"].startswith(
        f"ok   ovi-app: {app.url}: /generate_video takes text_prompt, image, sample_steps, "
        "video_seed, video_frame_height"
    )
    assert _lines(up)["ovi-app"].endswith(
        "; clips of 720x720_5s expected (OVI_MODEL): the app does not say which model it serves"
    )
    assert app.calls == []  # asked for its API only: nothing generated
    assert down.exit_code == 3
    assert _lines(down)["ovi-app"] == (
        f"FAIL ovi-app: {CLOSED} is busy or unreachable: ConnectError: [Errno 111] Connection "
        "refused: start the app (python gradio_app.py) or check OVI_APP_URL"
    )


def test_an_unknown_backend_is_bad_input(cli: Callable[..., Any]) -> None:
    result = cli("doctor", "--backend", "magic")

    assert (result.exit_code, result.stderr) == (
        2,
        "error: --backend 'magic' is unknown: use one of ovi, animatic, fal, replicate, ovi-app\n",
    )
    assert result.stdout == ""
