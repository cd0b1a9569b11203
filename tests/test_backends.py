"""The backend registry: every backend, the default included, is one module and one line; what
varies per backend (clip spec, prompt format, price, lanes) comes from its declaration."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from f1gen import media
from f1gen.backends import REGISTRY, build_lanes, factories, factory, spec_of
from f1gen.backends.traits import OVI_SPEC
from f1gen.config import load_settings
from f1gen.errors import BadInputError, ClipRejected
from tests.support import echo_backend, mediatools

CLIENT_LIBRARIES = ("gradio_client", "fal_client", "replicate", "httpx", "huggingface_hub",
                    "tenacity", "PIL", "av", "boto3")  # fmt: skip


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The test's own backend, registered by one line; the calls it received."""
    monkeypatch.setitem(REGISTRY, "echo", "tests.support.echo_backend")
    echo_backend.CALLS.clear()
    return echo_backend.CALLS


def test_the_default_is_registered_like_every_other() -> None:
    assert tuple(REGISTRY) == ("ovi", "animatic", "fal", "replicate", "ovi-app")
    assert [made.name for made in factories()] == list(REGISTRY)
    assert {made.spec for made in factories()} == {OVI_SPEC}


def test_an_unknown_backend_names_the_choices() -> None:
    with pytest.raises(
        BadInputError,
        match=r"^--backend 'magic' is unknown: use one of ovi, animatic, fal, replicate, ovi-app$",
    ):
        factory("magic")


def test_the_declarations_load_without_any_client_library() -> None:
    probe = (
        "import sys\n"
        "from f1gen.backends import factories, prompt_for, reserved_tokens\n"
        "for made in factories(): made.prompt.build, made.price, made.spec\n"
        "reserved_tokens(); prompt_for('fal:x')\n"
        f"print(sorted(m for m in {CLIENT_LIBRARIES!r} if m in sys.modules))\n"
    )

    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout

    assert loaded.strip() == "[]"  # status and validate read them: they must stay quick


def test_every_backend_is_built_as_a_list_of_lanes(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"OVI_SPACE": "http://gpu1:7860/, http://gpu2:7860/", "FAL_KEY": "fal-key"}
    )

    def lanes(name: str, parallel: int | None = None) -> list[Any]:
        return build_lanes(name, settings=settings, workdir=tmp_path, parallel=parallel)

    assert [lane.identity for lane in lanes("ovi")] == [
        "ovi:http://gpu1:7860/", "ovi:http://gpu2:7860/"]  # fmt: skip
    assert [lane.identity for lane in lanes("animatic")] == ["animatic:1"]
    hosted = lanes("fal")
    assert len(hosted) == factory("fal").default_parallel == 8
    assert len({id(lane) for lane in hosted}) == 1  # one object shares the key and the ledger
    assert len(lanes("replicate", parallel=3)) == 3
    apps = lanes("ovi-app", parallel=2)
    assert len(apps) == 2 and apps[0] is not apps[1]


