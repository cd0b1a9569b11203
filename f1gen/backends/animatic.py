"""The offline animatic: clips in Ovi's form (its ClipSpec: 576x896, 24 fps, 121 frames, H.264 +
AAC 16 kHz mono) with no GPU.

Each clip is the prepared character image with a slow zoom, the speech as a caption, and a
sound track: speech from espeak-ng when it is on PATH, otherwise a syllable-like tone pattern,
over the atmosphere as soft noise. A team rehearses a storyboard's timing with it for free; its
clips are fingerprinted with the Ovi prompt they stand in for. A seed varies what a rehearsal
may vary (the zoom's depth and where it closes in, the voice's pace and pitch, the tones), so
takes and retries differ, the same seed making the same clip.
"""

from __future__ import annotations

import array
import math
import random
import textwrap
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import media
from ..errors import WriteError
from ..scene import rehearsal_voice
from . import Backend, BackendUpdate, ClipRequest, ClipTiming, Factory, Probe, Report
from .models import OVI_720_5S
from .ovi_prompt import OVI_PROMPT
from .traits import FREE_PRICE, OVI_SPEC

if TYPE_CHECKING:
    from ..scene import Scene
    from ..settings import Settings

SPEC = OVI_SPEC
FPS = SPEC.fps
FRAMES = SPEC.frames[0]  # Ovi's 5-second checkpoint as the model writes it
SAMPLE_RATE = SPEC.sample_rates[0]
SPEECH_START = 0.4
WORD_SECONDS = 0.3


@dataclass(frozen=True)
class Variation:
    """What a seed varies in a clip: the zoom's depth and aim, the voice's pace and pitch, and
    the tones' pitch (and the atmosphere's noise) when there is no voice."""

    zoom: float  # the last frame is this much closer (0.1: 10%)
    aim: tuple[float, float]  # where the zoom closes in, as a share of the margin (0.5: centre)
    pace: int  # espeak-ng words a minute
    pitch: int | None  # espeak-ng pitch, 0-99 (None: its default, 50)
    tone: int  # Hz of the first tone
    noise: int  # the atmosphere's noise seed


def variation(scene_id: str, seed: int | None) -> Variation:
    """The clip's variation for a seed; with none (the backend's own choice) the same clip as
    before seeds were used: a centred 10% zoom, the voice's pace 165 and its own pitch."""
    own = zlib.crc32(scene_id.encode())
    if seed is None:
        return Variation(0.1, (0.5, 0.5), 165, None, 160 + own % 80, own)
    rng = random.Random(seed)
    return Variation(
        zoom=round(rng.uniform(0.06, 0.16), 3),
        aim=(round(rng.uniform(0.25, 0.75), 3), round(rng.uniform(0.25, 0.75), 3)),
        pace=rng.randint(145, 185),
        pitch=rng.randint(35, 65),
        tone=rng.randint(140, 260),
        noise=rng.getrandbits(32),
    )


def voice_args(scene: Scene, look: Variation) -> list[str]:
    """espeak-ng's options for the scene's line (its voice, pace and pitch), before the text:
    a character's own voice and pitch (stable from its id), which the seed varies a little."""
    cast = rehearsal_voice(scene.character)  # ["-v", voice, "-p", pitch], or none
    args = [*cast[:2], "-s", str(look.pace)]
    if cast:
        shift = (look.pitch - 50) // 3 if look.pitch is not None else 0
        args += ["-p", str(min(99, max(0, int(cast[3]) + shift)))]
    elif look.pitch is not None:
        args += ["-p", str(look.pitch)]
    return args


class AnimaticBackend:
    """Renders rehearsal clips locally with ffmpeg."""

    name = "animatic"
    spec = SPEC

    def __init__(self, *, ffmpeg: str | None, scratch: Path) -> None:
        self._ffmpeg = ffmpeg
        self._scratch = scratch
        self._espeak = media.which("espeak-ng")

    @property
    def speaks(self) -> bool:
        """True when its lines are spoken (espeak-ng), not tones: only then can they be judged."""
        return self._espeak is not None

    @property
    def identity(self) -> str:
        """Animatic clips depend only on the scene, not on any endpoint."""
        return "animatic:1"

    @property
    def account(self) -> str:
        """Rendered here: no quota."""
        return "local"

    def prepare(self, report: Report) -> None:
        """Fail early when ffmpeg is missing."""
        media.find_ffmpeg(self._ffmpeg)

    def close(self) -> None:
        """Nothing to release."""

    def interrupt(self) -> None:
        """Nothing to do: a render takes about a second."""

    def generate(self, request: ClipRequest, dest: Path, report: Report) -> ClipTiming:
        """Render the scene's animatic clip to dest."""
        self._scratch.mkdir(parents=True, exist_ok=True)
        stem = dest.stem
        caption = self._scratch / f"{stem}.caption.png"
        atmosphere = self._scratch / f"{stem}.atmosphere.wav"
        speech = self._scratch / f"{stem}.speech.wav"
        scene = request.scene
        try:
            report(BackendUpdate("drawing caption", 0.1))
            _draw_caption(caption, scene.number, scene.id, scene.speech)
            look = variation(scene.id, request.seed)
            with_tones = scene.speech is not None and self._espeak is None
            _write_atmosphere(
                atmosphere, look=look, words=_words(scene.speech) if with_tones else 0
            )
            inputs: list[str | Path] = ["-i", request.image, "-i", caption, "-i", atmosphere]
            mix = "[2:a]anull[a]"
            if scene.speech and self._espeak:
                report(BackendUpdate("speaking", 0.2))
                media.run_tool(
                    [self._espeak, *voice_args(scene, look), "-w", str(speech), scene.speech],
                    what=f"{scene.label}: espeak-ng",
                )
                inputs += ["-i", speech]
                mix = (
                    f"[3:a]aresample={SAMPLE_RATE},adelay={int(SPEECH_START * 1000)}:all=1[s];"
                    "[2:a][s]amix=inputs=2:duration=first:normalize=0[a]"
                )
            report(BackendUpdate("rendering", 0.3))
            across, down = look.aim
            zoom = (
                "[0:v]scale=1152:1792,"
                f"zoompan=z='1+{look.zoom}*on/{FRAMES}'"
                f":x='(iw-iw/zoom)*{across}':y='(ih-ih/zoom)*{down}'"
                f":d={FRAMES}:s={SPEC.size_text}:fps={FPS}[z];"
                "[z][1:v]overlay=format=auto,format=yuv420p[v]"
            )
            media.run_ffmpeg(
                [
                    *inputs,
                    "-filter_complex",
                    f"{zoom};{mix}",
                    "-map",
                    "[v]",
                    "-map",
                    "[a]",
                    "-frames:v",
                    str(FRAMES),
                    "-t",
                    f"{FRAMES / FPS:.4f}",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-crf",
                    "23",
                    "-pix_fmt",
                    "yuv420p",
                    "-r",
                    str(FPS),
                    "-c:a",
                    "aac",
                    "-b:a",
                    "96k",
                    "-ar",
                    str(SAMPLE_RATE),
                    "-ac",
                    "1",
                    "-movflags",
                    "+faststart",
                    dest,
                ],
                ffmpeg=self._ffmpeg,
                what=f"{scene.label}: animatic render",
            )
            report(BackendUpdate("rendered", 1.0))
            return ClipTiming()
        except OSError as exc:
            raise WriteError(
                f"{self._scratch}: cannot write ({exc.strerror}): free disk space; the run is saved"
            ) from None
        finally:
            for scratch in (caption, atmosphere, speech):
                scratch.unlink(missing_ok=True)


