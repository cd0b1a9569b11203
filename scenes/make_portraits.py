"""Draw the example storyboard's stylized placeholder portraits (fictional characters, no photos).

Run: python scenes/make_portraits.py   (writes scenes/images/*.png; the PNGs are committed too)
The images are 720x1080 (2:3) on purpose, so that f1gen's 9:14 cover-crop has work to do.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE = (720, 1080)
CHARACTERS = {
    # name: (team colour, accent, skin, hair, headwear)
    "luca-ferri": ((200, 16, 46), (255, 220, 0), (224, 178, 140), (40, 28, 20), "cap"),
    "nia-okafor": ((0, 150, 140), (250, 250, 250), (120, 80, 56), (20, 16, 14), "none"),
    "henrik-vale": ((20, 30, 70), (220, 40, 60), (236, 200, 170), (200, 200, 205), "headset"),
    "sam-ortiz": ((255, 128, 0), (30, 30, 30), (198, 140, 100), (60, 40, 25), "headset"),
    "priya-shah": ((90, 40, 140), (255, 200, 120), (170, 120, 85), (25, 18, 30), "none"),
    "dougal-reid": ((30, 90, 40), (240, 240, 220), (240, 205, 180), (170, 90, 40), "none"),
    "tomas-fan": ((200, 16, 46), (250, 250, 250), (210, 160, 120), (90, 60, 30), "cap"),
    "aiko-mechanic": ((10, 10, 10), (0, 200, 255), (230, 190, 160), (15, 15, 20), "helmet"),
}


def _gradient(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):
        t = y / (SIZE[1] - 1)
        draw.line(
            [(0, y), (SIZE[0], y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    return image


def draw(name: str) -> Image.Image:
    """One portrait: shoulders in team colours, a face, headwear, and a name plate."""
    team, accent, skin, hair, headwear = CHARACTERS[name]
    image = _gradient(tuple(min(255, c + 60) for c in team), (15, 15, 25))  # type: ignore[arg-type]
    d = ImageDraw.Draw(image)
    cx = SIZE[0] // 2
    d.rounded_rectangle((cx - 300, 760, cx + 300, 1200), radius=140, fill=team)
    d.polygon([(cx - 70, 760), (cx + 70, 760), (cx, 860)], fill=accent)
    d.rectangle((cx - 55, 640, cx + 55, 780), fill=skin)
    d.ellipse((cx - 170, 300, cx + 170, 700), fill=skin)
    d.chord((cx - 175, 285, cx + 175, 560), 180, 360, fill=hair)
    for ex in (cx - 70, cx + 70):
        d.ellipse((ex - 24, 470, ex + 24, 500), fill=(250, 250, 250))
        d.ellipse((ex - 11, 474, ex + 11, 496), fill=(30, 30, 30))
    d.line((cx, 500, cx - 12, 570, cx + 6, 575), fill=tuple(max(0, c - 50) for c in skin), width=5)  # type: ignore[arg-type]
    d.arc((cx - 65, 560, cx + 65, 640), 20, 160, fill=(120, 30, 40), width=8)
    if headwear == "cap":
        d.chord((cx - 180, 250, cx + 180, 520), 180, 360, fill=team)
        d.rounded_rectangle((cx - 10, 372, cx + 230, 402), radius=14, fill=team)
    elif headwear == "headset":
        d.arc((cx - 190, 290, cx + 190, 640), 190, 350, fill=(30, 30, 30), width=18)
        for ex in (cx - 190, cx + 150):
            d.rounded_rectangle((ex, 440, ex + 40, 540), radius=12, fill=(40, 40, 40))
    elif headwear == "helmet":
        d.chord((cx - 190, 250, cx + 190, 640), 160, 380, fill=accent)
        d.rectangle((cx - 150, 440, cx + 150, 470), fill=(20, 20, 20))
    font = ImageFont.load_default(size=40)
    label = name.replace("-", " ").title()
    d.rounded_rectangle((60, 920, SIZE[0] - 60, 990), radius=20, fill=(0, 0, 0))
    plate = accent if sum(accent) > 200 else (250, 250, 250)
    d.text((cx, 955), label, font=font, fill=plate, anchor="mm")
    return image


def main() -> None:
    """Write every portrait next to this script."""
    folder = Path(__file__).parent / "images"
    folder.mkdir(exist_ok=True)
    for name in CHARACTERS:
        draw(name).save(folder / f"{name}.png", optimize=True)


if __name__ == "__main__":
    main()
