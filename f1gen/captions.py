"""Captions from the storyboard's speech: SRT and VTT timed to each clip's slot, and burn-in art.

The text is known before anything is generated, so there is nothing to transcribe: each cue is
the scene's speech, shown for exactly the clip's slot in the cut.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

FONT_FILE = "Roboto-Bold.ttf"
LINE_CHARS = 32


@dataclass(frozen=True)
class Cue:
    """One caption: from start to end (seconds in the cut), the text."""

    start: float
    end: float
    text: str


def _stamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _lines(text: str) -> str:
    return "\n".join(textwrap.wrap(text, width=LINE_CHARS, break_on_hyphens=False)) or text


# SubRip has no escapes, but players read <b>, <i>, <font ...> in it as markup: an invisible
# word joiner after the "<" keeps the speech's own text as text.
SRT_TAG = re.compile(r"<(?=\s*/?\s*[A-Za-z])")
WORD_JOINER = "\u2060"


def srt_text(text: str) -> str:
    """Speech as SubRip shows it, never as markup."""
    return SRT_TAG.sub("<" + WORD_JOINER, text)


def vtt_text(text: str) -> str:
    """Speech as WebVTT shows it: &, < and > escaped (they open entities and tags)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_srt(cues: list[Cue]) -> str:
    """SubRip text."""
    blocks = [
        f"{n}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{srt_text(_lines(c.text))}\n"
        for n, c in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(cues: list[Cue]) -> str:
    """WebVTT text."""
    blocks = [
        f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{vtt_text(_lines(c.text))}\n"
        for c in cues
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def font_path() -> Path:
    """The caption font shipped with f1gen (Roboto Bold, Apache 2.0)."""
    return Path(str(resources.files("f1gen") / "fonts" / FONT_FILE))


def draw_caption(text: str, path: Path, *, size: tuple[int, int]) -> Path:
    """A transparent PNG of size with text wrapped to the width, inside the portrait safe area.

    Platforms put their own buttons and captions over the bottom fifth and the right edge, so the
    text sits above that, centred, at most 84% of the width.
    """
    from PIL import Image, ImageDraw, ImageFont  # only a burned-in caption needs PIL

    width, height = size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.truetype(str(font_path()), size=max(12, round(width * 0.065)))
    lines = _fit(draw, text, font, max_width=width * 0.84)
    spacing = round(font.size * 0.3)
    boxes = [draw.textbbox((0, 0), line, font=font) for line in lines]
    line_height = max(b[3] - b[1] for b in boxes) + spacing
    block = line_height * len(lines)
    bottom = height * 0.78  # clear of the platforms' bottom fifth
    top = bottom - block
    pad = round(font.size * 0.4)
    widest = max(b[2] - b[0] for b in boxes)
    draw.rounded_rectangle(
        ((width - widest) / 2 - pad, top - pad, (width + widest) / 2 + pad, bottom + pad / 2),
        radius=pad,
        fill=(0, 0, 0, 160),
    )
    for row, line in enumerate(lines):
        draw.text((width / 2, top + row * line_height), line, font=font, fill="white", anchor="ma")
    path.parent.mkdir(parents=True, exist_ok=True)
    layer.save(path, format="PNG")
    return path


def _fit(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, *, max_width: float
) -> list[str]:
    """Greedy word wrap by measured width (a word longer than the line stands alone)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and draw.textlength(trial, font=font) > max_width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines[:5]
