"""Checks of a take's picture: very dark frames, and frames that do not change (a still)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .model import Check

if TYPE_CHECKING:
    import numpy.typing as npt

SIZE = (144, 224)  # frames are analysed at this size, in grey
PICTURE_STEP = 2  # and one in so many (12 a second at Ovi's 24): enough to see black or a still
BLOCK = 8
DARK_MEAN, DARK_BRIGHT = 12, 30  # a dark frame: mean luma and 99th percentile below these
STILL = 0.75  # a frame is near-identical to another when no 8x8 block differs more than this
WHOLE = 0.9  # share of the take that makes it black or frozen (a hard failure)
RUN_WARN = 0.5  # seconds of dark frames worth a warning
FROZEN_WARN = 2.0  # seconds of frozen picture worth a warning


def _longest_run(flags: npt.NDArray[np.bool_]) -> int:
    best = run = 0
    for flag in flags.tolist():
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def _still_frames(frames: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """For each frame after the first, whether it is near-identical to the frame that began its
    still stretch: a slow drift (a low-texture picture under a slow zoom or pan) adds up against
    that frame and breaks the stretch, where frame-to-frame changes would each look too small;
    a real still's coding noise does not add up."""
    height, width = frames.shape[1:]
    rows, cols = height // BLOCK, width // BLOCK
    cropped = frames[:, : rows * BLOCK, : cols * BLOCK].astype(np.int16)
    anchor = cropped[0]
    still = np.zeros(len(frames) - 1, dtype=np.bool_)
    for index in range(1, len(cropped)):
        change = np.abs(cropped[index] - anchor).reshape(rows, BLOCK, cols, BLOCK).mean(axis=(1, 3))
        still[index - 1] = bool(change.max() < STILL)
        if not still[index - 1]:
            anchor = cropped[index]
    return still


def picture_checks(frames: npt.NDArray[np.uint8], fps: float, *, moves: bool = True) -> list[Check]:
    """A black picture and a frozen picture (hard when nearly the whole take), or parts of one.

    moves: False when the backend moves a still image itself (the animatic's zoom), whose
    stillness says nothing of the take: then only black is checked.
    """
    if len(frames) < 2:
        return [Check("picture", "fail", float(len(frames)), "frames", "no picture", hard=True)]
    flat = frames.reshape(len(frames), -1)
    dark = (flat.mean(axis=1) < DARK_MEAN) & (np.percentile(flat, 99, axis=1) < DARK_BRIGHT)
    dark_share = float(dark.mean())
    dark_run = _longest_run(dark) / fps
    shown = round(dark_share * 100)
    if dark_share >= WHOLE:
        black = Check("black", "fail", shown, "%", f"{shown}% of frames are black", hard=True)
    elif dark_run >= RUN_WARN or dark_share >= 0.1:
        black = Check(
            "black",
            "warn",
            shown,
            "%",
            f"{dark_run:.1f} s of black frames ({shown}% of frames)",
            hard=True,
        )
    else:
        black = Check("black", "pass", shown, "%", "no black stretch", hard=True)
    if not moves:
        return [black]
    still = _still_frames(frames)
    still_share = float(still.mean())
    still_run = _longest_run(still) / fps
    frozen_shown = round(still_share * 100)
    if still_share >= WHOLE:
        frozen = Check(
            "frozen", "fail", frozen_shown, "%", "the picture does not move (a still)", hard=True
        )
    elif still_run >= FROZEN_WARN:
        frozen = Check(
            "frozen",
            "warn",
            frozen_shown,
            "%",
            f"the picture stands still for {still_run:.1f} s",
            hard=True,
        )
    else:
        frozen = Check("frozen", "pass", frozen_shown, "%", "the picture moves", hard=True)
    return [black, frozen]
