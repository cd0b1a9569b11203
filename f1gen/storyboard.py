"""Storyboard: YAML in, validated frozen scenes out, with every problem named by place."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import images, soundtrack
from .characters import Character, VoiceCheck, check_characters, scene_character
from .errors import BadInputError, MediaError, StoryboardError
from .scene import Ambience, Fit, Music, Scene, Storyboard

MAX_FILE_BYTES = 1024 * 1024
MAX_SCENES = 500
MIN_STEPS, MAX_STEPS = 10, 100
MAX_SEED = 2**31 - 1  # every backend that takes a seed takes a 31-bit one
MAX_TAKES = 10  # takes of one scene: each is a paid or quota-spending clip
SPEECH_WORDS_PER_CLIP = 14
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Defaults(_Model):
    sample_steps: int | None = None
    takes: int | None = None
    duration: int | None = None
    atmosphere: str | None = None
    fit: Fit | None = None


class _Character(_Model):
    name: str | None = None
    image: str | None = None
    voice: str | None = None
    voice_ref: str | None = None
    voice_check: VoiceCheck | None = None


class _Scene(_Model):
    id: str | None = None
    character: str | None = None
    image: str | None = None
    footage: str | None = None
    trim: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    action: str | None = None
    speech: str | None = None
    atmosphere: str | None = None
    sample_steps: int | None = None
    fit: Fit | None = None
    seed: int | None = None
    takes: int | None = None
    duration: int | None = None
    music: bool | str | None = None  # off (YAML reads a bare off as false): silence over it
    ambience: _Ambience | bool | str | None = None  # a bed from here on, or off


class _Music(_Model):
    file: str
    volume: float = -18.0
    duck: Annotated[float, Field(ge=0, le=60)] = 12.0
    fade_in: Annotated[float, Field(ge=0, le=60)] = 1.0
    fade_out: Annotated[float, Field(ge=0, le=60)] = 2.0
    start: Annotated[float, Field(ge=0)] = 0.0


class _Ambience(_Model):
    file: str
    volume: float = -20.0
    duck: Annotated[float, Field(ge=0, le=60)] = 6.0


class _Storyboard(_Model):
    title: str
    defaults: _Defaults = _Defaults()
    music: _Music | None = None
    ambience: _Ambience | str | None = None
    seams: bool = True
    characters: dict[str, _Character] = Field(default_factory=dict)
    scenes: Annotated[list[_Scene], Field(min_length=1, max_length=MAX_SCENES)]


@dataclass(frozen=True)
class Loaded:
    """A storyboard and the warnings its lint found."""

    storyboard: Storyboard
    warnings: tuple[str, ...]


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (no billion laughs) and duplicate keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                None, None, "aliases (*name) are not allowed in a storyboard", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.MarkedYAMLError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            if isinstance(key, str):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> Any:
    try:
        size = path.stat().st_size
    except (OSError, ValueError):
        raise BadInputError(f"{path}: no such storyboard file: check the path") from None
    if not path.is_file():
        raise BadInputError(f"{path}: not a file: give the path of a storyboard .yaml")
    if size > MAX_FILE_BYTES:
        raise BadInputError(f"{path}: {size} bytes is too large for a storyboard (limit 1 MiB)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(
            f"{path}: not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise BadInputError(f"{path}: {where}{problem}: fix the YAML") from None
    except yaml.YAMLError as exc:
        raise BadInputError(f"{path}: invalid YAML ({_one_line(str(exc))}): fix the YAML") from None
    except RecursionError:
        raise BadInputError(f"{path}: nesting is too deep for a storyboard") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _place(loc: tuple[int | str, ...], raw: dict[str, Any]) -> str:
    """Render a pydantic location as scenes[3] (pit-wall).speech, numbering scenes from 1."""
    parts: list[str] = []
    items = list(loc)
    if len(items) >= 2 and items[0] == "scenes" and isinstance(items[1], int):
        number = items[1] + 1
        scene_id = None
        scenes = raw.get("scenes")
        if (
            isinstance(scenes, list)
            and items[1] < len(scenes)
            and isinstance(scenes[items[1]], dict)
        ):
            candidate = scenes[items[1]].get("id")
            scene_id = candidate if isinstance(candidate, str) else None
        parts.append(f"scenes[{number}] ({scene_id or f'scene-{number:02d}'})")
        items = items[2:]
    for item in items:
        parts.append(f"[{item}]" if isinstance(item, int) else f".{item}" if parts else str(item))
    return "".join(parts) or "storyboard"


def _pydantic_problems(error: ValidationError, raw: dict[str, Any]) -> list[str]:
    problems = []
    for err in error.errors():
        place = _place(tuple(err["loc"]), raw)
        kind = err["type"]
        if kind == "extra_forbidden":
            text = "unknown field: remove it or check its spelling"
        elif kind == "missing":
            text = "is required"
        elif kind == "literal_error" and place.endswith("voice_check"):
            text = "must be 'soft' or 'strict'"
        elif kind == "literal_error":
            text = "must be 'cover' or 'contain'"
        elif kind in ("too_short", "too_long") and place.endswith("trim"):
            text = "must be two numbers [start, end] in seconds"
        elif kind == "too_short":
            text = "needs at least one scene"
        elif kind == "too_long":
            text = f"has too many scenes (limit {MAX_SCENES})"
        else:
            text = _one_line(err["msg"]).replace("Input should be", "should be")
        problems.append(f"{place}: {text}")
    return problems


# Embeddings, overrides and isolates: they make text read in an order other than it is shown
# (a line that says one thing in the storyboard and another to the model, or on the page).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters that draw nothing, beside the format, separator and combining characters.
_BLANK_LETTERS = frozenset("\u115f\u1160\u2800\u3164\uffa0")


def _invisible(char: str) -> bool:
    return char in _BLANK_LETTERS or unicodedata.category(char)[0] in "CZM"


def _check_text(place: str, value: str | None, problems: list[str]) -> str | None:
    if value is None:
        return None
    bad = next((c for c in value if unicodedata.category(c) == "Cc" and c not in "\t\n\r"), None)
    if bad is not None:
        problems.append(f"{place}: contains the control character U+{ord(bad):04X}: remove it")
        return None
    bidi = next((c for c in value if c in _BIDI), None)
    if bidi is not None:
        problems.append(
            f"{place}: contains the bidi control U+{ord(bidi):04X}, which reorders the text as "
            "shown: remove it"
        )
        return None
    text = _one_line(value)
    if not text:
        problems.append(f"{place}: is empty: write the text or remove the field")
        return None
    if all(_invisible(c) for c in text):
        first = next(c for c in text if not c.isspace())
        problems.append(
            f"{place}: has only invisible characters (U+{ord(first):04X}...): write the text or "
            "remove the field"
        )
        return None
    # Every backend's prompt format says which tokens control it (Ovi's <S>...<E> tags): user
    # text that opens or closes one makes the character speak the prompt.
    from .backends import reserved_tokens

    for family, reserved in reserved_tokens():
        tag = reserved.search(text)
        if tag:
            problems.append(
                f"{place}: contains the {family} tag {tag.group(0)!r}, which breaks the prompt: "
                "remove it (f1gen adds the tags)"
            )
            return None
    return text


def _durations() -> list[int]:
    """The clip lengths some registered backend's model makes, in seconds: 5, 10."""
    from .backends import factories

    return sorted({model.seconds for made in factories() for model in made.served})


