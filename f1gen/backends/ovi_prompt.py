"""Ovi's prompt formats, shared by every backend that runs Ovi (the Space, fal, Replicate, Ovi's
own app) and by the animatic that rehearses it.

Speech goes inside `<S>...<E>`, the sound atmosphere inside `<AUDCAP>...<ENDAUDCAP>` at the end
(the seed document's builder; Ovi 1.0's `720x720_5s`), or after `Audio:` at the end for Ovi 1.1's
checkpoints (`960x960_5s`, `960x960_10s`): Ovi's engine rewrites one form into the other per
checkpoint, a hosted copy may not (models.py says which model reads which). When the format is
broken the character tends to speak the whole prompt (character-ai/Ovi issues #23, #42), so text
a user writes may never open or close a tag: the storyboard lint refuses them (it asks
`reserved`), and `build` refuses them again for scenes made in code.
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
# Ovi 1.1's caption marker: its engine turns everything after an `Audio:` into the sound caption
# (and, for 720x720_5s, into <AUDCAP>), so user text may not carry one either.
OVI_11_TAG = re.compile(OVI_TAG.pattern + r"|\b(?-i:Audio)\s*:", re.IGNORECASE)


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
            if text and self.reserved.search(text):
                raise BadInputError(
                    f"{scene.label}.{field}: contains an {self.family} tag: remove it"
                )
        parts = [scene.action]
        if scene.speech:
            parts.append(f"<S>{scene.speech}<E>.")
        # The character's voice leads the audio caption, as in Ovi's own example prompts
        # ("Clear, resonant female speech, ..."): the same words in each of its scenes.
        caption = with_sound_description(voice, scene.atmosphere)
        if caption:
            parts.append(self.caption(caption))
        return " ".join(p for p in parts if p)

    def caption(self, atmosphere: str) -> str:
        """The sound caption, at the end of the prompt."""
        return f"<AUDCAP>{atmosphere}<ENDAUDCAP>."


class Ovi11Prompt(OviPrompt):
    """`{action} <S>{speech}<E>. Audio: {atmosphere}.`: what Ovi's engine makes of the first
    format for its 1.1 checkpoints."""

    family = "Ovi 1.1"
    reserved = OVI_11_TAG

    def caption(self, atmosphere: str) -> str:
        """The sound caption, after `Audio:` at the end."""
        return f"Audio: {atmosphere}."


OVI_PROMPT = OviPrompt()
OVI_11_PROMPT = Ovi11Prompt()
