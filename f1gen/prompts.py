"""The prompt a scene is sent as, in the prompt format of the backend that makes it.

The formats live with the backends (Ovi's tags in backends/ovi_prompt.py); this is the core's
one way to ask for a scene's prompt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scene import Scene


def build(scene: Scene, *, identity: str | None = None) -> str:
    """scene's prompt for the backend whose identity is given (default: the default backend)."""
    from .backends import prompt_for

    return prompt_for(identity).build(scene)