def _check_duration(place: str, value: int | None, problems: list[str]) -> None:
    known = _durations()
    if value is not None and value not in known:
        problems.append(
            f"{place}: {value} s is not a clip length any model makes: use "
            f"{' or '.join(map(str, known))}"
        )


def _check_length(
    label: str,
    raw: _Scene,
    speech: str | None,
    *,
    default: int | None,
    problems: list[str],
    warnings: list[str],
) -> None:
    """A scene's duration (a length some model makes, on a generated scene), and whether its
    line fits the clip: about 14 words in 5 seconds."""
    _check_duration(f"{label}.duration", raw.duration, problems)
    if raw.duration is not None and raw.footage is not None:
        problems.append(f"{label}.duration: only generated scenes take a duration: use trim")
    seconds = raw.duration or default or 5
    words = SPEECH_WORDS_PER_CLIP * seconds // 5
    if speech and len(speech.split()) > words:
        warnings.append(
            f"{label}.speech: {len(speech.split())} words may not fit {seconds} seconds "
            f"(about {words}): shorten it"
        )


def _ideal_sizes() -> str:
    """The frame sizes backends make (images are prepared at them): '576x896'."""
    from .backends import factories

    return " or ".join(sorted({made.spec.size_text for made in factories()}))


def _resolve(base: Path, value: str) -> Path:
    return (base / value) if not Path(value).is_absolute() else Path(value)


def load(path: Path, *, decode_media: bool = True, decode_images: bool | None = None) -> Loaded:
    """Read, validate and lint a storyboard; raise StoryboardError naming every problem.

    decode_media=False only checks that images and footage exist (for a quick `status`);
    decode_images=False skips decoding the images alone (the cut uses footage, never images).
    """
    raw = _read_yaml(path)
    if raw is None:
        raise BadInputError(f"{path}: the storyboard is empty: start from scenes/ for an example")
    if not isinstance(raw, dict):
        raise BadInputError(
            f"{path}: the storyboard must be a mapping with 'title' and 'scenes', "
            f"not a {type(raw).__name__}"
        )
    try:
        model = _Storyboard.model_validate(raw)
    except ValidationError as exc:
        raise StoryboardError([f"{path}: {p}" for p in _pydantic_problems(exc, raw)]) from None

    problems: list[str] = []
    warnings: list[str] = []
    title = _check_text("title", model.title, problems) or ""
    default_atmosphere = _check_text("defaults.atmosphere", model.defaults.atmosphere, problems)
    default_steps = model.defaults.sample_steps
    if default_steps is not None and not MIN_STEPS <= default_steps <= MAX_STEPS:
        problems.append(
            f"defaults.sample_steps: {default_steps} is out of range {MIN_STEPS}-{MAX_STEPS}"
        )
    default_takes = model.defaults.takes
    if default_takes is not None and not 1 <= default_takes <= MAX_TAKES:
        problems.append(f"defaults.takes: {default_takes} is out of range 1-{MAX_TAKES}")
    _check_duration("defaults.duration", model.defaults.duration, problems)
    base = path.parent
    characters = check_characters(
        model.characters,
        base=base,
        check_text=_check_text,
        slug=SLUG,
        problems=problems,
        decode_media=decode_media,
    )
    seen: dict[str, int] = {}
    scenes: list[Scene] = []
    for number, raw_scene in enumerate(model.scenes, start=1):
        scene_id = raw_scene.id if raw_scene.id is not None else f"scene-{number:02d}"
        label = f"scenes[{number}] ({scene_id})"
        if not SLUG.match(scene_id):
            problems.append(
                f"{label}.id: {scene_id!r} is not a slug: use lower-case letters, digits and dashes"
            )
        elif scene_id in seen:
            problems.append(f"{label}.id: {scene_id!r} is already used by scenes[{seen[scene_id]}]")
        else:
            seen[scene_id] = number
        cast = scene_character(
            label, raw_scene.character, own=(raw_scene.image, raw_scene.footage),
            cast=(characters, set(model.characters)), problems=problems,
        )  # fmt: skip
        scene = _check_scene(
            raw_scene,
            number=number,
            scene_id=scene_id,
            base=base,
            default_atmosphere=default_atmosphere,
            default_steps=default_steps,
            default_takes=default_takes,
            default_duration=model.defaults.duration,
            default_fit=model.defaults.fit or "cover",
            problems=problems,
            warnings=warnings,
            decode_media=decode_media,
            decode_images=decode_media if decode_images is None else decode_images,
            cast=cast,
        )
        if scene is not None:
            scenes.append(scene)
    music = _check_music(model.music, base, problems, decode=decode_media)
    ambience = _check_ambience("ambience", model.ambience, base, problems, decode=decode_media)
    used = {s.character for s in model.scenes}
    warnings += [
        f"characters.{key}: no scene uses it: give a scene 'character: {key}' or remove it"
        for key in model.characters
        if key not in used
    ]
    if problems:
        raise StoryboardError([f"{path}: {p}" for p in problems])
    return Loaded(
        Storyboard(
            path=path.resolve(),
            title=title,
            scenes=tuple(scenes),
            music=music,
            ambience=ambience,
            seams=model.seams,
            characters=tuple(characters.values()),
        ),
        tuple(f"{path}: {w}" for w in warnings),
    )


