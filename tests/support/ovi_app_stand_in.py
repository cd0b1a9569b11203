"""A real Gradio server on 127.0.0.1 with the inputs of Ovi's official gradio_app.py.

Same function name (generate_video, so the endpoint is /generate_video), same 13 inputs in the
same order, and the same habit: on an error it returns None instead of raising. Tests script
calls ("ok", "none") and read what each call received.

Given a model (one of Ovi's checkpoints, as the app serves one, chosen when it starts), it makes
each clip as that checkpoint would: the uploaded image's aspect at the model's area in multiples
of 32 (Ovi's own rule, ported below), 122 or 242 frames at 24 fps as MoviePy writes them, AAC
44.1 kHz stereo, in a temporary file of its own (gradio_app.py's NamedTemporaryFile): a marker
clip, with its white frame and beep at a different frame each call.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI

from tests.support.mediatools import make_marker_clip
from tests.support.net import Served

# Ovi's checkpoints: the side of their square area and their seconds
# (character-ai/Ovi, ovi/ovi_fusion_engine.py, NAME_TO_MODEL_SPECS_MAP).
MODELS = {"720x720_5s": (720, 5), "960x960_5s": (960, 5), "960x960_10s": (960, 10)}


def ovi_frame(width: int, height: int, *, area: int, multiple: int = 32) -> tuple[int, int]:
    """The width and height Ovi makes from an image: `_best_hw_for_area` of
    ovi/utils/processing_utils.py, as written there."""
    import numpy as np

    ratio_wh = width / float(height)
    tgt_units = max(1, area // (multiple * multiple))
    p0 = max(1, round(np.sqrt(tgt_units / max(ratio_wh, 1e-8))))
    candidates = []
    for dp in range(-3, 4):
        p = max(1, p0 + dp)
        q = max(1, round(p * ratio_wh))
        candidates.append((p * multiple, q * multiple))
    scale = np.sqrt(area / (height * float(width)))
    candidates.append((max(multiple, round(height * scale / multiple) * multiple),
                       max(multiple, round(width * scale / multiple) * multiple)))  # fmt: skip
    h, w = min(
        candidates, key=lambda hw: (abs(hw[0] * hw[1] - area), abs(hw[1] / hw[0] - ratio_wh))
    )
    return w, h


class OviAppStandIn:
    """The server, its script and its call log."""

    def __init__(
        self, clip: Path | None = None, *, gen_seconds: float = 0.0, model: str | None = None
    ) -> None:
        self.clip = clip
        self.model = model  # the checkpoint served: clips made as it makes them
        self.gen_seconds = gen_seconds
        self.script: deque[str] = deque()
        self.calls: list[dict[str, Any]] = []
        self._files = Path(tempfile.mkdtemp(prefix="ovi-app-stand-in-"))
        self._served: Served | None = None
        self.url = ""

    def then(self, *behaviours: str) -> OviAppStandIn:
        """Queue behaviours for the next calls; after them every call succeeds."""
        self.script.extend(behaviours)
        return self

    def _blocks(self) -> gr.Blocks:
        stand_in = self

        def generate_video(text_prompt: str, image: str | None, video_frame_height: int,
                           video_frame_width: int, video_seed: int, solver_name: str,
                           sample_steps: int, shift: float, video_guidance_scale: float,
                           audio_guidance_scale: float, slg_layer: int, video_negative_prompt: str,
                           audio_negative_prompt: str) -> str | None:  # fmt: skip
            call = dict(locals())
            call.pop("stand_in", None)
            stand_in.calls.append(call)
            behaviour = stand_in.script.popleft() if stand_in.script else "ok"
            try:
                if behaviour == "none":
                    raise RuntimeError("CUDA out of memory")
                time.sleep(stand_in.gen_seconds)
                if stand_in.model is not None:
                    return stand_in._make(call)
                assert stand_in.clip is not None
                target = stand_in._files / f"clip-{len(stand_in.calls)}.mp4"
                target.write_bytes(stand_in.clip.read_bytes())
                return str(target)
            except Exception as e:  # what the official app does: print and return None
                print(f"Error during video generation: {e}")
                return None

        with gr.Blocks() as demo:
            image = gr.Image(type="filepath", label="First Frame Image (upload or generate)")
            video_text_prompt = gr.Textbox(label="Video Prompt")
            video_height = gr.Number(
                minimum=128, maximum=1280, value=512, step=32, label="Video Height"
            )
            video_width = gr.Number(
                minimum=128, maximum=1280, value=992, step=32, label="Video Width"
            )
            video_seed = gr.Number(minimum=0, maximum=100000, value=100, label="Video Seed")
            solver_name = gr.Dropdown(
                choices=["unipc", "euler", "dpm++"], value="unipc", label="Solver Name"
            )
            sample_steps = gr.Number(
                value=50, label="Sample Steps", precision=0, minimum=20, maximum=100
            )
            shift = gr.Slider(minimum=0.0, maximum=20.0, value=5.0, step=1.0, label="Shift")
            video_guidance_scale = gr.Slider(
                minimum=0.0, maximum=10.0, value=4.0, step=0.5, label="Video Guidance Scale"
            )
            audio_guidance_scale = gr.Slider(
                minimum=0.0, maximum=10.0, value=3.0, step=0.5, label="Audio Guidance Scale"
            )
            slg_layer = gr.Number(minimum=-1, maximum=30, value=11, step=1, label="SLG Layer")
            video_negative_prompt = gr.Textbox(label="Video Negative Prompt")
            audio_negative_prompt = gr.Textbox(label="Audio Negative Prompt")
            run_btn = gr.Button("Generate Video")
            output_path = gr.Video(label="Generated Video")
            run_btn.click(
                fn=generate_video,
                inputs=[video_text_prompt, image, video_height, video_width, video_seed, solver_name,
                        sample_steps, shift, video_guidance_scale, audio_guidance_scale,
                        slg_layer, video_negative_prompt, audio_negative_prompt],
                outputs=[output_path],
            )  # fmt: skip
        return demo

    def _make(self, call: dict[str, Any]) -> str:
        """A clip as the model served makes it from the uploaded image; where its marker is goes
        in the call's record."""
        from PIL import Image

        assert self.model is not None
        side, seconds = MODELS[self.model]
        with Image.open(call["image"]) as image:
            size = ovi_frame(*image.size, area=side * side)
        frames = seconds * 24 + 2  # 121 or 241 made, one more as MoviePy writes them
        # A frame number divisible by 3 starts its 1 kHz beep at a zero crossing (1000 x k/24
        # s whole): every marker's onset is the same shape, and measured alike.
        marker = 12 + 3 * ((10 * len(self.calls)) % ((frames - 36) // 3))
        with tempfile.NamedTemporaryFile(suffix=".mp4", dir=self._files, delete=False) as handle:
            name = handle.name
        made = make_marker_clip(Path(name), marker_frame=marker, size=size, frames=frames,
                                audio_rate=44_100, channels=2)  # fmt: skip
        call["made"] = {"size": size, "frames": frames, "marker": made.marker}
        return name

    def start(self) -> OviAppStandIn:
        """Serve on 127.0.0.1 at a port picked now."""
        app = gr.mount_gradio_app(
            FastAPI(), self._blocks(), path="/", allowed_paths=[str(self._files)]
        )
        self._served = Served(app, what="the Ovi app stand-in", lifespan=True)
        self.url = f"http://127.0.0.1:{self._served.port}/"
        return self

    def stop(self) -> None:
        """Stop serving and remove its files."""
        if self._served is not None:
            self._served.stop()
        shutil.rmtree(self._files, ignore_errors=True)
