"""Local stand-ins for the hosted Ovi APIs, speaking their documented HTTP protocols.

FalStandIn: fal.ai's queue (https, a self-signed certificate for 127.0.0.1 that SSL_CERT_FILE
makes trusted): submit, status with queue_position, result, cancel, and fal's error shapes.
ReplicateStandIn: Replicate's predictions API (http): create, get, list, cancel.

Both serve the clip from their own /files/ URL and note any credentials sent there; both count
submissions per prompt (the kill campaign's "paid twice" counter). Tests script the next
submits: "ok", "fail" (accepted, then fails on the provider's side), "drop" (accepted, then the
connection is cut before the reply), or an HTTP status ("401", "402", "403", "422", "429",
"500"). Requests move from queued to running to done on the clock: queue_seconds, gen_seconds.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from tests.support.net import Served


@dataclass
class Job:
    """One request a stand-in accepted."""

    id: str
    prompt: str
    inputs: dict[str, Any]
    created: float
    created_at: str
    behaviour: str
    canceled: bool = False


@dataclass
class Script:
    """What a stand-in will do and what it saw."""

    clip: Path
    key: str
    queue_seconds: float = 0.0
    gen_seconds: float = 0.0
    next: deque[str] = field(default_factory=deque)
    jobs: dict[str, Job] = field(default_factory=dict)
    submissions: Counter[str] = field(default_factory=Counter)
    file_headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def then(self, *behaviours: str) -> None:
        """Queue behaviours for the next submits; after them every submit succeeds."""
        self.next.extend(behaviours)

    def take(self) -> str:
        with self.lock:
            return self.next.popleft() if self.next else "ok"

    def accept(self, prompt: str, inputs: dict[str, Any], behaviour: str) -> Job:
        job = Job(uuid.uuid4().hex, prompt, inputs, time.monotonic(),
                  datetime.now(UTC).isoformat().replace("+00:00", "Z"), behaviour)  # fmt: skip
        with self.lock:
            self.jobs[job.id] = job
            self.submissions[prompt] += 1
        return job

    def phase(self, job: Job) -> str:
        age = time.monotonic() - job.created
        if job.canceled:
            return "canceled"
        if age < self.queue_seconds:
            return "queued"
        if age < self.queue_seconds + self.gen_seconds:
            return "running"
        return "failed" if job.behaviour == "fail" else "done"

    def duplicates(self) -> int:
        """Submissions beyond the first, over every prompt: requests paid twice."""
        return sum(n - 1 for n in self.submissions.values() if n > 1)


class _Drop(Exception):
    """Raised after the response has started: the client sees the connection cut mid-reply."""


async def _cut(send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]}
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    await asyncio.sleep(0)
    raise _Drop


def _dropping(app: FastAPI, script: Script, submit_path: str) -> Any:
    """Wrap app: a scripted "drop" accepts the submit, then cuts the connection."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == submit_path:
            with script.lock:
                dropping = bool(script.next) and script.next[0] == "drop"
            if dropping:
                body = b""
                while True:
                    message = await receive()
                    body += message.get("body", b"")
                    if not message.get("more_body"):
                        break
                data = json.loads(body)
                inputs = data.get("input", data)
                script.take()
                script.accept(str(inputs.get("prompt")), inputs, "ok")
                await _cut(send)
                return
        await app(scope, receive, send)

    return asgi


