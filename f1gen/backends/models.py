"""The models a backend serves, and the clip each one makes.

A backend serves a model, and the model sets the clip: its frame size (the character image is
prepared at it), its length, its prompt format. Ovi's checkpoints (character-ai/Ovi,
`ovi/ovi_fusion_engine.py`, NAME_TO_MODEL_SPECS_MAP) differ in area and length:

- `720x720_5s` (Ovi 1.0's checkpoint): 31 video latents (121 frames, 5 s) at a 720x720 area;
  its audio caption is `<AUDCAP>...<ENDAUDCAP>`. A 9:14 image comes out 576x896.
- `960x960_5s` and `960x960_10s` (Ovi 1.1): a 960x960 area, 31 or 61 latents (121 or 241
  frames, 5 or 10 s); the caption is `Audio: ...` at the end. A 9:16 image comes out 704x1280.

Image to video keeps the image's aspect at the model's area in multiples of 32
(`preprocess_image_tensor` in `ovi/utils/processing_utils.py`): `ovi_size` is that rule, and each
model's image is prepared at a size the rule keeps as it is, so the clip is that size too.
Ovi's app writes its files with MoviePy: one more frame (122, 242) and 44.1 kHz stereo sound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..clipspec import ClipSpec
from .ovi_prompt import OVI_11_PROMPT, OVI_PROMPT
from .traits import OVI_SPEC, PromptBuilder

MULTIPLE = 32  # Ovi's frame sides are multiples of 32


@dataclass(frozen=True)
class Model:
    """A model a backend serves: its name, the clips it makes and the prompts it reads."""

    name: str
    spec: ClipSpec
    prompt: PromptBuilder
    area: int = 0  # the pixels of its frames, which its GPU time grows with (0: not Ovi)

    @property
    def seconds(self) -> int:
        """How long its clips are, as people say it: 5 or 10."""
        return round(sum(self.spec.window) / 2)

    @property
    def clip_text(self) -> str:
        """Its clip in a few words: '704x1280, 10 s'."""
        return f"{self.spec.size_text}, {self.seconds} s"


def ovi_size(width: int, height: int, *, area: int) -> tuple[int, int]:
    """The frame size Ovi makes from a width x height image: its aspect at area pixels, sides in
    multiples of 32 (the candidate nearest the area, then nearest the aspect), as Ovi's
    `_best_hw_for_area` picks it (Python's rounding, half to even, like numpy's)."""
    ratio = width / float(height)
    units = max(1, area // (MULTIPLE * MULTIPLE))
    first = max(1, round(math.sqrt(units / max(ratio, 1e-8))))
    candidates = []
    for step in range(-3, 4):
        rows = max(1, first + step)
        candidates.append((rows * MULTIPLE, max(1, round(rows * ratio)) * MULTIPLE))
    scale = math.sqrt(area / (height * float(width)))
    candidates.append(
        (
            max(MULTIPLE, round(height * scale / MULTIPLE) * MULTIPLE),
            max(MULTIPLE, round(width * scale / MULTIPLE) * MULTIPLE),
        )
    )

    def score(hw: tuple[int, int]) -> tuple[int, float]:
        return abs(hw[0] * hw[1] - area), abs(hw[1] / hw[0] - ratio)

    best_h, best_w = min(candidates, key=score)
    return best_w, best_h


def _ovi(name: str, *, area_side: int, size: tuple[int, int], seconds: int) -> Model:
    """An Ovi checkpoint whose clips are size (prepared so that Ovi keeps it) and seconds long."""
    area = area_side * area_side
    assert ovi_size(*size, area=area) == size, f"{name}: Ovi would resize {size}"
    frames = seconds * 24 + 1  # 4 frames a latent after the first: 121, 241
    if size == OVI_SPEC.size and seconds == 5:
        spec = OVI_SPEC  # the clips every Ovi backend has always made: one value for them
    else:
        spec = ClipSpec(
            size=size,
            fps=24,
            frames=(frames, frames + 1),
            window=(seconds - 0.5, seconds + 0.5),
            sample_rates=(16_000, 44_100),
            channels=(1, 2),
        )
    prompt = OVI_PROMPT if area_side == 720 else OVI_11_PROMPT
    return Model(name, spec, prompt, area)


# Portrait: 9:14 at Ovi 1.0's area (576x896, as every Ovi backend makes today); 9:16 at Ovi 1.1's
# (704x1280, the platforms' own shape).
OVI_720_5S = _ovi("720x720_5s", area_side=720, size=(576, 896), seconds=5)
OVI_960_5S = _ovi("960x960_5s", area_side=960, size=(704, 1280), seconds=5)
OVI_960_10S = _ovi("960x960_10s", area_side=960, size=(704, 1280), seconds=10)
OVI_MODELS = (OVI_720_5S, OVI_960_5S, OVI_960_10S)
BASE_AREA = OVI_720_5S.area  # the area the seed's GPU timings were measured at


def gpu_scale(model: Model) -> float:
    """How many times a 5 s 720x720 clip's GPU time one of model's clips takes: assumed to grow
    with the pixels and the seconds made (attention grows faster: a floor). 1 for a model that
    is not Ovi's."""
    if not model.area:
        return 1.0
    return model.area / BASE_AREA * model.seconds / 5


def fitting(width: int, height: int, seconds: float, *, sent: tuple[int, int]) -> Model | None:
    """The Ovi model that makes a width x height clip of seconds from an image of size sent."""
    for model in OVI_MODELS:
        low, high = model.spec.window
        if ovi_size(*sent, area=model.area) == (width, height) and low <= seconds <= high:
            return model
    return None
