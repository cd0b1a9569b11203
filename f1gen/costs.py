"""Cost and quota before the run: GPU seconds, ZeroGPU quota days, money, time; --max-cost.

Figures per clip come from the backend's price model (backends/traits.py, sources cited there
and in README "Choosing a backend") and from the seed's timings per sample steps
(runner.estimate_seconds). Nothing here connects to anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from .backends import REGISTRY, factory
from .backends.traits import FREE_PRICE, PriceModel
from .errors import BadInputError

if TYPE_CHECKING:
    from .backends import Backend
    from .plan import PlannedScene

# ZeroGPU reserves `sample_steps * 3 + warm-up` seconds per call before it runs (the Space's
# @spaces.GPU duration); the warm-up term is not in any public copy of the Space: assumed.
ZEROGPU_SECONDS_PER_STEP = 3
ZEROGPU_WARMUP_SECONDS = 20


def price_for(backend: Backend | object) -> PriceModel:
    """The price model a backend declares, else its registered one (free if it has none)."""
    declared = getattr(backend, "price", None)
    if isinstance(declared, PriceModel):
        return declared
    name = str(getattr(backend, "name", ""))
    return factory(name).price if name in REGISTRY else FREE_PRICE


def reserved_seconds(steps: int) -> int:
    """GPU seconds ZeroGPU reserves (and charges to the quota) for one call at steps."""
    return steps * ZEROGPU_SECONDS_PER_STEP + ZEROGPU_WARMUP_SECONDS


def clip_usd(price: PriceModel, steps: int) -> float:
    """Estimated money for one clip at steps."""
    from .runner import estimate_seconds

    return price.clip_usd(estimate_seconds(steps))


@dataclass(frozen=True)
class Estimate:
    """What making some clips on one backend costs, in money, GPU time, quota and wall time."""

    backend: str
    clips: int
    usd: float
    gpu_seconds: float
    reserved_seconds: float  # ZeroGPU only: what the quota is charged
    clips_per_day: dict[str, int] | None  # ZeroGPU only: at this run's steps
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


def estimate(name: str, steps: Sequence[int], *, parallel: int | None = None) -> Estimate:
    """The estimate for clips at these steps on backend name."""
    from .runner import DAILY_QUOTA_SECONDS, estimate_seconds

    declared = factory(name)
    price = declared.price
    wide = max(1, parallel or declared.default_parallel)
    gpu = [estimate_seconds(s) for s in steps]
    zerogpu = price.kind == "zerogpu"
    reserved = float(sum(reserved_seconds(s) for s in steps)) if zerogpu else 0.0
    per_day = None
    if zerogpu:
        each = reserved / len(steps) if steps else float(reserved_seconds(40))
        per_day = {plan: int(quota // each) for plan, quota in DAILY_QUOTA_SECONDS.items()}
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
        parallel=wide,
        wall_seconds=sum(gpu) / wide if wide == 1 else rounds * typical,
        price=price.source,
    )


def compare(
    steps: Sequence[int], names: Iterable[str], *, parallel: dict[str, int]
) -> list[Estimate]:
    """Estimates on every backend named, for a dry run."""
    return [estimate(name, steps, parallel=parallel.get(name)) for name in names]


def refuse_over(
    todo: Sequence[PlannedScene], backend: Backend | object, max_cost: float | None
) -> None:
    """BadInputError when the clips to make are estimated above --max-cost: nothing is spent."""
    if max_cost is None:
        return
    price = price_for(backend)
    total = sum(clip_usd(price, p.steps) for p in todo)
    if total > max_cost + 1e-9:
        raise BadInputError(
            f"--max-cost {max_cost:.2f}: the {len(todo)} clips to make on "
            f"{getattr(backend, 'name', 'this backend')} are estimated at ${total:.2f}: "
            "raise --max-cost, or make fewer scenes with --only"
        )


def stop_reason(
    backend: Backend | object, max_cost: float | None, *, spent: float, in_flight: int, steps: int
) -> str | None:
    """Why the next clip must not start under --max-cost (None: it may)."""
    if max_cost is None:
        return None
    each = clip_usd(price_for(backend), steps)
    if each and spent + (in_flight + 1) * each > max_cost + 1e-9:
        return (
            f"the next clip (~${each:.2f}) would pass the --max-cost of ${max_cost:.2f} "
            f"(${spent:.2f} spent, {in_flight} in flight)"
        )
    return None
