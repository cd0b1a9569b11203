"""Make the voice fixtures once (needs espeak-ng and ffmpeg); the tests and bench/voice.py only
read the results.

Four espeak-ng voices (two male, two female) each say six different lines,
at a pace that changes from line to line, over a soft brown-noise bed: Ovi-shaped sound tracks
(5.042 s, mono) as Opus at 24 kbit/s (about 12 kB each). Named `<voice>-<line>.ogg`.

Run from the repository root: python tests/data/voices/make.py
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from f1gen.media import find_ffmpeg

HERE = Path(__file__).parent
SECONDS = 121 / 24  # Ovi's 5-second clip: 121 frames at 24 fps
# en+m3 is left out: to the encoder (and nearly to the ear) it is en+m1 a little higher.
VOICES = {"m1": "en+m1", "m7": "en+m7", "f2": "en+f2", "f4": "en+f4"}
LINES = (
    "Yes! Simply lovely! Another win for the whole team today!",
    "The tyres were gone after twenty laps, we had to box early.",
    "I could see him in my mirrors the whole race, it was very tight.",
    "Honestly, the car felt fantastic from the very first lap.",
    "Safety car! The whole race just reset, five laps to go.",
    "Twenty years I have waited for this moment, thank you all.",
)
SPEEDS = (165, 150, 180, 160, 175, 155)  # words per minute, line by line


def main() -> None:
    """Write every fixture."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("espeak-ng is needed to make the fixtures: apt-get install espeak-ng")
    ffmpeg = find_ffmpeg(None)
    bed = f"anoisesrc=color=brown:amplitude=0.05:seed=7:sample_rate=16000:duration={SECONDS:.4f}"
    with tempfile.TemporaryDirectory() as scratch:
        for name, voice in VOICES.items():
            for number, (line, speed) in enumerate(zip(LINES, SPEEDS, strict=True), start=1):
                said = Path(scratch) / f"{name}-{number}.wav"
                subprocess.run(
                    [espeak, "-v", voice, "-s", str(speed), "-w", str(said), line], check=True
                )
                out = HERE / f"{name}-{number}.ogg"
                mix = (
                    "[1:a]aresample=16000,adelay=300:all=1[s];"
                    "[0:a][s]amix=inputs=2:duration=first:normalize=0[a]"
                )
                subprocess.run(
                    [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", bed, "-i", str(said),
                     "-filter_complex", mix, "-map", "[a]", "-t", f"{SECONDS:.4f}", "-ac", "1",
                     "-c:a", "libopus", "-b:a", "24k", "-map_metadata", "-1", str(out)],
                    check=True,
                )  # fmt: skip
                print(f"{out.name}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
