"""f1gen validate: every bad storyboard gets one clear line per problem and exit 2, never a traceback."""

from __future__ import annotations

import json
import string
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from f1gen import storyboard as storyboards
from f1gen.errors import BadInputError
from tests.support.images import draw_portrait
from tests.support.mediatools import make_marker_clip

GOOD = {"id": "pit-wall", "image": "images/p0.png", "action": "A boss taps the desk. He says"}


def _scene(**changes: Any) -> dict[str, Any]:
    scene = {**GOOD, **changes}
    return {k: v for k, v in scene.items() if v is not None}


BAD_SCENES = [
    (_scene(speech="Hello <S>there"), "scenes[1] (pit-wall).speech: contains the Ovi tag '<S>', which breaks the prompt: remove it (f1gen adds the tags)"),
    (_scene(action="Waves <audcap>"), "scenes[1] (pit-wall).action: contains the Ovi tag '<audcap>', which breaks the prompt: remove it (f1gen adds the tags)"),
    (_scene(atmosphere="Engines < ENDAUDCAP >"), "scenes[1] (pit-wall).atmosphere: contains the Ovi tag '< ENDAUDCAP >', which breaks the prompt: remove it (f1gen adds the tags)"),
    (_scene(speech="end<e>"), "scenes[1] (pit-wall).speech: contains the Ovi tag '<e>', which breaks the prompt: remove it (f1gen adds the tags)"),
    (_scene(id="Pit Wall"), "scenes[1] (Pit Wall).id: 'Pit Wall' is not a slug: use lower-case letters, digits and dashes"),
    (_scene(image="images/none.png"), "scenes[1] (pit-wall).image: images/none.png: no such file: check the path (it is relative to the storyboard)"),
    (_scene(image="notes.txt"), "scenes[1] (pit-wall).image: notes.txt: not a PNG, JPEG or WebP image: convert it"),
    (_scene(sample_steps=500), "scenes[1] (pit-wall).sample_steps: 500 is out of range 10-100"),
    (_scene(sample_steps="40"), "scenes[1] (pit-wall).sample_steps: should be a valid integer"),
    (_scene(speach="typo"), "scenes[1] (pit-wall).speach: unknown field: remove it or check its spelling"),
    (_scene(action=None), "scenes[1] (pit-wall).action: is required for a generated scene"),
    (_scene(speech="   "), "scenes[1] (pit-wall).speech: is empty: write the text or remove the field"),
    (_scene(speech="bell\x07"), "scenes[1] (pit-wall).speech: contains the control character U+0007: remove it"),
    (_scene(speech=42), "scenes[1] (pit-wall).speech: should be a valid string"),
    (_scene(fit="stretch"), "scenes[1] (pit-wall).fit: must be 'cover' or 'contain'"),
    (_scene(image=None), "scenes[1] (pit-wall): give either 'image' (to generate) or 'footage' (to cut in)"),
    (_scene(footage="clip.mp4"), "scenes[1] (pit-wall): give either 'image' (to generate) or 'footage' (to cut in)"),
    (_scene(image=None, footage="missing.mp4"), "scenes[1] (pit-wall).footage: missing.mp4: no such file: check the path"),
    (_scene(image=None, footage="notes.txt"), "scenes[1] (pit-wall).footage: notes.txt: not a readable video"),
    (_scene(trim=[1, 2]), "scenes[1] (pit-wall).trim: only footage scenes can be trimmed"),
    (_scene(trim=[1]), "scenes[1] (pit-wall).trim: must be two numbers [start, end] in seconds"),
    (_scene(image="/dev/zero"), "scenes[1] (pit-wall).image: /dev/zero: not a regular file (a device, a pipe or a socket): name an image file"),
    (_scene(image=None, footage="/dev/zero"), "scenes[1] (pit-wall).footage: /dev/zero: not a regular file (a device, a pipe or a socket): name a video file"),
    (_scene(speech="\u200b\u2060\ufeff \u200d"), "scenes[1] (pit-wall).speech: has only invisible characters (U+200B...): write the text or remove the field"),
    (_scene(speech="Box box \u202etxt.exe"), "scenes[1] (pit-wall).speech: contains the bidi control U+202E, which reorders the text as shown: remove it"),
    (_scene(action="Waves \u2066hi\u2069. He says"), "scenes[1] (pit-wall).action: contains the bidi control U+2066, which reorders the text as shown: remove it"),
    (_scene(atmosphere="Engines \u202a"), "scenes[1] (pit-wall).atmosphere: contains the bidi control U+202A, which reorders the text as shown: remove it"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("scene", "message"),
    BAD_SCENES,
    ids=[m.split(": ")[0] + ":" + m.split(": ")[1][:18] for _, m in BAD_SCENES],
)
def test_bad_scene_is_named_by_file_scene_and_field(
    scene: dict[str, Any],
    message: str,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
) -> None:
    Path("notes.txt").write_text("not an image")
    board = write_storyboard([scene])

    result = cli("validate", board)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(f"error: {board}: {message}")
    assert "Traceback" not in result.output


BAD_FILES = [
    ("", "the storyboard is empty: start from scenes/ for an example"),
    ("- 1\n- 2\n", "the storyboard must be a mapping with 'title' and 'scenes', not a list"),
    ("just text\n", "the storyboard must be a mapping with 'title' and 'scenes', not a str"),
    ("title: [unclosed\n", "line 2, column 1: expected ',' or ']', but got '<stream end>': fix the YAML"),
    ("a: &x [1]\nb: [*x, *x]\n", "line 2, column 5: aliases (*name) are not allowed in a storyboard: fix the YAML"),
    ("title: a\ntitle: b\nscenes: []\n", "line 2, column 1: duplicate key 'title': fix the YAML"),
    ("title: t\n", "scenes: is required"),
    ("title: t\nscenes: []\n", "scenes: needs at least one scene"),
    ("title: t\nscenes: {a: 1}\n", "scenes: should be a valid list"),
    ("title: t\nscenes: [1]\n", "scenes[1] (scene-01): should be a valid dictionary or instance of _Scene"),
    ("scenes: [{image: x.png, action: a}]\n", "title: is required"),
    ("title: t\nextra: 1\nscenes: [{image: x.png, action: a}]\n", "extra: unknown field: remove it or check its spelling"),
    ("title: t\ndefaults: {sample_steps: 5}\nscenes: [{image: images/p0.png, action: a}]\n", "defaults.sample_steps: 5 is out of range 10-100"),
    ("title: t\nscenes:\n - {id: a, image: images/p0.png, action: x}\n - {id: a, image: images/p0.png, action: y}\n", "scenes[2] (a).id: 'a' is already used by scenes[1]"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_bad_file_gets_one_clean_line(
    text: str, message: str, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    write_storyboard(1)  # the images
    board = Path("bad.yaml")
    board.write_text(text)

    result = cli("validate", board)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"error: bad.yaml: {message}"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "no such storyboard file: check the path"),
        (lambda p: p.mkdir(), "not a file: give the path of a storyboard .yaml"),
        (lambda p: p.write_bytes(b"title: \xff\xfe\n"), "not UTF-8 text (byte 7): save it as UTF-8"),
        (lambda p: p.write_text("#" * (1024 * 1024 + 1)), "1048577 bytes is too large for a storyboard (limit 1 MiB)"),
    ],
)  # fmt: skip
def test_unreadable_file_gets_one_clean_line(
    setup: Callable[[Path], None], message: str, cli: Callable[..., Any]
) -> None:
    board = Path("board.yaml")
    setup(board)

    result = cli("validate", board)

    assert (result.exit_code, result.stderr) == (2, f"error: board.yaml: {message}\n")


def test_every_problem_is_listed_one_per_line(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard([_scene(speech="<S>"), _scene(id="b", image="none.png")])

    result = cli("validate", board)

    assert result.exit_code == 2
    assert [line.split(": ")[2] for line in result.stderr.splitlines()] == [
        "scenes[1] (pit-wall).speech", "scenes[2] (b).image"]  # fmt: skip


def test_long_speech_is_a_warning_not_an_error(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard([_scene(speech=" ".join(["word"] * 20))])

    result = cli("validate", board)

    assert result.exit_code == 0
    assert "warning: " in result.stderr
    assert (
        "scenes[1] (pit-wall).speech: 20 words may not fit 5 seconds (about 14): shorten it"
        in result.stderr
    )


def test_good_storyboard_loads_with_defaults_applied(write_storyboard: Callable[..., Path]) -> None:
    board = write_storyboard(
        [
            _scene(),
            {"image": "images/p1.png", "action": "Waves.\n  Then smiles.", "fit": "contain"},
        ],
        extra={"defaults": {"sample_steps": 30, "atmosphere": "Crowd noise"}},
    )

    loaded = storyboards.load(board)

    first, second = loaded.storyboard.scenes
    assert (first.id, first.number, first.board_steps, first.atmosphere) == (
        "pit-wall",
        1,
        30,
        "Crowd noise",
    )
    assert (second.id, second.action, second.fit) == ("scene-02", "Waves. Then smiles.", "contain")
    assert second.image == board.parent / "images/p1.png"
    assert loaded.warnings == ()


def test_example_storyboard_is_valid_with_24_scenes() -> None:
    example = Path(__file__).parent.parent / "scenes" / "abu-dhabi-recap.yaml"

    loaded = storyboards.load(example)

    assert len(loaded.storyboard.scenes) == 24
    assert loaded.warnings == ()


# Storyboards made of any YAML-able structure, with hostile text in every field.
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["<S>", "<e>", "<AUDCAP>", "../../etc/passwd", "/dev/null", "\x00", "images/p0.png",
                     "Ünïcødé ✓ 🏎", "a" * 300, "-1", "1e309", "null"]),
)  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=True), hostile_text
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=8,
)
fields = st.sampled_from(
    [
        "id",
        "image",
        "footage",
        "trim",
        "action",
        "speech",
        "atmosphere",
        "sample_steps",
        "fit",
        "bogus",
    ]
)
scene_dicts = st.dictionaries(fields, st.one_of(values, hostile_text), max_size=6)
boards = st.one_of(
    values,
    st.fixed_dictionaries({"title": st.one_of(hostile_text, values), "scenes": st.lists(scene_dicts, max_size=4)}),
    st.fixed_dictionaries({"title": hostile_text, "defaults": st.dictionaries(fields, values, max_size=3),
                           "scenes": st.lists(scene_dicts, min_size=1, max_size=3)}),
)  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=boards,
    raw=st.one_of(st.none(), st.text(alphabet=string.printable + "&*!|>{}[]", max_size=60)),
)
def test_no_storyboard_ever_causes_a_traceback(data: Any, raw: str | None, tmp_path: Path) -> None:
    draw_portrait(tmp_path / "images" / "p0.png", size=(64, 96))
    board = tmp_path / "fuzz.yaml"
    board.write_text(
        raw if raw is not None else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8"
    )

    try:
        storyboards.load(board)
    except BadInputError as exc:
        assert "\n" not in exc.message and exc.exit_code == 2
        assert exc.message.startswith(f"{board}: ")