class FalStandIn:
    """fal.ai's queue API for fal-ai/ovi/image-to-video, over https on 127.0.0.1."""

    APP = "fal-ai/ovi/image-to-video"

    def __init__(
        self, clip: Path, *, key: str, queue_seconds: float = 0.0, gen_seconds: float = 0.0
    ) -> None:
        self.script = Script(clip, key, queue_seconds, gen_seconds)
        self._files = Path(tempfile.mkdtemp(prefix="fal-stand-in-"))
        self.ca_file = self._files / "ca.pem"
        self._served: Served | None = None
        self.host = ""

    def start(self) -> FalStandIn:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        ca.cert_pem.write_to_path(str(self.ca_file))
        chain = self._files / "server.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
        app = _dropping(self._app(), self.script, f"/{self.APP}")
        self._served = Served(app, what="the fal stand-in", certfile=chain)
        self.host = f"127.0.0.1:{self._served.port}"
        return self

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()

    def env(self) -> dict[str, str]:
        """What a process needs to use this stand-in through f1gen."""
        return {
            "FAL_KEY": self.script.key,
            "FAL_QUEUE_RUN_HOST": self.host,
            "SSL_CERT_FILE": str(self.ca_file),
        }

    def _app(self) -> FastAPI:
        app = FastAPI()
        script = self.script
        base = "/fal-ai/ovi/requests"

        def url(request: Request, path: str) -> str:
            return f"https://{request.headers['host']}{path}"

        def refused(code: int) -> Response:
            bodies: dict[int, dict[str, Any]] = {
                401: {"detail": "Unauthorized"},
                402: {"detail": "Insufficient credit"},
                403: {"detail": "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."},
                422: {"detail": [{"loc": ["body", "image_url"], "msg": "Could not download the image", "type": "image_load_error"}]},
                429: {"detail": "Too many concurrent requests"},
                500: {"detail": "Internal server error"},
            }  # fmt: skip
            return JSONResponse(
                bodies[code], status_code=code, headers={"x-fal-request-id": uuid.uuid4().hex}
            )

        @app.middleware("http")
        async def auth(request: Request, call_next: Any) -> Response:
            if request.url.path.startswith("/files/"):
                script.file_headers.append(dict(request.headers))
                response: Response = await call_next(request)
                return response
            if request.headers.get("authorization") != f"Key {script.key}":
                return refused(401)
            response = await call_next(request)
            return response

        @app.post(f"/{self.APP}")
        async def submit(request: Request) -> Response:
            inputs = await request.json()
            behaviour = script.take()
            if behaviour.isdigit():
                return refused(int(behaviour))
            job = script.accept(str(inputs.get("prompt")), inputs, behaviour)
            path = f"{base}/{job.id}"
            return JSONResponse({
                "request_id": job.id, "response_url": url(request, path),
                "status_url": url(request, f"{path}/status"), "cancel_url": url(request, f"{path}/cancel"),
                "queue_position": 0,
            })  # fmt: skip

        def job_or_404(request_id: str) -> Job | Response:
            job = script.jobs.get(request_id)
            return (
                job
                if job is not None
                else JSONResponse({"detail": "Request not found"}, status_code=404)
            )

        @app.get(f"{base}/{{request_id}}/status")
        async def status(request_id: str, request: Request) -> Response:
            job = job_or_404(request_id)
            if isinstance(job, Response):
                return job
            phase = script.phase(job)
            common = {"request_id": job.id, "response_url": url(request, f"{base}/{job.id}")}
            if phase == "queued":
                ahead = sum(
                    1
                    for j in script.jobs.values()
                    if j.created < job.created and script.phase(j) == "queued"
                )
                return JSONResponse({"status": "IN_QUEUE", "queue_position": ahead, **common})
            if phase == "running":
                return JSONResponse({"status": "IN_PROGRESS", "logs": None, **common})
            done: dict[str, Any] = {
                "status": "COMPLETED",
                "logs": None,
                "metrics": {"inference_time": script.gen_seconds},
                **common,
            }
            if phase == "failed":
                done.update(
                    error="Runner disconnected during processing", error_type="runner_disconnected"
                )
            return JSONResponse(done)

        @app.get(f"{base}/{{request_id}}")
        async def result(request_id: str, request: Request) -> Response:
            job = job_or_404(request_id)
            if isinstance(job, Response):
                return job
            phase = script.phase(job)
            if phase == "failed":
                return JSONResponse({"detail": "Runner disconnected during processing", "error_type": "runner_disconnected"},
                                    status_code=503, headers={"x-fal-request-id": job.id})  # fmt: skip
            if phase != "done":
                return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
            return JSONResponse({"video": {"url": url(request, f"/files/{job.id}.mp4"), "content_type": "video/mp4"},
                                 "seed": job.inputs.get("seed")})  # fmt: skip

        @app.put(f"{base}/{{request_id}}/cancel")
        async def cancel(request_id: str) -> Response:
            job = job_or_404(request_id)
            if isinstance(job, Response):
                return job
            if script.phase(job) != "queued":
                return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
            job.canceled = True
            return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

        @app.get("/files/{name}")
        async def files(name: str) -> Response:
            return FileResponse(script.clip, media_type="video/mp4")

        return app