def _check_scene(
    raw: _Scene,
    *,
    number: int,
    scene_id: str,
    base: Path,
    default_atmosphere: str | None,
    default_steps: int | None,
    default_takes: int | None,
    default_duration: int | None,
    default_fit: Fit,
    problems: list[str],
    warnings: list[str],
    decode_media: bool,
    decode_images: bool,
    cast: tuple[Character | None, bool],
) -> Scene | None:
    label = f"scenes[{number}] ({scene_id})"
    before = len(problems)
    character, borrowed = cast  # borrowed: the character's image, checked with the character
    action = _check_text(f"{label}.action", raw.action, problems)
    speech = _check_text(f"{label}.speech", raw.speech, problems)
    atmosphere = _check_text(f"{label}.atmosphere", raw.atmosphere, problems) or default_atmosphere
    if raw.sample_steps is not None and not MIN_STEPS <= raw.sample_steps <= MAX_STEPS:
        problems.append(
            f"{label}.sample_steps: {raw.sample_steps} is out of range {MIN_STEPS}-{MAX_STEPS}"
        )
    if raw.seed is not None and not 0 <= raw.seed <= MAX_SEED:
        problems.append(f"{label}.seed: {raw.seed} is out of range 0-{MAX_SEED}")
    if raw.seed is not None and raw.footage is not None:
        problems.append(f"{label}.seed: only generated scenes take a seed: remove it")
    if raw.takes is not None and not 1 <= raw.takes <= MAX_TAKES:
        problems.append(f"{label}.takes: {raw.takes} is out of range 1-{MAX_TAKES}")
    if raw.takes is not None and raw.footage is not None:
        problems.append(f"{label}.takes: only generated scenes have takes: remove it")
    _check_length(label, raw, speech, default=default_duration, problems=problems,
                  warnings=warnings)  # fmt: skip
    image = footage = None
    trim: tuple[float, float] | None = None
    if (borrowed or (raw.image is not None and raw.footage is None)) and raw.action is None:
        problems.append(f"{label}.action: is required for a generated scene")
    if borrowed:
        image = character.image if character else None
    elif (raw.image is None) == (raw.footage is None):
        problems.append(f"{label}: give either 'image' (to generate) or 'footage' (to cut in)")
    elif raw.image is not None:
        image = _resolve(base, raw.image)
        if raw.trim is not None:
            problems.append(f"{label}.trim: only footage scenes can be trimmed")
        problem = images.inspect(image) if decode_images else images.missing(image)
        if problem:
            problems.append(f"{label}.image: {raw.image}: {problem}")
        elif decode_images and min(images.size(image)) < images.MIN_SIDE:
            width, height = images.size(image)
            warnings.append(
                f"{label}.image: {raw.image} is only {width}x{height}: under "
                f"{images.MIN_SIDE} px on a side it comes out blurry; use a larger image "
                f"({_ideal_sizes()} is ideal)"
            )
    else:
        assert raw.footage is not None
        footage = _resolve(base, raw.footage)
        trim = _check_footage(label, raw.footage, footage, raw.trim, problems, probe=decode_media)
    music_off = raw.music is not None
    if raw.music is not None and raw.music not in (False, "off"):
        problems.append(
            f"{label}.music: {raw.music!r}: write 'music: off' for a silence in the music "
            "over this scene"
        )
    ambience_off = raw.ambience is False or raw.ambience == "off"
    ambience = (
        None
        if ambience_off or raw.ambience is None
        else _check_ambience(f"{label}.ambience", raw.ambience, base, problems, decode=decode_media)
    )
    if len(problems) > before:
        return None
    return Scene(
        number=number,
        id=scene_id,
        action=action or "",
        speech=speech,
        atmosphere=atmosphere,
        sample_steps=raw.sample_steps,
        fit=raw.fit or default_fit,
        image=image,
        footage=footage,
        trim=trim,
        seed=raw.seed,
        board_steps=default_steps,
        takes=raw.takes,
        board_takes=default_takes,
        duration=raw.duration,
        board_duration=default_duration if raw.footage is None else None,
        music_off=music_off,
        ambience=ambience,
        ambience_off=ambience_off,
        character=character,
    )


def _check_sound_file(place: str, given: str, base: Path, problems: list[str], *, start: float,
                      decode: bool) -> Path | None:  # fmt: skip
    """The file a sound field names, or None (with the problem noted) when it cannot be laid."""
    path = _resolve(base, given)
    problem = soundtrack.inspect(path, start=start) if decode else images.missing(path)
    if problem:
        problems.append(f"{place}: {given}: {problem}")
        return None
    return path


def _check_music(
    raw: _Music | None, base: Path, problems: list[str], *, decode: bool
) -> Music | None:
    """The storyboard's music, its file checked."""
    if raw is None:
        return None
    found = _check_sound_file(
        "music.file", raw.file, base, problems, start=raw.start, decode=decode
    )
    if found is None:
        return None
    return Music(found, volume=raw.volume, duck=raw.duck, fade_in=raw.fade_in,
                            fade_out=raw.fade_out, start=raw.start)  # fmt: skip


def _check_ambience(
    place: str, raw: _Ambience | bool | str | None, base: Path, problems: list[str], *, decode: bool
) -> Ambience | None:
    """An ambience bed (a file, or a file with its level), its file checked."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        problems.append(f"{place}: name a sound file (or write 'ambience: off' on a scene)")
        return None
    given = raw if isinstance(raw, str) else raw.file
    field = place if isinstance(raw, str) else f"{place}.file"
    found = _check_sound_file(field, given, base, problems, start=0.0, decode=decode)
    if found is None:
        return None
    if isinstance(raw, str):
        return Ambience(found)
    return Ambience(found, volume=raw.volume, duck=raw.duck)


def _check_footage(
    label: str,
    given: str,
    footage: Path,
    trim: list[float] | None,
    problems: list[str],
    *,
    probe: bool,
) -> tuple[float, float] | None:
    if not images.is_file(footage):
        problems.append(f"{label}.footage: {given}: {images.missing(footage, kind='a video')}")
        return None
    duration = frame = None
    if probe:
        from . import media

        try:
            info = media.probe(footage)
        except BadInputError as exc:
            problems.append(f"{label}.footage: {given}: {exc.message}")
            return None
        video = info.video
        if video is None:
            problems.append(f"{label}.footage: {given}: has no video stream")
            return None
        frame = 1 / float(video.fps or 24)
        if video.duration < frame:
            problems.append(
                f"{label}.footage: {given}: is a still image, not a video: use it as 'image' to "
                "generate the scene, or give a video file"
            )
            return None
        try:
            media.frame_at(footage, (0.0, 0.0))  # its first frame
        except MediaError as exc:
            problems.append(
                f"{label}.footage: {given}: its picture does not decode ({exc.message})"
            )
            return None
        duration = video.duration  # the picture decides: sound past its end is never shown
    if trim is None:
        return None
    start, end = trim
    if not 0 <= start < end or (duration is not None and end > duration + (frame or 0) / 2):
        limit = f" (its picture lasts {duration:.2f} s)" if duration is not None else ""
        problems.append(f"{label}.trim: [{start}, {end}] is not a range inside the clip{limit}")
        return None
    if frame is not None and end - start < frame:
        problems.append(
            f"{label}.trim: [{start}, {end}] is shorter than one frame ({frame:.3f} s): widen it"
        )
        return None
    return (float(start), float(end))
