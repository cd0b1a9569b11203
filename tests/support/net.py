"""Loopback servers for tests: ports picked at run time, 127.0.0.1 only."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """An ASGI app served by uvicorn on 127.0.0.1 at a port picked now, in a thread of its own;
    TLS when given a certificate; lifespan events when the app needs them (Gradio's do)."""

    def __init__(
        self, app: Any, *, what: str, certfile: Path | None = None, lifespan: bool = False
    ) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port: int = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="error", lifespan="on" if lifespan else "off",
            ssl_certfile=str(certfile) if certfile else None,
            # A request a test left hanging (a client interrupted in a long poll) must not hold
            # the stop for uvicorn's default wait: 10 s a test.
            timeout_graceful_shutdown=1,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving (a second call does nothing more)."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