class ReplicateStandIn:
    """Replicate's HTTP API for character-ai/ovi-i2v, over http on 127.0.0.1."""

    MODEL = "character-ai/ovi-i2v"
    PAGE = 3  # predictions per page of the list (small, so that paging is exercised)

    def __init__(
        self, clip: Path, *, token: str, queue_seconds: float = 0.0, gen_seconds: float = 0.0
    ) -> None:
        self.script = Script(clip, token, queue_seconds, gen_seconds)
        self._served: Served | None = None
        self.url = ""
        self.list_calls = 0

    def start(self) -> ReplicateStandIn:
        app = _dropping(self._app(), self.script, f"/v1/models/{self.MODEL}/predictions")
        self._served = Served(app, what="the Replicate stand-in")
        self.url = f"http://127.0.0.1:{self._served.port}"
        return self

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()

    def env(self) -> dict[str, str]:
        """What a process needs to use this stand-in through f1gen."""
        return {"REPLICATE_API_TOKEN": self.script.key, "REPLICATE_BASE_URL": self.url}

    def _app(self) -> FastAPI:
        app = FastAPI()
        script = self.script
        stand_in = self

        def problem(code: int) -> Response:
            bodies: dict[int, tuple[str, str]] = {
                401: ("Unauthenticated", "You did not pass a valid authentication token"),
                402: ("Insufficient credit", "You have insufficient credit to run this model. Go to https://replicate.com/account/billing#billing to purchase credit."),
                403: ("Forbidden", "You do not have permission to run this model"),
                422: ("Input validation failed", "- image: Does not match format 'uri'"),
                429: ("Request was throttled", "Request was throttled. Expected available in 1 second."),
                500: ("Internal Server Error", "Something went wrong"),
            }  # fmt: skip
            title, detail = bodies[code]
            return JSONResponse({"title": title, "detail": detail, "status": code}, status_code=code,
                                media_type="application/problem+json")  # fmt: skip

        def prediction(job: Job, request: Request) -> dict[str, Any]:
            base = f"http://{request.headers['host']}"
            phase = script.phase(job)
            status = {"queued": "starting", "running": "processing", "done": "succeeded",
                      "failed": "failed", "canceled": "canceled"}[phase]  # fmt: skip
            return {
                "id": job.id, "model": self.MODEL, "version": "hidden", "input": job.inputs,
                "logs": " 50%|#####     | 25/50 [00:10<00:10, 2.4it/s]" if phase == "running" else "",
                "output": f"{base}/files/{job.id}.mp4" if phase == "done" else None,
                "error": "CUDA out of memory" if phase == "failed" else None,
                "status": status, "created_at": job.created_at, "data_removed": False,
                "metrics": {"predict_time": script.gen_seconds} if phase == "done" else {},
                "urls": {"get": f"{base}/v1/predictions/{job.id}", "cancel": f"{base}/v1/predictions/{job.id}/cancel"},
            }  # fmt: skip

        @app.middleware("http")
        async def auth(request: Request, call_next: Any) -> Response:
            if request.url.path.startswith("/files/"):
                script.file_headers.append(dict(request.headers))
            elif request.headers.get("authorization") != f"Bearer {script.key}":
                return problem(401)
            response: Response = await call_next(request)
            return response

        @app.post(f"/v1/models/{self.MODEL}/predictions")
        async def create(request: Request) -> Response:
            body = await request.json()
            behaviour = script.take()
            if behaviour.isdigit():
                return problem(int(behaviour))
            inputs = body.get("input", {})
            job = script.accept(str(inputs.get("prompt")), inputs, behaviour)
            return JSONResponse(prediction(job, request), status_code=201)

        @app.get("/v1/predictions/{prediction_id}")
        async def get(prediction_id: str, request: Request) -> Response:
            job = script.jobs.get(prediction_id)
            if job is None:
                return JSONResponse(
                    {"title": "Not found", "detail": "Not found", "status": 404}, status_code=404
                )
            return JSONResponse(prediction(job, request))

        @app.get("/v1/predictions")
        async def listing(request: Request, cursor: int = 0) -> Response:
            stand_in.list_calls += 1
            newest = sorted(script.jobs.values(), key=lambda j: j.created, reverse=True)
            page = newest[cursor : cursor + self.PAGE]
            more = cursor + self.PAGE < len(newest)
            nxt = (
                f"http://{request.headers['host']}/v1/predictions?cursor={cursor + self.PAGE}"
                if more
                else None
            )
            return JSONResponse(
                {"previous": None, "next": nxt, "results": [prediction(j, request) for j in page]}
            )

        @app.post("/v1/predictions/{prediction_id}/cancel")
        async def cancel(prediction_id: str, request: Request) -> Response:
            job = script.jobs.get(prediction_id)
            if job is None:
                return JSONResponse(
                    {"title": "Not found", "detail": "Not found", "status": 404}, status_code=404
                )
            job.canceled = True
            return JSONResponse(prediction(job, request))

        @app.get("/files/{name}")
        async def files(name: str) -> Response:
            return FileResponse(script.clip, media_type="video/mp4")

        return app
