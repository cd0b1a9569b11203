"""S3-compatible storage (MinIO in production): the only module that imports boto3.

With no bucket configured there is no Storage at all and the work folder is the only home of the
clips. With one, every object is keyed under a per-storyboard prefix and carries its sha256, so
uploads are idempotent (an object already there with the same checksum is not sent again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from .config import Settings
from .errors import ChecksumMismatch, ConfigError, StorageUnavailable
from .files import file_digest, move_durably

MIB = 1024 * 1024
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".json": "application/json",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
    ".png": "image/png",
    ".jpg": "image/jpeg",
}
# Errors that will not pass by retrying: say what to fix.
DENIED = {"AccessDenied", "AllAccessDisabled", "403", "Forbidden"}
BAD_KEYS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
NO_BUCKET = {"NoSuchBucket", "404", "NotFound"}


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
        )
        self._client: Any = boto3.session.Session().client(
            "s3", endpoint_url=endpoint, config=config
        )
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
        """The bucket exists and the credentials reach it; create it when asked."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) in NO_BUCKET and create:
                self._call(
                    lambda: self._client.create_bucket(Bucket=self.bucket), "creating the bucket"
                )
                return
            raise self._translate(exc, "checking the bucket") from None
        except (BotoCoreError, OSError) as exc:
            raise self._translate(exc, "checking the bucket") from None

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
        except (ClientError, BotoCoreError, OSError) as exc:
            raise self._translate(exc, what) from None

    def _translate(self, exc: Exception, what: str) -> ConfigError | StorageUnavailable:
        code = _code(exc) if isinstance(exc, ClientError) else ""
        where = self.where
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
