"""A stand-in of the Hugging Face Hub's Space API on 127.0.0.1, and a door to nowhere.

`HubStandIn` serves what gradio_client and f1gen ask the Hub about a Space given by id
(point huggingface_hub at it with `HF_ENDPOINT`, read when huggingface_hub is imported):

- `GET /api/spaces/OWNER/NAME`: the Space's info, with `host` (where its app answers: a local
  Gradio stand-in), `private` and `runtime.stage`;
- `GET /api/spaces/OWNER/NAME/runtime`: the runtime alone.

It answers like the Hub, failures included: a token it does not know is refused with 401
"Invalid credentials in Authorization header"; a Space that does not exist (or is private and
asked about without a token) is 401 or 404 with `X-Error-Code: RepoNotFound`; scripted statuses
(a 500 now and then) come before anything else. A Space's stage follows its script: each read
moves to the next stage, the last one stays; a SLEEPING Space stays asleep until its app is
visited. Every request is recorded with the Authorization header it carried.

`Egress` is an HTTP proxy that refuses everything and records where each request was going:
a test sets it as HTTP(S)_PROXY (with NO_PROXY for loopback) to prove that nothing, the
token least of all, goes anywhere but the stand-ins.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROUTE = re.compile(r"^/api/spaces/([^/]+/[^/?]+)(/runtime)?/?(?:\?.*)?$")


@dataclass(frozen=True)
class Seen:
    """One request a stand-in received (or, for Egress, refused)."""

    method: str
    target: str
    authorization: str | None


@dataclass
class HubSpace:
    """A Space as the Hub knows it."""

    host: str
    private: bool = False
    stages: deque[str] = field(default_factory=lambda: deque(["RUNNING"]))
    visited: Callable[[], bool] = lambda: True  # has anyone opened its app (wakes a sleeper)

    def stage(self) -> str:
        """The stage now; the script moves on by one read (a sleeper only once visited)."""
        current = self.stages[0]
        if len(self.stages) > 1 and (current != "SLEEPING" or self.visited()):
            self.stages.popleft()
        return current


class _Server:
    """A threaded HTTP server on 127.0.0.1 at a port picked now."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> Any:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: the port is closed afterwards (connections are refused)."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)


class HubStandIn(_Server):
    """The Hub's Space API: spaces by id, tokens it accepts, a script of failures."""

    def __init__(self, *, tokens: set[str] | None = None) -> None:
        super().__init__(_HubHandler)
        self.spaces: dict[str, HubSpace] = {}
        self.tokens = tokens or set()
        self.script: deque[int] = deque()  # statuses for the next requests, e.g. 500
        self.requests: list[Seen] = []
        self.lock = threading.Lock()

    def add(self, space_id: str, host: str, *stages: str, private: bool = False,
            visited: Callable[[], bool] = lambda: True) -> HubSpace:  # fmt: skip
        """Make a Space known: its app at host, its stages in order (default RUNNING)."""
        space = HubSpace(host.rstrip("/"), private, deque(stages or ["RUNNING"]), visited)
        self.spaces[space_id] = space
        return space

    def answer(
        self, method: str, path: str, authorization: str | None
    ) -> tuple[int, dict[str, str], Any]:
        """Status, headers and JSON body for one request, as the Hub would answer it."""
        with self.lock:
            self.requests.append(Seen(method, path, authorization))
            if self.script:
                code = self.script.popleft()
                return code, {}, {"error": "Internal Error" if code >= 500 else f"HTTP {code}"}
            match = ROUTE.match(path)
            if method != "GET" or match is None:
                return 404, {}, {"error": "Sorry, we can't find the page you are looking for."}
            token = authorization[len("Bearer "):] if authorization and authorization.startswith("Bearer ") else None  # fmt: skip
            if token is not None and token not in self.tokens:
                return 401, {"X-Error-Message": "Invalid credentials in Authorization header"}, {
                    "error": "Invalid credentials in Authorization header"}  # fmt: skip
            space_id, runtime_only = match.group(1), bool(match.group(2))
            space = self.spaces.get(space_id)
            if space is None or (space.private and token is None):
                code = 404 if token else 401  # the Hub hides private repos behind "not found"
                headers = {"X-Error-Code": "RepoNotFound"}
                if token is None:
                    headers["X-Error-Message"] = "Invalid username or password."
                return code, headers, {"error": "Repository not found"}
            runtime = _runtime(space.stage(), space.host)
            if runtime_only:
                return 200, {}, runtime
            owner, name = space_id.split("/")
            return 200, {}, {
                "_id": "6700000000000000000000ff", "id": space_id, "author": owner,
                "sha": "0" * 40, "lastModified": "2026-11-01T00:00:00.000Z",
                "private": space.private, "gated": False, "disabled": False,
                "host": space.host, "subdomain": f"{owner}-{name}".lower(), "likes": 0,
                "sdk": "gradio", "tags": ["gradio", "region:us"], "runtime": runtime,
                "siblings": [{"rfilename": "app.py"}],
            }  # fmt: skip

    def authorizations(self) -> set[str]:
        """Every Authorization header value received."""
        return {s.authorization for s in self.requests if s.authorization}


def _runtime(stage: str, host: str) -> dict[str, Any]:
    return {
        "stage": stage, "hardware": {"current": "zero-a10g", "requested": "zero-a10g"},
        "storage": None, "gcTimeout": 172800, "replicas": {"current": 1, "requested": 1},
        "devMode": False, "domains": [{"domain": host.split("://")[-1], "stage": "READY"}],
    }  # fmt: skip


class _HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        hub: HubStandIn = self.server.owner  # type: ignore[attr-defined]
        code, headers, body = hub.answer("GET", self.path, self.headers.get("Authorization"))
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Egress(_Server):
    """A proxy that lets nothing out and records what tried (method, target, Authorization)."""

    def __init__(self) -> None:
        super().__init__(_EgressHandler)
        self.requests: list[Seen] = []

    def environment(self) -> dict[str, str]:
        """Proxy variables that send every non-loopback request here."""
        env = {}
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env[name] = env[name.lower()] = self.url
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        return env


class _EgressHandler(BaseHTTPRequestHandler):
    def _refuse(self) -> None:
        egress: Egress = self.server.owner  # type: ignore[attr-defined]
        egress.requests.append(Seen(self.command, self.path, self.headers.get("Authorization")))
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_CONNECT = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        pass


class WebPage(_Server):
    """A web server that is not a Gradio app: every GET answers status with body."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(_PageHandler)
        self.status, self.body = status, body


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        page: WebPage = self.server.owner  # type: ignore[attr-defined]
        data = page.body.encode()
        self.send_response(page.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass
