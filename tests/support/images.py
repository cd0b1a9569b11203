"""Small real images for storyboards under test."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def draw_portrait(path: Path, size: tuple[int, int] = (720, 1080), color: str = "red") -> Path:
    """A small real image with a centred face-like disc."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, color)
    image.paste((240, 200, 170), (size[0] // 4, size[1] // 4, 3 * size[0] // 4, size[1] // 2))
    image.save(path)
    return path
