"""Delivery frames: the cut's frame size, how clips fill it, and where captions can be read.

Shorts, Reels and TikTok show 9:16 at 1080x1920 and lay their own buttons and text over the
picture: the bottom (title, caption, sound, call to action), a column of buttons on the right,
and the top (tabs, search). A caption burned there is hidden. Each preset keeps captions inside
its platform's safe zone, as margins of the 1080x1920 frame (README, "The final cut", cites the
guidance they come from); any other frame gets the portrait zone every preset fits inside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BadInputError
from .ffargs import FILLS, Fill


@dataclass(frozen=True)
class SafeZone:
    """Where burned captions may go: margins kept clear of a platform's buttons and text, as
    shares of the frame's height (top, bottom) and width (left, right)."""

    top: float
    bottom: float
    left: float
    right: float

    def box(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """The zone in pixels of a frame of size: left, top, right, bottom, on even pixels (so
        that an image of the zone lands on whole chroma samples of yuv420p)."""
        width, height = size
        return (
            round(width * self.left / 2) * 2,
            round(height * self.top / 2) * 2,
            round(width * (1 - self.right) / 2) * 2,
            round(height * (1 - self.bottom) / 2) * 2,
        )


def _margins(*, top: int, bottom: int, left: int, right: int) -> SafeZone:
    """A zone given in pixels of the 1080x1920 frame the platforms publish theirs for."""
    return SafeZone(top / 1920, bottom / 1920, left / 1080, right / 1080)


# The default: above the bottom fifth, 8% in from each side (a strip along the right edge for
# the buttons), a little off the top.
PORTRAIT = SafeZone(top=0.08, bottom=0.22, left=0.08, right=0.08)


@dataclass(frozen=True)
class Preset:
    """A platform's delivery frame: its size and its captions' safe zone."""

    name: str
    size: tuple[int, int]
    safe: SafeZone


PRESETS = {
    # YouTube Shorts: title, channel and subscribe over the bottom quarter, the like / dislike /
    # comment / share / remix column on the right.
    "shorts": Preset("shorts", (1080, 1920), _margins(top=240, bottom=480, left=60, right=190)),
    # Instagram Reels (Meta): 14% of the top, 35% of the bottom, 6% of the sides kept clear.
    "reels": Preset("reels", (1080, 1920), _margins(top=269, bottom=672, left=65, right=65)),
    # TikTok: caption, sound and username over the bottom, the profile / like / comment / save
    # / share column on the right, the Following / For You tabs at the top.
    "tiktok": Preset("tiktok", (1080, 1920), _margins(top=250, bottom=440, left=60, right=170)),
}


def preset(name: str) -> Preset:
    """The preset called name; BadInputError naming the choices if there is none."""
    if name not in PRESETS:
        raise BadInputError(f"--for {name!r}: use one of {', '.join(PRESETS)}")
    return PRESETS[name]


MAX_SIDE = 4096  # H.264 level 5.1 reaches 4096 wide; players and platforms take no more


def parse_frame(text: str) -> tuple[int, int]:
    """A frame size written WxH ('1080x1920'); BadInputError saying what fits."""
    found = re.fullmatch(r"\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*", text)
    if not found:
        raise BadInputError(f"--frame {text!r}: write it WIDTHxHEIGHT, e.g. --frame 1080x1920")
    width, height = int(found.group(1)), int(found.group(2))
    if width % 2 or height % 2:
        raise BadInputError(
            f"--frame {text!r}: H.264 (yuv420p) needs even numbers: "
            f"e.g. --frame {width + width % 2}x{height + height % 2}"
        )
    if not (16 <= width <= MAX_SIDE and 16 <= height <= MAX_SIDE):
        raise BadInputError(f"--frame {text!r}: each side must be 16-{MAX_SIDE} pixels")
    return width, height


@dataclass(frozen=True)
class Delivery:
    """What the cut is delivered as: its frame (None: the clips' own size), how clips fill it,
    and where its captions may go."""

    frame: tuple[int, int] | None
    fill: Fill
    safe: SafeZone


def delivery(*, frame: str | None, fill: str, platform: str | None) -> Delivery:
    """The delivery the stitch's options ask for (--frame, --fill, --for); BadInputError naming
    the option and what fits. --frame sets the size a preset would (its safe zone still holds)."""
    if fill not in FILLS:
        raise BadInputError(f"--fill {fill!r}: use one of {', '.join(FILLS)}")
    chosen = preset(platform) if platform is not None else None
    size = parse_frame(frame) if frame is not None else chosen.size if chosen else None
    return Delivery(size, fill, chosen.safe if chosen else PORTRAIT)
