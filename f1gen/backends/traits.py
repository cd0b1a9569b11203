"""What a backend declares about itself: its clip spec, its prompt format, its price model, how
it fails.

Plain values, so that the planner, the clip checks, the cost estimate, `--dry-run` and the
storyboard lint can read them without connecting to anything or importing a client library.
Each backend's module hands them to the registry (backends/__init__.py) in its FACTORY.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Literal, Protocol

from ..clipspec import ClipSpec

if TYPE_CHECKING:
    from ..scene import Scene

# Ovi's own negative prompts (ovi/configs/inference/inference_fusion.yaml in character-ai/Ovi).
OVI_VIDEO_NEGATIVE = "jitter, bad hands, blur, distortion"
OVI_AUDIO_NEGATIVE = "robotic, muffled, echo, distorted"


class Verdict(Enum):
    """What kind of failure an exception from a provider is."""

    BUSY = "busy"  # queue full, 429, 5xx, network: back off and retry, then stop resumable
    FAILED_RUN = "failed run"  # the provider ran and failed: a failed attempt, retried
    QUOTA = "quota"  # quota or credit used up: stop at once, resumable
    FATAL = "fatal"  # key refused, model missing, input refused: stop with exit 3


# Ovi's 5-second checkpoint from a 9:14 portrait image (ovi-space.md, "What real Ovi files look
# like"): 121 frames at 24 fps, 16 kHz mono as the model makes it, or 122 frames and 44.1 kHz
# stereo when MoviePy writes the file, as Ovi's own app does. Accepted: 4.5-5.5 s. Ovi's own
# 5 s samples (assets/high_res_results, 704x1280) weigh 0.63-1.01 MB, 125-202 kB/s: twice that.
OVI_SPEC = ClipSpec(
    size=(576, 896),
    fps=24,
    frames=(121, 122),
    window=(4.5, 5.5),
    sample_rates=(16_000, 44_100),
    channels=(1, 2),
    bytes_per_second=400_000,
)


class PromptBuilder(Protocol):
    """A model's prompt format: the text a scene is sent as, and the tokens that control it."""

    @property
    def family(self) -> str:
        """Whose format it is, for messages ('Ovi')."""
        ...

    @property
    def reserved(self) -> re.Pattern[str]:
        """Matches the format's control tokens, in every spelling the model would read as one:
        user text must never contain them."""
        ...

    def build(self, scene: Scene) -> str:
        """The prompt for scene."""
        ...


PriceKind = Literal["free", "zerogpu", "per_clip", "per_gpu_second", "own_gpu"]


@dataclass(frozen=True)
class PriceModel:
    """How a backend charges for a clip, and where the figure comes from."""

    kind: PriceKind
    usd_per_clip: float = 0.0
    usd_per_gpu_second: float = 0.0
    source: str = ""

    def clip_usd(self, gpu_seconds: float) -> float:
        """Money for one clip that took gpu_seconds on the provider's GPU."""
        if self.kind == "per_clip":
            return self.usd_per_clip
        if self.kind == "per_gpu_second":
            return self.usd_per_gpu_second * gpu_seconds
        return 0.0


# Figures cited in README "Choosing a backend" (sources: ../shared/notes/ovi-hosts.md).
ZEROGPU_PRICE = PriceModel(
    "zerogpu", source="Hugging Face ZeroGPU: daily quota, free 5 min, PRO 40 min (docs, 2026)"
)
FAL_PRICE = PriceModel(
    "per_clip", usd_per_clip=0.20, source="fal.ai model page fal-ai/ovi/image-to-video: $0.20/video"
)
# Replicate bills the GPU seconds a prediction runs; the model's page does not name its
# hardware, and Ovi needs a 32 GB+ GPU: priced here at Replicate's H100 rate.
REPLICATE_PRICE = PriceModel(
    "per_gpu_second",
    usd_per_gpu_second=0.001525,
    source="replicate.com/pricing: Nvidia H100 $0.001525/s (hardware assumed)",
)
OWN_GPU_PRICE = PriceModel("own_gpu", source="your own GPU: no charge per clip")
FREE_PRICE = PriceModel("free", source="rendered locally")
