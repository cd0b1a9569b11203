"""Money during the run: --max-cost refuses a run estimated above it, and stops before the clip
that would pass it. The figures come from estimate.py; nothing here connects to anything."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .backends import REGISTRY, factory
from .backends.traits import FREE_PRICE, PriceModel
from .errors import BadInputError
from .estimate import clip_usd, model_scale

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


def refuse_over(
    todo: Sequence[PlannedScene], backend: Backend | object, max_cost: float | None
) -> None:
    """BadInputError when the clips to make are estimated above --max-cost: nothing is spent."""
    if max_cost is None:
        return
    price = price_for(backend)
    scale = model_scale(getattr(backend, "identity", None))
    total = sum(clip_usd(price, p.steps, scale=scale) for p in todo)
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
    scale = model_scale(getattr(backend, "identity", None))
    each = clip_usd(price_for(backend), steps, scale=scale)
    if each and spent + (in_flight + 1) * each > max_cost + 1e-9:
        return (
            f"the next clip (~${each:.2f}) would pass the --max-cost of ${max_cost:.2f} "
            f"(${spent:.2f} spent, {in_flight} in flight)"
        )
    return None
