"""The final cut, in three layers, each depending only on the one below it:

- publish: where the cut and its side files go, what they must never replace, the side files
  (captions, contact sheet, poster, manifest), fetching and uploading: `stitch()`;
- cut: the clips laid out, their sound and pictures joined in sync, captions drawn, loudness;
- mix: the sound as a mix (seams, one room tone, music and beds), envelopes from known speech;
- ffargs: the ffmpeg arguments, ffconcat lists and filter graphs, built as text; beside it,
  frames: the delivery frames (--frame, --fill, --for) and the captions' safe zones.

What the rest of f1gen uses is re-exported here.
"""

from __future__ import annotations

from .cut import CutOptions, Source, StitchResult, join
from .ffargs import Loudness, Shape
from .frames import PRESETS, Delivery, delivery
from .publish import Outputs, outputs, stitch

__all__ = [
    "PRESETS",
    "CutOptions",
    "Delivery",
    "Loudness",
    "Outputs",
    "Shape",
    "Source",
    "StitchResult",
    "delivery",
    "join",
    "outputs",
    "stitch",
]
