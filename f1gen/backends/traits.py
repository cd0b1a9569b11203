"""What a backend declares about itself: its clip spec, its price model, how it fails.

Plain values, so that the planner, the cost estimate and `--dry-run` can read them without
connecting to anything. (Issue 13 folds these into the backend registry.)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

# Ovi's own negative prompts (ovi/configs/inference/inference_fusion.yaml in character-ai/Ovi).
OVI_VIDEO_NEGATIVE = "jitter, bad hands, blur, distortion"
OVI_AUDIO_NEGATIVE = "robotic, muffled, echo, distorted"


class Verdict(Enum):
    """What kind of failure an exception from a provider is."""

    BUSY = "busy"  # queue full, 429, 5xx, network: back off and retry, then stop resumable
    FAILED_RUN = "failed run"  # the provider ran and failed: a failed attempt, retried
    QUOTA = "quota"  # quota or credit used up: stop at once, resumable
    FATAL = "fatal"  # key refused, model missing, input refused: stop with exit 3


@dataclass(frozen=True)
class ClipSpec:
    """The clips a backend makes: frame size, rate, frame counts and durations it accepts."""

    size: tuple[int, int] = (576, 896)
    fps: int = 24
    frames: tuple[int, ...] = (121, 122)  # Ovi's 5 s checkpoint; MoviePy sometimes adds one
    seconds: tuple[float, ...] = (5.0,)  # durations the backend can be asked for


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
