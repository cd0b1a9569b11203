"""Character images become 576x896 PNGs: cover-cropped by default, padded on request, cached."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from f1gen import images
from f1gen.backends.traits import OVI_SPEC
from tests.support.images import draw_portrait


@pytest.mark.parametrize("size", [(720, 1080), (1920, 1080), (300, 300), (576, 896)])
def test_cover_fills_the_frame_without_bars(size: tuple[int, int], tmp_path: Path) -> None:
    source = draw_portrait(tmp_path / "in.png", size=size, color="red")

    prepared = images.prepare(source, fit="cover", size=OVI_SPEC.size, cache_dir=tmp_path / "cache")

    with Image.open(prepared) as image:
        assert (image.size, image.mode, image.format) == ((576, 896), "RGB", "PNG")
        assert image.getpixel((2, 2)) == (255, 0, 0) and image.getpixel((573, 893)) == (255, 0, 0)


def test_contain_pads_a_landscape_image_with_bars(tmp_path: Path) -> None:
    source = draw_portrait(tmp_path / "in.png", size=(1920, 1080), color="red")

    prepared = images.prepare(
        source, fit="contain", size=OVI_SPEC.size, cache_dir=tmp_path / "cache"
    )

    with Image.open(prepared) as image:
        assert image.size == (576, 896)
        assert image.getpixel((288, 5)) == images.PAD_COLOR  # bar above
        assert image.getpixel((2, 448)) == (255, 0, 0)  # picture across the full width


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    source = tmp_path / "rotated.jpg"
    image = Image.new("RGB", (1000, 500), "blue")
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display: a portrait photo stored sideways
    image.save(source, exif=exif)

    prepared = images.prepare(
        source, fit="contain", size=OVI_SPEC.size, cache_dir=tmp_path / "cache"
    )

    with Image.open(prepared) as result:
        assert result.getpixel((288, 5)) != images.PAD_COLOR  # portrait now: no bars top and bottom


def test_prepared_images_are_cached_by_content(tmp_path: Path) -> None:
    source = draw_portrait(tmp_path / "in.png")
    first = images.prepare(source, fit="cover", size=OVI_SPEC.size, cache_dir=tmp_path / "cache")
    stamp = first.stat().st_mtime_ns

    again = images.prepare(source, fit="cover", size=OVI_SPEC.size, cache_dir=tmp_path / "cache")
    draw_portrait(source, color="blue")
    changed = images.prepare(source, fit="cover", size=OVI_SPEC.size, cache_dir=tmp_path / "cache")

    assert again == first and first.stat().st_mtime_ns == stamp
    assert changed != first


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"GIF89a" + b"\0" * 40, "not a PNG, JPEG or WebP image: convert it"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 10, "not a PNG, JPEG or WebP image: convert it"),
    ],
)
def test_inspect_names_what_is_wrong(content: bytes, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)

    assert images.inspect(path) == problem


def test_inspect_refuses_a_truncated_png(tmp_path: Path) -> None:
    good = draw_portrait(tmp_path / "good.png")
    bad = tmp_path / "cut.png"
    bad.write_bytes(good.read_bytes()[:200])

    assert (images.inspect(bad) or "").startswith("does not decode")
    assert images.inspect(good) is None
