"""Money during the run: --max-cost refuses a run estimated above it, and stops before the clip
that would pass it. The figures come from estimate.py; nothing here connects to anything."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .backends import REGISTRY, factory
from .backends.traits import FREE_PRICE, PriceModel
from .errors import BadInputError
from .estimate import clip_steps, clip_usd, model_scale

if TYPE_CHECKING:
    from .backends import Backend
    from .plan import PlannedScene


def price_for(backend: Backend | object) -> PriceModel:
    """The price model a backend declares, else its registered one (free if it has none)."""
    declared = getattr(backend, "price", None)
    if isinstance(declared, PriceModel):
        return declared
    name = str(getattr(backend, "name", ""))
    return factory(name).price if name in REGISTRY else FREE_PRICE


def planned_usd(todo: Sequence[PlannedScene], backend: Backend | object) -> float:
    """Estimated money for every clip to make: each scene's takes still to make."""
    price = price_for(backend)
    scale = model_scale(getattr(backend, "identity", None))  # its model's GPU time
    return sum(clip_usd(price, steps, scale=scale) for steps in clip_steps(todo))


def refusal(
    todo: Sequence[PlannedScene], backend: Backend | object, max_cost: float | None
) -> str | None:
    """Why --max-cost refuses the run (its clips are estimated above it), or None."""
    if max_cost is None:
        return None
    total = planned_usd(todo, backend)
    if total <= max_cost + 1e-9:
        return None
    clips = len(clip_steps(todo))
    takes = {p.takes for p in todo}
    scenes = "scene" if len(todo) == 1 else "scenes"
    how = ""
    if clips != len(todo):
        how = (
            f" ({len(todo)} {scenes}, {takes.pop()} takes each)"
            if len(takes) == 1
            else f" ({len(todo)} {scenes} and their takes)"
        )
    return (
        f"--max-cost {max_cost:.2f}: the {clips} clips to make on "
        f"{getattr(backend, 'name', 'this backend')}{how} are estimated at ${total:.2f}: "
        "raise --max-cost, or make fewer scenes with --only"
    )


def refuse_over(
    todo: Sequence[PlannedScene], backend: Backend | object, max_cost: float | None
) -> None:
    """BadInputError when the clips to make are estimated above --max-cost: nothing is spent."""
    problem = refusal(todo, backend, max_cost)
    if problem is not None:
        raise BadInputError(problem)


def stop_reason(
    backend: Backend | object, max_cost: float | None, *, spent: float, in_flight: int, steps: int
) -> str | None:
    """Why the next clip must not start under --max-cost (None: it may)."""
    if max_cost is None:
        return None
    scale = model_scale(getattr(backend, "identity", None))
    each = clip_usd(price_for(backend), steps, scale=scale)
    if each and spent + (in_flight + 1) * each > max_cost + 1e-9:
        return (
            f"the next clip (~${each:.2f}) would pass the --max-cost of ${max_cost:.2f} "
            f"(${spent:.2f} spent, {in_flight} in flight)"
        )
    return None
