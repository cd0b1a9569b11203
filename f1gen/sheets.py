"""Review art: a contact sheet of every scene's key frame, and a poster frame."""

from __future__ import annotations

import io
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .captions import font_path
from .files import write_atomic

THUMB = (144, 224)
COLUMNS = 6
LABEL = 28


def contact_sheet(frames: list[tuple[str, Image.Image]], path: Path) -> None:
    """A grid of (label, key frame) with their labels."""
    columns = min(COLUMNS, max(1, len(frames)))
    rows = math.ceil(len(frames) / columns)
    cell_w, cell_h = THUMB[0], THUMB[1] + LABEL
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), (20, 20, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(str(font_path()), size=13)
    for index, (label, image) in enumerate(frames):
        x, y = (index % columns) * cell_w, (index // columns) * cell_h
        frame = image.convert("RGB")
        frame.thumbnail(THUMB)
        sheet.paste(frame, (x + (THUMB[0] - frame.width) // 2, y))
        draw.text((x + cell_w / 2, y + THUMB[1] + LABEL / 2), label[:22], font=font, fill="white",
                  anchor="mm")  # fmt: skip
    _save(sheet, path, "PNG")


def poster(frame: Image.Image, path: Path) -> None:
    """One full-size frame as a JPEG poster."""
    _save(frame.convert("RGB"), path, "JPEG")


def _save(image: Image.Image, path: Path, kind: str) -> None:
    encoded = io.BytesIO()
    image.save(encoded, format=kind, quality=90)
    write_atomic(path, encoded.getvalue())
