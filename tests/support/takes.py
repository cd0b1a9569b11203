"""Takes to check: the committed speech fixtures put into clips with a picture made here."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Literal

from f1gen.media import find_ffmpeg

SPEECH = Path(__file__).parent.parent / "data" / "speech"
SECONDS = 121 / 24
Picture = Literal["moving", "black", "still", "dark-start", "drift"]


def speech_fixture(name: str) -> Path:
    """One of the committed sound fixtures: line, silence, prompt, cutoff."""
    return SPEECH / f"{name}.ogg"


def fixture_scene() -> dict[str, str]:
    """The line and the prompt the fixtures were made for."""
    data: dict[str, str] = json.loads((SPEECH / "scene.json").read_text(encoding="utf-8"))
    return data


def make_take(
    path: Path,
    *,
    sound: Path | str | None,
    picture: Picture = "moving",
    size: tuple[int, int] = (288, 448),
    hue: int = 0,
) -> Path:
    """A 121-frame clip at 24 fps with AAC mono 16 kHz sound, as Ovi makes them.

    sound: a file, or an ffmpeg lavfi audio source (e.g. "anullsrc"), or None for no track.
    picture: a moving test pattern, black, a still, moving after one second of black, or a
    low-texture picture drifting slowly (soft bands, a 48th of a pixel a frame).
    hue: turns the pattern's colours by so many degrees, so that takes alike still differ.
    """
    w, h = size
    video = {
        "moving": f"testsrc2=s={w}x{h}:r=24",
        "black": f"color=c=black:s={w}x{h}:r=24",
        "still": f"testsrc2=s={w}x{h}:r=24,trim=end_frame=1,loop=loop=-1:size=1,setpts=N/24/TB",
        "dark-start": f"testsrc2=s={w}x{h}:r=24,drawbox=c=black:t=fill:enable='lt(t,1)'",
        "drift": f"color=c=gray:s={w}x{h}:r=24,format=gray,"
        "geq=lum='128+24*sin((X+N/48)/24)',format=yuv420p",
    }[picture] + (f",hue=h={hue}" if hue else "")
    args = [find_ffmpeg(None), "-v", "error", "-y", "-f", "lavfi", "-i", video]
    if isinstance(sound, Path):
        args += ["-i", str(sound)]
    elif isinstance(sound, str):
        args += ["-f", "lavfi", "-i", f"{sound}=sample_rate=16000:duration={SECONDS:.4f}"
                 if "=" not in sound else sound]  # fmt: skip
    maps = ["-map", "0:v"] + (
        ["-map", "1:a", "-c:a", "aac", "-ar", "16000", "-ac", "1"] if sound else []
    )
    args += [*maps, "-frames:v", "121", "-t", f"{SECONDS:.4f}", "-c:v", "libx264",
             "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)]  # fmt: skip
    subprocess.run(args, check=True)
    return path


def space_takes(folder: Path) -> list[Path]:
    """Ovi-like takes of the fixture scene for the Space stand-in to return in turn: the line
    said (over three pictures), the whole prompt read aloud (usable, but the checks prefer the
    line), and a silent take that fails the hard speech check."""
    folder.mkdir(parents=True, exist_ok=True)
    line, prompt, silence = (speech_fixture(n) for n in ("line", "prompt", "silence"))
    made = [
        ("line-1", line, 0),
        ("prompt", prompt, 120),
        ("line-2", line, 240),
        ("line-3", line, 60),
        ("silent", silence, 180),
        ("line-4", line, 300),
    ]
    return [
        make_take(folder / f"{name}.mp4", sound=sound, size=(576, 896), hue=hue)
        for name, sound, hue in made
    ]


VOICES = Path(__file__).parent.parent / "data" / "voices"


def voice_fixture(voice: str, line: int) -> Path:
    """One of the committed voice fixtures: voice m1, m7, f2 or f4 saying line 1-4."""
    return VOICES / f"{voice}-{line}.ogg"
