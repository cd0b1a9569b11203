"""Ovi prompts: action, speech in <S>...<E>, atmosphere in <AUDCAP>...<ENDAUDCAP>."""

from __future__ import annotations

from .errors import BadInputError
from .storyboard import OVI_TAG, Scene


def build(scene: Scene) -> str:
    """The seed document's prompt format; a scene without speech has no <S> block."""
    for field, text in (
        ("action", scene.action),
        ("speech", scene.speech),
        ("atmosphere", scene.atmosphere),
    ):
        # The storyboard loader already refuses these; this guards scenes built in code.
        if text and OVI_TAG.search(text):
            raise BadInputError(f"{scene.label}.{field}: contains an Ovi tag: remove it")
    parts = [scene.action]
    if scene.speech:
        parts.append(f"<S>{scene.speech}<E>.")
    if scene.atmosphere:
        parts.append(f"<AUDCAP>{scene.atmosphere}<ENDAUDCAP>.")
    return " ".join(p for p in parts if p)
