"""A real S3 server over HTTP on 127.0.0.1: moto in server mode, stoppable and restartable."""

from __future__ import annotations

import logging
import socket

import httpx
from moto.server import ThreadedMotoServer


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class S3Server:
    """moto's S3 on a fixed local port, so that a stop and a restart keep the address."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> S3Server:
        """Serve (again); moto keeps its data in this process across restarts."""
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving: connections are refused until start()."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def reset(self) -> None:
        """Forget every bucket and object."""
        httpx.post(f"{self.url}/moto-api/reset")

    def enforce_auth(self, on: bool) -> None:
        """Make moto check credentials and IAM permissions (off: anything goes)."""
        httpx.post(f"{self.url}/moto-api/reset-auth", content=b"0" if on else b"inf")