def _words(speech: str | None) -> int:
    return len(speech.split()) if speech else 0


def _draw_caption(path: Path, number: int, scene_id: str, speech: str | None) -> None:
    from PIL import Image, ImageDraw, ImageFont

    from ..captions import font_path

    width, height = SPEC.size
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    # The shipped font, as everywhere: Pillow's built-in one draws accented letters as boxes.
    small = ImageFont.truetype(str(font_path()), size=22)
    draw.text(
        (24, 24),
        f"{number:02d} {scene_id}",
        font=small,
        fill="white",
        stroke_width=2,
        stroke_fill="black",
    )
    if speech:
        font = ImageFont.truetype(str(font_path()), size=34)
        lines = textwrap.wrap(speech, width=26)[:4]
        line_height = 44
        top = height - 250 - line_height * len(lines)
        box = (16, top - 14, width - 16, top + line_height * len(lines) + 10)
        draw.rounded_rectangle(box, radius=14, fill=(0, 0, 0, 150))
        for row, line in enumerate(lines):
            draw.text(
                (width / 2, top + row * line_height),
                line,
                font=font,
                fill="white",
                anchor="ma",
                stroke_width=2,
                stroke_fill="black",
            )
    layer.save(path, format="PNG")


def _write_atmosphere(path: Path, *, look: Variation, words: int) -> None:
    """Soft brown noise for the atmosphere, plus one tone burst per spoken word."""
    rng = random.Random(look.noise)
    total = math.ceil(FRAMES / FPS * SAMPLE_RATE)
    samples = array.array("h", bytes(2 * total))
    level = 0.0
    for i in range(total):
        level = 0.98 * level + 0.02 * rng.uniform(-1, 1)
        samples[i] = int(level * 0.9 * 32767 * 0.25)
    pitch = look.tone
    for word in range(words):
        start = SPEECH_START + word * WORD_SECONDS
        if start + WORD_SECONDS > FRAMES / FPS:
            break
        freq = pitch * (1.0, 1.12, 0.94, 1.2)[word % 4]
        first, count = int(start * SAMPLE_RATE), int(WORD_SECONDS * 0.75 * SAMPLE_RATE)
        for k in range(count):
            envelope = math.sin(math.pi * k / count)
            tone = 0.3 * envelope * math.sin(2 * math.pi * freq * k / SAMPLE_RATE)
            value = samples[first + k] + int(tone * 32767)
            samples[first + k] = max(-32768, min(32767, value))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())


def _build(settings: Settings, *, workdir: Path, parallel: int | None) -> list[Backend]:
    """One lane: renders are quick and use every core already."""
    return [AnimaticBackend(ffmpeg=settings.ffmpeg, scratch=workdir / "tmp")]


def _checks(settings: Settings, *, scratch: Path) -> list[Probe]:
    def renders() -> str:
        found = media.find_ffmpeg(settings.ffmpeg)
        voice = "espeak-ng" if media.which("espeak-ng") else "tones (espeak-ng is not on PATH)"
        return f"renders offline with {found}; voice: {voice}"

    return [Probe("animatic", renders)]


FACTORY = Factory(
    name="animatic",
    spec=SPEC,
    prompt=OVI_PROMPT,  # it rehearses Ovi: its clips carry the prompt Ovi would be sent
    price=FREE_PRICE,
    failures=lambda exc: None,  # it calls nothing outside: ffmpeg's failures are MediaError
    default_parallel=1,
    accepts_seed=True,  # a seed varies the zoom, the voice and the tones
    build=_build,
    checks=_checks,
    judged=lambda lane: bool(getattr(lane, "speaks", False)),
    moves=False,  # a still image under its zoom: a flat card stays still pixel for pixel
    runs_on="cpu",  # ffmpeg on this machine: its time is CPU time, never GPU time
    models=(OVI_720_5S,),
    captioned=True,  # its caption is drawn in: a burned one would stamp a second text over it
)
