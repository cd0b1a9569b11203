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
from ..scene import with_sound_description

if TYPE_CHECKING:
    from ..scene import Scene

# Ovi's control tags, with the spacing, slashes and case the model would still read as a tag.
OVI_TAG = re.compile(r"<\s*/?\s*(?:s|e|audcap|endaudcap)\s*>", re.IGNORECASE)


class OviPrompt:
    """`{action} <S>{speech}<E>. <AUDCAP>{voice}. {atmosphere}<ENDAUDCAP>.`; no <S> block
    without speech, and no voice (the character's) where nothing is said."""

    family = "Ovi"
    reserved = OVI_TAG

    def build(self, scene: Scene) -> str:
        """The prompt for scene; BadInputError if its text carries a tag."""
        voice = scene.character.voice if scene.character and scene.speech else None
        for field, text in (
            ("action", scene.action),
            ("speech", scene.speech),
            ("atmosphere", scene.atmosphere),
            ("character's voice", voice),
        ):
            if text and OVI_TAG.search(text):
                raise BadInputError(f"{scene.label}.{field}: contains an Ovi tag: remove it")
        parts = [scene.action]
        if scene.speech:
            parts.append(f"<S>{scene.speech}<E>.")
        # The character's voice leads the audio caption, as in Ovi's own example prompts
        # ("Clear, resonant female speech, ..."): the same words in each of its scenes.
        caption = with_sound_description(voice, scene.atmosphere)
        if caption:
            parts.append(f"<AUDCAP>{caption}<ENDAUDCAP>.")
        return " ".join(p for p in parts if p)


OVI_PROMPT = OviPrompt()
