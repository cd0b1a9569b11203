"""Review art: a contact sheet of every scene's key frame, and a poster frame."""

from __future__ import annotations

import io
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from . import media
from .captions import font_path
from .files import write_atomic

THUMB = (144, 224)
COLUMNS = 6
LABEL = 28


def contact_sheet(
    frames: list[tuple[str, Path, tuple[float, float]]], path: Path
) -> tuple[int, int]:
    """A grid of (label, clip, part used) key frames with their labels; returns (columns, rows)."""
    columns = min(COLUMNS, max(1, len(frames)))
    rows = math.ceil(len(frames) / columns)
    cell_w, cell_h = THUMB[0], THUMB[1] + LABEL
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), (20, 20, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(str(font_path()), size=13)
    for index, (label, clip, part) in enumerate(frames):
        x, y = (index % columns) * cell_w, (index // columns) * cell_h
        frame = media.frame_at(clip, part).convert("RGB")
        frame.thumbnail(THUMB)
        sheet.paste(frame, (x + (THUMB[0] - frame.width) // 2, y))
        draw.text((x + cell_w / 2, y + THUMB[1] + LABEL / 2), label[:22], font=font, fill="white",
                  anchor="mm")  # fmt: skip
    _save(sheet, path, "PNG")
    return columns, rows


def poster(clip: Path, part: tuple[float, float], path: Path) -> None:
    """One full-size frame of the part used as a JPEG poster."""
    _save(media.frame_at(clip, part).convert("RGB"), path, "JPEG")


def _save(image: Image.Image, path: Path, kind: str) -> None:
    encoded = io.BytesIO()
    image.save(encoded, format=kind, quality=90)
    write_atomic(path, encoded.getvalue())
