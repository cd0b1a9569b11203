"""Captions from the storyboard's speech: SRT and VTT timed to each clip's slot, and burn-in art.

The text is known before anything is generated, so there is nothing to transcribe: each cue is
the scene's speech, shown for exactly the clip's slot in the cut.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
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
    spoken: bool = False  # word by word: the last word is the one being said (drawn highlighted)


SENTENCE_END = (".", "!", "?", "…")


def word_cues(words: Sequence[tuple[str, float]], *, start: float, end: float) -> list[Cue]:
    """Captions of a line said word by word: words (as written, with when each is said, in
    seconds of the cut), each shown from when it is said until the next, the last until end,
    beside the words said before it in its phrase (a phrase ends at a sentence's end or when it
    would fill a caption line). Nothing is shown outside start and end."""
    found: list[Cue] = []
    phrase: list[str] = []
    for index, (word, at) in enumerate(words):
        if phrase and (
            phrase[-1].endswith(SENTENCE_END) or len(" ".join([*phrase, word])) > LINE_CHARS
        ):
            phrase = []
        phrase.append(word)
        until = words[index + 1][1] if index + 1 < len(words) else end
        shown = max(at, start), min(until, end)
        if shown[1] - shown[0] > 0.001:
            found.append(Cue(shown[0], shown[1], " ".join(phrase), spoken=True))
    return found


def _stamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


# Speech that looks like a tag (<font color="red">) is one unit: a wrap inside it would show
# half a tag on each line.
_TAG_LIKE = re.compile(r"<[^<>\n]*>")
_HELD = "\x00"  # stands for a space that must not be wrapped at, while wrapping


def _lines(text: str) -> str:
    """Text wrapped to LINE_CHARS between words: never inside a word (a longer one stands on its
    own line) nor inside what looks like a tag."""
    held = _TAG_LIKE.sub(lambda m: m.group(0).replace(" ", _HELD), text)
    wrapped = textwrap.wrap(held, width=LINE_CHARS, break_long_words=False, break_on_hyphens=False)
    return "\n".join(wrapped).replace(_HELD, " ") or text


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


HIGHLIGHT = (255, 214, 0)  # the word being said, in word-by-word captions
MAX_LINES = 5


def portrait_zone(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The default caption zone of a frame of size (left, top, right, bottom): above the
    platforms' bottom fifth, 8% in from each side."""
    width, height = size
    return round(width * 0.08), round(height * 0.08), round(width * 0.92), round(height * 0.78)


def draw_caption(
    text: str,
    path: Path,
    *,
    size: tuple[int, int],
    zone: tuple[int, int, int, int] | None = None,
    spoken: bool = False,
    cropped: bool = False,
) -> Path:
    """A transparent PNG of size with text wrapped inside zone (left, top, right, bottom in
    pixels: where the platforms' buttons and text leave the picture readable), its box resting
    on the zone's bottom, centred between its sides. spoken: the last word is highlighted (the
    word being said, in word-by-word captions). cropped: the PNG holds the zone alone (to be
    laid at its top left corner), not the whole frame.
    """
    from PIL import Image, ImageDraw, ImageFont  # only a burned-in caption needs PIL

    width, height = size
    left, top_edge, right, bottom_edge = zone or portrait_zone(size)
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.truetype(str(font_path()), size=max(12, round(min(width, height) * 0.065)))
    pad = round(font.size * 0.4)
    lines = _fit(draw, text, font, max_width=right - left - 2 * pad)
    # the first lines of a long caption; the newest ones of one said word by word
    lines = lines[-MAX_LINES:] if spoken else lines[:MAX_LINES]
    spacing = round(font.size * 0.3)
    boxes = [draw.textbbox((0, 0), line, font=font) for line in lines]
    line_height = max(b[3] - b[1] for b in boxes) + spacing
    block = line_height * len(lines)
    bottom = bottom_edge - pad / 2
    top = max(bottom - block, top_edge + pad)
    centre = (left + right) / 2
    widest = max(b[2] - b[0] for b in boxes)
    draw.rounded_rectangle(
        (centre - widest / 2 - pad, top - pad, centre + widest / 2 + pad, bottom + pad / 2),
        radius=pad,
        fill=(0, 0, 0, 160),
    )
    for row, line in enumerate(lines):
        y = top + row * line_height
        if not (spoken and row == len(lines) - 1):
            draw.text((centre, y), line, font=font, fill="white", anchor="ma")
            continue
        # the line drawn in two parts, so that its last word can take its own colour
        said, _, word = line.rpartition(" ")
        x = centre - draw.textlength(line, font=font) / 2
        if said:
            draw.text((x, y), said + " ", font=font, fill="white", anchor="la")
            x += draw.textlength(said + " ", font=font)
        draw.text((x, y), word, font=font, fill=HIGHLIGHT, anchor="la")
    path.parent.mkdir(parents=True, exist_ok=True)
    if cropped:
        layer = layer.crop((left, top_edge, right, bottom_edge))
    layer.save(path, format="PNG", compress_level=1)  # read once, by ffmpeg: speed over size
    return path


def _fit(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, *, max_width: float
) -> list[str]:
    """Greedy word wrap by measured width; a word wider than the line is broken between its
    letters, so that nothing runs past the caption's width. The last lines are kept."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        for part in _pieces(draw, word, font, max_width=max_width):
            trial = f"{current} {part}".strip()
            if current and draw.textlength(trial, font=font) > max_width:
                lines.append(current)
                current = part
            else:
                current = trial
    if current:
        lines.append(current)
    return lines


def _pieces(
    draw: ImageDraw.ImageDraw, word: str, font: ImageFont.FreeTypeFont, *, max_width: float
) -> list[str]:
    """A word as pieces that each fit max_width (the word itself when it fits)."""
    pieces: list[str] = []
    current = ""
    for letter in word:
        if current and draw.textlength(current + letter, font=font) > max_width:
            pieces.append(current)
            current = letter
        else:
            current += letter
    return [*pieces, current] if current else pieces