def test_a_new_backend_is_one_module_and_one_registry_line(
    echo: list[dict[str, Any]], write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(2)

    made = cli("generate", board, "--backend", "echo", "--json")
    prompts = cli("prompts", board, "--backend", "echo")
    doctor = cli("doctor", "--backend", "echo")

    assert made.exit_code == 0, made.stderr
    assert json.loads(made.stdout)["generated"] == ["s1", "s2"]
    # Its prompt format, and the character image prepared at its frame size.
    assert echo == [
        {"prompt": "[[Driver 1 waves.]] says [[Line number 1.]]", "image_size": (480, 832)},
        {"prompt": "[[Driver 2 waves.]] says [[Line number 2.]]", "image_size": (480, 832)},
    ]
    assert prompts.stdout.splitlines()[0] == "01 s1: [[Driver 1 waves.]] says [[Line number 1.]]"
    assert doctor.stdout.splitlines()[1] == "ok   echo: answers every request"
    # Its 2 s 480x832 clips were accepted by its own spec; Ovi's would refuse them.
    state = json.loads(Path("out/board/state.json").read_text())
    clip = Path("out/board") / state["scenes"]["s1"]["clip"]
    assert media.check_clip(clip, spec=echo_backend.SPEC).video is not None
    with pytest.raises(ClipRejected, match=r"is 480x832, expected 576x896$"):
        media.check_clip(clip, spec=OVI_SPEC)


def test_the_storyboard_lint_refuses_every_registered_formats_tokens(
    monkeypatch: pytest.MonkeyPatch, write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
) -> None:  # fmt: skip
    board = write_storyboard(
        [{"id": "a", "image": "images/p0.png", "action": "Waves.", "speech": "Say [[this]]"}]
    )
    assert cli("validate", board).exit_code == 0  # nothing Ovi reads as a tag

    monkeypatch.setitem(REGISTRY, "echo", "tests.support.echo_backend")
    result = cli("validate", board)

    assert (result.exit_code, result.stderr) == (2, (
        f"error: {board}: scenes[1] (a).speech: contains the Echo tag '[[', which breaks "
        "the prompt: remove it (f1gen adds the tags)\n"))  # fmt: skip


def test_a_backend_brings_its_own_key_with_no_edit_outside_its_file_and_registry_line(
    echo: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Any]
) -> None:
    settings = load_settings(environ={"ECHO_KEY": "echo-secret-1"})
    monkeypatch.setenv("ECHO_KEY", "echo-secret-2")

    checked = cli("doctor", "--backend", "echo")
    monkeypatch.delenv("ECHO_KEY")
    missing = cli("doctor", "--backend", "echo")

    assert settings.secret("echo_key") is not None
    assert settings.secret("echo_key").reveal() == "echo-secret-1"  # type: ignore[union-attr]
    assert settings.redact("sent echo-secret-1") == "sent ***"
    assert checked.exit_code == 0, checked.stdout
    assert "ok   key: ECHO_KEY is set: ***\n" in checked.stdout
    assert missing.exit_code == 3
    assert "FAIL key: no ECHO_KEY set: add your echo key to .env\n" in missing.stdout


def test_a_clip_spec_is_found_by_identity_or_name_and_is_the_defaults_when_unknown(
    echo: list[dict[str, Any]],
) -> None:
    assert spec_of("echo:1") == spec_of("echo") == echo_backend.SPEC
    assert spec_of("animatic:1") == spec_of(None) == spec_of("scripted:x") == OVI_SPEC


def _picture(path: Path) -> tuple[int, int, float]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height, float(stream.average_rate)


def test_the_cut_takes_the_shape_of_the_backend_that_made_its_clips(
    echo: list[dict[str, Any]], write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    mediatools.make_marker_clip(Path("phone.mp4"), marker_frame=20, size=(640, 360), fps=30,
                                frames=90, audio_rate=44_100)  # fmt: skip
    board = write_storyboard([
        {"id": "s1", "image": "images/p0.png", "action": "Waves.", "speech": "One."},
        {"id": "phone", "footage": "phone.mp4"},
        {"id": "s2", "image": "images/p1.png", "action": "Waves.", "speech": "Two."},
    ])  # fmt: skip
    assert cli("generate", board, "--backend", "echo").exit_code == 0

    made = cli("stitch", board, "--json")
    preview = cli("stitch", board, "--preview")

    assert made.exit_code == 0, made.stderr
    # The footage is normalized to the echo clips' 480x832, not to Ovi's 576x896.
    assert _picture(Path("out/board/final.mp4")) == (480, 832, 24.0)
    assert preview.exit_code == 0, preview.stderr
    assert _picture(Path("out/board/final-preview.mp4")) == (240, 416, 24.0)
    # The manifest says what was sent: the echo backend's prompt, not Ovi's tags.
    manifest = json.loads(Path("out/board/manifest.json").read_text())
    assert [s["prompt"] for s in manifest["scenes"]] == [
        "[[Waves.]] says [[One.]]",
        None,
        "[[Waves.]] says [[Two.]]",
    ]


def test_the_review_page_shows_takes_in_their_backends_shape(
    echo: list[dict[str, Any]], write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    assert cli("generate", board, "--backend", "echo").exit_code == 0

    result = cli("review", board)

    assert result.exit_code == 0, result.stderr
    page = Path("out/board/review.html").read_text(encoding="utf-8")
    assert re.findall(r"aspect-ratio: [^;]*;", page) == ["aspect-ratio: 480 / 832;"]
    assert "[[Driver 1 waves.]] says [[Line number 1.]]" in page  # the prompt it was sent
    assert "&lt;S&gt;" not in page
