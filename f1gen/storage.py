"""S3-compatible storage (MinIO in production): the only module that imports boto3.

With no bucket configured there is no Storage at all and the work folder is the only home of the
clips. With one, every object is keyed under a per-storyboard prefix and carries its sha256, so
uploads are idempotent (an object already there with the same checksum is not sent again).

Every failure is classified: what a person must fix (credentials missing or refused, access
denied, no such bucket, an endpoint that is not a URL) is a ConfigError (exit 3); what may pass
(an outage, 5xx, throttling, a dropped connection) is StorageUnavailable (exit 75), under
whichever wrapper boto3 raised it (S3UploadFailedError, RetriesExceededError).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import Boto3Error, RetriesExceededError, S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from .errors import ChecksumMismatch, ConfigError, F1genError, StorageUnavailable
from .files import file_digest, move_durably
from .settings import Settings

MIB = 1024 * 1024
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".json": "application/json",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".html": "text/html; charset=utf-8",
}
# Errors that will not pass by retrying: say what to fix.
DENIED = {"AccessDenied", "AllAccessDisabled", "403", "Forbidden"}
BAD_KEYS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
NO_BUCKET = {"NoSuchBucket", "404", "NotFound"}
# One small object written and deleted under the prefix: proof that these credentials may write.
WRITE_PROBE = ".f1gen-write-probe"


@dataclass(frozen=True)
class Uploaded:
    """What an upload did: the key, the checksum, and whether bytes were sent."""

    key: str
    sha256: str
    sent: bool


class Storage:
    """One bucket and a key prefix, over boto3 with retries for what may pass."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        endpoint: str | None = None,
        public_url: str | None = None,
        link_seconds: int = 7 * 24 * 3600,
        redact: Callable[[str], str] = lambda text: text,
        attempts: int = 5,
        multipart_threshold: int = 16 * MIB,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint
        self.public_url = public_url.rstrip("/") if public_url else None
        self.link_seconds = link_seconds
        self._redact = redact
        config = Config(
            retries={"max_attempts": attempts, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            # MinIO and most custom endpoints need path-style addressing.
            s3={"addressing_style": "path" if endpoint else "auto"},
            signature_version="s3v4",
            # f1gen checks every object's sha256 itself. boto3's default trailing checksums
            # make some S3-compatible servers store objects as `Content-Encoding: aws-chunked`
            # over HTTPS, which browsers and `curl --compressed` then fail to read.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        try:
            self._client: Any = boto3.session.Session().client(
                "s3", endpoint_url=endpoint, config=config
            )
        except ValueError as exc:  # botocore: "Invalid endpoint: ..."
            raise ConfigError(
                f"the S3 endpoint {endpoint!r} is not a URL ({exc}): set F1GEN_S3_ENDPOINT to "
                "one like http://minio.local:9000"
            ) from None
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(5 * MIB, multipart_threshold // 2),
        )

    @property
    def where(self) -> str:
        """s3://bucket/prefix, for messages."""
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, relative: str) -> str:
        """The object key of a path relative to the work folder."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def check(self, *, create: bool = False) -> None:
        """The bucket exists (created when asked) and these credentials may write to it.

        The write is proved, not assumed: one empty object is put under the prefix and deleted,
        so read-only keys are found before anything is spent, not at the first upload.
        """
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in NO_BUCKET or not create:
                raise self._translate(exc, "checking the bucket") from None
            self._call(
                lambda: self._client.create_bucket(Bucket=self.bucket), "creating the bucket"
            )
        except (BotoCoreError, OSError) as exc:
            raise self._translate(exc, "checking the bucket") from None
        key = self.key(WRITE_PROBE)
        self._call(
            lambda: self._client.put_object(Bucket=self.bucket, Key=key, Body=b""),
            f"writing a test object ({key})",
        )
        # f1gen never deletes otherwise: keys that may write but not delete will do.
        with contextlib.suppress(F1genError):
            self._call(
                lambda: self._client.delete_object(Bucket=self.bucket, Key=key),
                f"deleting the test object ({key})",
            )

    def remote_sha256(self, key: str) -> str | None:
        """The sha256 an object carries, or None when there is no such object."""
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in NO_BUCKET | {"NoSuchKey"}:
                return None
            raise self._translate(exc, f"looking up {key}") from None
        except (BotoCoreError, OSError) as exc:
            raise self._translate(exc, f"looking up {key}") from None
        sha: str | None = head.get("Metadata", {}).get("sha256")
        return sha

    def upload(
        self,
        path: Path,
        relative: str,
        *,
        metadata: dict[str, str] | None = None,
        sha256: str | None = None,
    ) -> Uploaded:
        """Put path at its key unless an object with the same sha256 is already there."""
        key = self.key(relative)
        digest = sha256 or file_digest(path)
        if self.remote_sha256(key) == digest:
            return Uploaded(key, digest, sent=False)
        extra = {
            "ContentType": CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"),
            "Metadata": {**(metadata or {}), "sha256": digest},
        }
        self._call(
            lambda: self._client.upload_file(
                str(path), self.bucket, key, ExtraArgs=extra, Config=self._transfer
            ),
            f"uploading {key}",
        )
        return Uploaded(key, digest, sent=True)

    def download(self, relative: str, dest: Path, *, sha256: str | None = None) -> None:
        """Fetch an object to dest (atomically), checking its sha256 when one is known."""
        key = self.key(relative)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".partial-{dest.name}")
        try:
            self._call(
                lambda: self._client.download_file(self.bucket, key, str(partial)),
                f"downloading {key}",
            )
            if sha256 and file_digest(partial) != sha256:
                raise ChecksumMismatch(
                    f"{self.where}: {key} does not match its checksum: upload it again"
                )
            move_durably(partial, dest)
        finally:
            partial.unlink(missing_ok=True)

    def link(self, key: str) -> str:
        """A link to an object: under F1GEN_PUBLIC_URL when set, else a presigned URL."""
        if self.public_url:
            return f"{self.public_url}/{key}"
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.link_seconds
        )
        return url

    def _call(self, call: Callable[[], object], what: str) -> None:
        try:
            call()
        except (ClientError, BotoCoreError, Boto3Error, OSError) as exc:
            raise self._translate(exc, what) from None

    def _translate(self, exc: Exception, what: str) -> ConfigError | StorageUnavailable:
        exc = _unwrap(exc)
        code = _code(exc) if isinstance(exc, ClientError) else ""
        where = self.where
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return ConfigError(
                f"{where}: no S3 credentials found while {what}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY in .env (or an AWS profile)"
            )
        if code in BAD_KEYS:
            return ConfigError(
                f"{where}: the S3 credentials were refused ({code}) while {what}: "
                "fix AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
            )
        if code in DENIED:
            return ConfigError(
                f"{where}: access denied while {what}: check AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY and that they may read and write the bucket"
            )
        if code in NO_BUCKET and "bucket" in what:
            return ConfigError(
                f"{where}: bucket {self.bucket!r} does not exist: create it, "
                "or pass --create-bucket"
            )
        detail = self._redact(" ".join(str(exc).split()))
        if isinstance(exc, EndpointConnectionError):
            detail = f"cannot reach {self.endpoint or 'S3'}"
        return StorageUnavailable(f"{where}: storage unavailable while {what} ({detail})")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unwrap(exc: Exception) -> Exception:
    """The error boto3's transfer wrappers hide: the client or network error underneath."""
    if isinstance(exc, RetriesExceededError) and isinstance(exc.last_exception, Exception):
        return exc.last_exception
    if isinstance(exc, S3UploadFailedError):  # raised while handling the ClientError
        inner = exc.__cause__ or exc.__context__
        if isinstance(inner, ClientError | BotoCoreError | OSError):
            return inner
    return exc


def from_settings(settings: Settings, *, prefix: str) -> Storage | None:
    """The configured storage, or None when no bucket is configured."""
    if not settings.bucket:
        return None
    return Storage(
        bucket=settings.bucket,
        prefix=prefix,
        endpoint=settings.s3_endpoint,
        public_url=settings.public_url,
        link_seconds=settings.link_seconds,
        redact=settings.redact,
        attempts=settings.s3_attempts,
    )
