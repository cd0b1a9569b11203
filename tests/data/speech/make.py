"""Make the speech fixtures once (needs espeak-ng and ffmpeg); the tests only read the results.

Each fixture is an Ovi-shaped sound track (5.042 s, mono) over a soft brown-noise bed, as Opus
at 16 kbit/s (a few kB):

- line.ogg     the line, said once from 0.4 s: what a good take sounds like
- silence.ogg  the bed alone: the character says nothing
- prompt.ogg   the whole prompt read aloud, fast, running to the end (Ovi's broken-prompt failure)
- cutoff.ogg   the line starting late, cut off by the end of the clip

Run from the repository root: python tests/data/speech/make.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from f1gen.media import find_ffmpeg

HERE = Path(__file__).parent
SECONDS = 121 / 24  # Ovi's 5-second clip: 121 frames at 24 fps
LINE = "Yes! Simply lovely! Another win!"
ACTION = "A team principal celebrating victory, pumping his fist in the air. He shouts"
ATMOSPHERE = "Crowd cheering loudly, engines revving in the background"
PROMPT = f"{ACTION} <S>{LINE}<E>. <AUDCAP>{ATMOSPHERE}<ENDAUDCAP>."
SPOKEN_PROMPT = f"{ACTION} {LINE} Audio: {ATMOSPHERE}."
# name: (text to say or None, words per minute, where the speech starts in seconds)
FIXTURES = {
    "line": (LINE, 165, 0.4),
    "silence": (None, 0, 0.0),
    "prompt": (SPOKEN_PROMPT, 260, 0.2),
    "cutoff": (LINE, 165, 3.6),
}


def main() -> None:
    """Write every fixture and scene.json (the line and prompt they were made for)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("espeak-ng is needed to make the fixtures: apt-get install espeak-ng")
    ffmpeg = find_ffmpeg(None)
    bed = f"anoisesrc=color=brown:amplitude=0.08:seed=7:sample_rate=16000:duration={SECONDS:.4f}"
    with tempfile.TemporaryDirectory() as scratch:
        for name, (text, speed, start) in FIXTURES.items():
            out = HERE / f"{name}.ogg"
            args = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", bed]
            mix = "[0:a]anull[a]"
            if text:
                voice = Path(scratch) / f"{name}.wav"
                subprocess.run([espeak, "-s", str(speed), "-w", str(voice), text], check=True)
                args += ["-i", str(voice)]
                mix = (
                    f"[1:a]aresample=16000,adelay={int(start * 1000)}:all=1[s];"
                    "[0:a][s]amix=inputs=2:duration=first:normalize=0[a]"
                )
            args += ["-filter_complex", mix, "-map", "[a]", "-t", f"{SECONDS:.4f}", "-ac", "1",
                     "-c:a", "libopus", "-b:a", "16k", "-map_metadata", "-1", str(out)]  # fmt: skip
            subprocess.run(args, check=True)
            print(f"{out.name}: {out.stat().st_size} bytes")
    scene = {"line": LINE, "action": ACTION, "atmosphere": ATMOSPHERE, "prompt": PROMPT,
             "seconds": SECONDS}  # fmt: skip
    (HERE / "scene.json").write_text(json.dumps(scene, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