def test_validate_json_puts_the_problems_on_stdout(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard([_scene(speech="<S>"), _scene(id="b", image="none.png")])

    result = cli("validate", board, "--json")

    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert (report["ok"], report["storyboard"]) == (False, str(board))
    assert [p.split(": ")[1] for p in report["problems"]] == [
        "scenes[1] (pit-wall).speech", "scenes[2] (b).image"]  # fmt: skip
    assert json.loads(cli("validate", write_storyboard(1), "--json").stdout)["problems"] == []
    missing = json.loads(cli("validate", "nowhere.yaml", "--json").stdout)
    assert missing["problems"] == ["nowhere.yaml: no such storyboard file: check the path"]


@pytest.fixture
def footage(tmp_path: Path, ffmpeg: str) -> Path:
    """clip.mp4 (5.04 s, 24 fps), a still image, and long-sound.mp4 (2 s of picture, 6 of sound)."""
    make_marker_clip(tmp_path / "clip.mp4", marker_frame=24)
    draw_portrait(tmp_path / "still.png")
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=24:duration=2",
                    "-f", "lavfi", "-i", "sine=duration=6", "-c:v", "libx264", "-c:a", "aac",
                    str(tmp_path / "long-sound.mp4")], check=True)  # fmt: skip
    return tmp_path


