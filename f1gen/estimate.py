"""Estimates: GPU seconds per clip, the ZeroGPU quota, money and wall time of a run.

The one source of these figures: the dry run's lines and its comparison of backends, --max-cost,
and the run limits (--budget, --window) all read them here. Figures per clip come from the seed's
timings per sample steps and from each backend's price model (backends/traits.py, sources cited
there and in README "Choosing a backend"). Nothing here connects to anything.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from .backends import factory
from .backends.traits import PriceModel

if TYPE_CHECKING:
    from .plan import PlannedScene
    from .state import RunState

# The seed document's timings per clip, by sample steps (GPU seconds).
STEP_TIMINGS = ((20, 30.0), (40, 60.0), (50, 90.0))
# ZeroGPU's daily quota per account (Hugging Face's docs).
DAILY_QUOTA_SECONDS = {"free": 5 * 60, "pro": 40 * 60}
# ZeroGPU reserves `sample_steps * 3 + warm-up` seconds per call before it runs (the Space's
# @spaces.GPU duration) and charges them to the quota; the warm-up term is not in any public copy
# of the Space: assumed.
ZEROGPU_SECONDS_PER_STEP = 3
ZEROGPU_WARMUP_SECONDS = 20


def estimate_seconds(steps: int) -> float:
    """GPU seconds one clip takes at steps, interpolated from the seed's timings."""
    points = STEP_TIMINGS
    if steps <= points[0][0]:
        return points[0][1] * steps / points[0][0]
    for (s0, t0), (s1, t1) in itertools.pairwise(points):
        if steps <= s1:
            return t0 + (t1 - t0) * (steps - s0) / (s1 - s0)
    s_last, t_last = points[-1]
    return t_last * steps / s_last


def reserved_seconds(steps: int) -> int:
    """GPU seconds ZeroGPU reserves (and charges to the quota) for one call at steps."""
    return steps * ZEROGPU_SECONDS_PER_STEP + ZEROGPU_WARMUP_SECONDS


def clip_steps(todo: Iterable[PlannedScene]) -> list[int]:
    """The steps of every clip a plan makes: each scene once per take it still wants."""
    return [p.steps for p in todo for _ in range(max(1, p.takes))]


def clip_usd(price: PriceModel, steps: int, *, scale: float = 1.0) -> float:
    """Estimated money for one clip at steps (scale: its model's GPU time, models.gpu_scale)."""
    return price.clip_usd(estimate_seconds(steps) * scale)


def model_scale(identity: str | None) -> float:
    """How many times a 5 s 720x720 clip's GPU time a clip of identity's model takes."""
    from .backends import made_by
    from .backends.models import gpu_scale

    return gpu_scale(made_by(identity)[1])


@dataclass(frozen=True)
class Expected:
    """How long the next clip should take: in all (queue included), and on the GPU."""

    total: float
    gpu: float


def expected_seconds(state: RunState, steps: int, *, scale: float = 1.0) -> Expected:
    """The median of the clips made so far, or the seed's estimate for steps when none are (scale:
    the model's GPU time, model_scale)."""
    made = [e for e in state.scenes.values() if e.status == "done" and e.clip_seconds is not None]
    if not made:
        guess = estimate_seconds(steps) * scale
        return Expected(total=guess, gpu=guess)
    gpu = statistics.median(e.clip_seconds or 0.0 for e in made)
    total = statistics.median((e.clip_seconds or 0.0) + e.clip_queue_seconds for e in made)
    return Expected(total=total, gpu=gpu)


@dataclass(frozen=True)
class Estimate:
    """What making some clips on one backend costs, in money, GPU time, quota and wall time."""

    backend: str
    clips: int
    usd: float
    gpu_seconds: float
    reserved_seconds: float  # ZeroGPU only: what the quota is charged
    clips_per_day: dict[str, int] | None  # ZeroGPU only: at this run's steps
    quota_days: dict[str, int | None] | None  # ZeroGPU only: days of quota (None: no clip fits)
    parallel: int
    wall_seconds: float  # generation only: queues and quota waits come on top
    price: str

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        data = asdict(self)
        data["usd"] = round(self.usd, 2)
        data["gpu_seconds"] = round(self.gpu_seconds)
        data["wall_seconds"] = round(self.wall_seconds)
        return data


def estimate(
    name: str, steps: Sequence[int], *, parallel: int | None = None, scale: float = 1.0
) -> Estimate:
    """The estimate for clips at these steps on backend name (scale: its model's GPU time, from
    the pixels and seconds it makes: a 960x960_10s clip takes about 3.6 times a 720x720_5s)."""
    declared = factory(name)
    price = declared.price
    wide = max(1, parallel or declared.default_parallel)
    gpu = [estimate_seconds(s) * scale for s in steps]
    zerogpu = price.kind == "zerogpu"
    reserved = float(sum(reserved_seconds(s) for s in steps)) if zerogpu else 0.0
    per_day: dict[str, int] | None = None
    days: dict[str, int | None] | None = None
    if zerogpu:
        each = reserved / len(steps) if steps else float(reserved_seconds(40))
        per_day = {plan: int(quota // each) for plan, quota in DAILY_QUOTA_SECONDS.items()}
        days = {plan: math.ceil(len(steps) / n) if n else None for plan, n in per_day.items()}
    if price.kind == "free":
        gpu = [0.0 for _ in steps]
    rounds = math.ceil(len(steps) / wide) if steps else 0
    typical = max(gpu, default=0.0)
    return Estimate(
        backend=name,
        clips=len(steps),
        usd=sum(price.clip_usd(g) for g in gpu),
        gpu_seconds=sum(gpu),
        reserved_seconds=reserved,
        clips_per_day=per_day,
        quota_days=days,
        parallel=wide,
        wall_seconds=sum(gpu) / wide if wide == 1 else rounds * typical,
        price=price.source,
    )


def compare(
    steps: Sequence[int],
    names: Iterable[str],
    *,
    parallel: dict[str, int],
    scale: dict[str, float] | None = None,
) -> list[Estimate]:
    """Estimates on every backend named, for a dry run (scale: by backend, its model's)."""
    scales = scale or {}
    return [
        estimate(name, steps, parallel=parallel.get(name), scale=scales.get(name, 1.0))
        for name in names
    ]
