"""Ovi's prompt format, shared by every backend that runs Ovi (the Space, fal, Replicate, Ovi's
own app) and by the animatic that rehearses it.

Speech goes inside `<S>...<E>`, the sound atmosphere inside `<AUDCAP>...<ENDAUDCAP>` at the end
(the seed document's builder). When the format is broken the character tends to speak the whole
prompt (character-ai/Ovi issues #23, #42), so text a user writes may never open or close a tag:
the storyboard lint refuses them (it asks `reserved`), and `build` refuses them again for scenes
made in code.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import BadInputError

if TYPE_CHECKING:
    from ..scene import Scene

# Ovi's control tags, with the spacing, slashes and case the model would still read as a tag.
OVI_TAG = re.compile(r"<\s*/?\s*(?:s|e|audcap|endaudcap)\s*>", re.IGNORECASE)


class OviPrompt:
    """`{action} <S>{speech}<E>. <AUDCAP>{atmosphere}<ENDAUDCAP>.`; no <S> block without speech."""

    family = "Ovi"
    reserved = OVI_TAG

    def build(self, scene: Scene) -> str:
        """The prompt for scene; BadInputError if its text carries a tag."""
        for field, text in (
            ("action", scene.action),
            ("speech", scene.speech),
            ("atmosphere", scene.atmosphere),
        ):
            if text and OVI_TAG.search(text):
                raise BadInputError(f"{scene.label}.{field}: contains an Ovi tag: remove it")
        parts = [scene.action]
        if scene.speech:
            parts.append(f"<S>{scene.speech}<E>.")
        if scene.atmosphere:
            parts.append(f"<AUDCAP>{scene.atmosphere}<ENDAUDCAP>.")
        return " ".join(p for p in parts if p)


OVI_PROMPT = OviPrompt()