@pytest.mark.parametrize(
    ("scene", "message"),
    [({"footage": "still.png"}, "footage: still.png: is a still image, not a video: use it as 'image' to generate the scene, or give a video file"),
     ({"footage": "clip.mp4", "trim": [1.0, 1.01]}, "trim: [1.0, 1.01] is shorter than one frame (0.042 s): widen it"),
     ({"footage": "clip.mp4", "trim": [4.9, 5.09]}, "trim: [4.9, 5.09] is not a range inside the clip (its picture lasts 5.04 s)"),
     ({"footage": "long-sound.mp4", "trim": [3.0, 5.0]}, "trim: [3.0, 5.0] is not a range inside the clip (its picture lasts 2.00 s)"),
     ({"footage": "images"}, "footage: images: is a folder, not a file: name the file inside it"),
     ({"image": "images", "action": "Waves."}, "image: images: is a folder, not a file: name the file inside it")],
)  # fmt: skip
def test_footage_that_the_stitch_could_not_use_is_refused_by_validate(
    scene: dict[str, Any], message: str, footage: Path, write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
) -> None:  # fmt: skip
    board = write_storyboard([{"id": "cut-in", **scene}])

    result = cli("validate", board)

    assert (result.exit_code, result.stderr) == (
        2,
        f"error: {board}: scenes[1] (cut-in).{message}\n",
    )


def test_footage_trimmed_to_its_last_frame_is_fine(
    footage: Path, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard([{"id": "cut-in", "footage": "clip.mp4", "trim": [4.0, 5.0417]}])

    assert cli("validate", board).exit_code == 0


@pytest.mark.parametrize(
    ("size", "warned"), [((1, 1), True), ((255, 400), True), ((256, 256), False)]
)
def test_a_tiny_image_is_a_warning(
    size: tuple[int, int],
    warned: bool,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
) -> None:
    draw_portrait(Path("images/tiny.png"), size=size)
    board = write_storyboard([{"id": "t", "image": "images/tiny.png", "action": "Waves."}])

    result = cli("validate", board)

    warning = (
        f"warning: {board}: scenes[1] (t).image: images/tiny.png is only {size[0]}x{size[1]}: "
        "under 256 px on a side it comes out blurry; use a larger image (576x896 is ideal)\n"
    )
    assert result.exit_code == 0
    assert (warning in result.stderr) is warned
