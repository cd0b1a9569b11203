"""A real Gradio server on 127.0.0.1 that serves /generate_scene like the Ovi Space.

Tests script it call by call (busy, worker error, quota, None, a truncated file, slow...), and
read its call log to prove what f1gen sent and how often. Given takes (clips made by
tests/support/takes.py: a moving picture with a spoken line, or a silent one), it returns them
in turn, one per clip made, as Ovi returns a different take for every call. The real gradio_client talks to it
over HTTP, so f1gen's real code path runs.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image

from tests.support.net import Served

QUOTA_MESSAGE = (
    "You have exceeded your free ZeroGPU quota (90s requested vs. 12s left). Try again in 0:41:10."
)
BEHAVIOURS = {
    "busy": ("ZeroGPU queue timeout", "No GPU was available after 60s. Retry later"),
    "no-gpu": ("ZeroGPU client error", "No GPU was available"),
    "worker": ("ZeroGPU worker error", "GPU task aborted"),
    "quota": ("ZeroGPU quota exceeded", QUOTA_MESSAGE),
    "quota-old": (None, "You have exceeded your GPU quota (60s requested vs. 0s left). Try again in 0:00:00"),
    "runs-limit": ("ZeroGPU quota exceeded", "You have exceeded your ZeroGPU runs limit."),
    "illegal": ("ZeroGPU illegal duration", "The requested GPU duration (300s) is larger than the maximum allowed"),
}  # fmt: skip


@dataclass
class Call:
    """One call the stand-in received."""

    text_prompt: str
    sample_steps: int | None
    image_dims: tuple[int, int]
    behaviour: str
    started: float
    finished: float = 0.0
    clip: str = ""  # the name of the clip it returned
    extra: dict[str, Any] = field(default_factory=dict)


class StandIn:
    """The server, its script and its call log."""

    def __init__(
        self,
        clip: Path,
        *,
        variant: str = "standard",
        token: str | None = None,
        gen_seconds: float = 0.0,
        progress_steps: int = 0,
        takes: Sequence[Path] = (),
    ) -> None:
        self.clip = clip
        self.takes = list(takes)  # when given, the clips made in turn instead of clip
        self.made = 0  # clips returned so far
        self.variant = variant
        self.token = token
        self.gen_seconds = gen_seconds
        self.progress_steps = progress_steps
        self.script: deque[str] = deque()
        self.http_script: deque[tuple[str, int]] = deque()  # (path suffix, status code)
        self.calls: list[Call] = []
        self.requests: list[str] = []
        self.tokens_seen: set[str] = set()  # every Authorization / x-hf-authorization received
        self._files = Path(tempfile.mkdtemp(prefix="ovi-stand-in-"))
        self._lock = threading.Lock()
        self._served: Served | None = None
        self.url = ""

    # Scripting

    def then(self, *behaviours: str) -> StandIn:
        """Queue behaviours for the next calls; after them every call succeeds."""
        self.script.extend(behaviours)
        return self

    def reset(self) -> None:
        """Forget the script and the log."""
        self.script.clear()
        self.http_script.clear()
        self.calls.clear()
        self.requests.clear()
        self.tokens_seen.clear()
        self.made = 0

    def prompts(self) -> list[str]:
        """The prompts of every call that produced a clip."""
        return [c.text_prompt for c in self.calls if c.behaviour == "ok"]

    # The endpoint

    def _generate(self, text_prompt: str, sample_steps: int | None, image: str | None,
                  progress: Any, **extra: Any) -> str | None:  # fmt: skip
        with self._lock:
            behaviour = self.script.popleft() if self.script else "ok"
        dims = (0, 0)
        if image:
            with Image.open(image) as received:
                dims = received.size
        call = Call(text_prompt, sample_steps, dims, behaviour, time.monotonic(), extra=extra)
        self.calls.append(call)
        try:
            if behaviour in BEHAVIOURS:
                title, message = BEHAVIOURS[behaviour]
                raise gr.Error(message, title=title) if title else gr.Error(message)
            seconds = self.gen_seconds
            if behaviour.startswith("slow:"):
                seconds = float(behaviour.split(":", 1)[1])
            steps = self.progress_steps
            for step in range(steps):
                progress((step, steps), desc="Denoising")
                time.sleep(seconds / steps)
            if not steps and seconds:
                time.sleep(seconds)
            if behaviour == "none":
                return None
            target = self._files / f"clip-{len(self.calls)}.mp4"
            with self._lock:
                source = self.takes[self.made % len(self.takes)] if self.takes else self.clip
                self.made += 1
            call.clip = source.name
            data = source.read_bytes()
            target.write_bytes(data[: len(data) // 3] if behaviour == "truncated" else data)
            return str(target)
        finally:
            call.finished = time.monotonic()

    def _blocks(self) -> gr.Blocks:
        stand_in = self

        def generate_scene(text_prompt: str, sample_steps: int, image: str,
                           progress: gr.Progress = gr.Progress()) -> str | None:  # fmt: skip
            return stand_in._generate(text_prompt, int(sample_steps), image, progress)

        def generate_scene_seeded(text_prompt: str, sample_steps: int, image: str, seed: int,
                                  progress: gr.Progress = gr.Progress()) -> str | None:  # fmt: skip
            return stand_in._generate(text_prompt, int(sample_steps), image, progress, seed=seed)

        def generate_scene_video_seed(text_prompt: str, sample_steps: int, image: str,
                                      video_seed: int,
                                      progress: gr.Progress = gr.Progress()) -> str | None:  # fmt: skip
            return stand_in._generate(text_prompt, int(sample_steps), image, progress,
                                      video_seed=int(video_seed))  # fmt: skip

        def generate_scene_no_steps(text_prompt: str, image: str,
                                    progress: gr.Progress = gr.Progress()) -> str | None:  # fmt: skip
            return stand_in._generate(text_prompt, None, image, progress)

        with gr.Blocks() as demo:
            prompt = gr.Textbox(label="Prompt")
            steps = gr.Number(value=40, precision=0, label="Steps")
            image = gr.Image(type="filepath", label="Image")
            seed = gr.Number(value=0, precision=0, label="Seed")
            video_seed = gr.Number(value=100, precision=0, label="Video Seed")  # the Space's
            video = gr.Video(label="Video")
            button = gr.Button()
            if self.variant == "standard":
                button.click(
                    generate_scene, [prompt, steps, image], video, api_name="generate_scene"
                )
            elif self.variant == "extra":  # a new optional parameter f1gen does not send
                button.click(generate_scene_seeded, [prompt, steps, image, seed], video,
                             api_name="generate_scene")  # fmt: skip
            elif self.variant == "seeded":  # takes video_seed, as the Space's own code does
                button.click(generate_scene_video_seed, [prompt, steps, image, video_seed], video,
                             api_name="generate_scene")  # fmt: skip
            elif self.variant == "missing":  # a parameter f1gen needs is gone
                button.click(
                    generate_scene_no_steps, [prompt, image], video, api_name="generate_scene"
                )
            elif self.variant == "renamed":  # the endpoint moved
                button.click(generate_scene, [prompt, steps, image], video, api_name="make_video")
        demo.queue(default_concurrency_limit=1)
        return demo

    # Serving

    def start(self) -> StandIn:
        """Serve on 127.0.0.1 at a port picked now."""
        app = FastAPI()
        stand_in = self

        @app.middleware("http")
        async def gate(request: Request, call_next: Any) -> Response:
            path = request.url.path
            stand_in.requests.append(path)
            for header in ("authorization", "x-hf-authorization"):
                if header in request.headers:
                    stand_in.tokens_seen.add(request.headers[header])
            if stand_in.http_script and path.endswith(stand_in.http_script[0][0]):
                _, code = stand_in.http_script.popleft()
                return JSONResponse({"error": f"scripted {code}"}, status_code=code)
            if stand_in.token is not None:
                sent = request.headers.get("x-hf-authorization") or request.headers.get(
                    "authorization"
                )
                if sent != f"Bearer {stand_in.token}":
                    return JSONResponse({"error": "Invalid credentials"}, status_code=401)
            response: Response = await call_next(request)
            return response

        app = gr.mount_gradio_app(app, self._blocks(), path="/", allowed_paths=[str(self._files)])
        self._served = Served(app, what="the Ovi stand-in", lifespan=True)
        self.url = f"http://127.0.0.1:{self._served.port}/"
        return self

    def stop(self) -> None:
        """Stop serving and remove its files."""
        if self._served is not None:
            self._served.stop()
        shutil.rmtree(self._files, ignore_errors=True)
