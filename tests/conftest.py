"""Shared fixtures: an isolated environment, tiny real media, storyboards written to disk."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from f1gen.cli import app
from tests.support import mediatools
from tests.support.images import draw_portrait
from tests.support.seaweedfs import SeaweedFS

ENV_PREFIXES = ("HF_", "OVI_", "F1GEN_", "AWS_", "GRADIO_", "FAL_", "REPLICATE_")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test runs in its own folder with no f1gen, Hugging Face or AWS settings leaking in."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # Most tests' clips are marker clips (black with a flash and a beep): the take checks would
    # rightly reject them. Tests of the checks in the run turn them on (tests/test_takes_run.py).
    monkeypatch.setenv("F1GEN_CHECKS", "0")
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Invoke f1gen in-process; stdout and stderr kept apart."""
    runner = CliRunner()

    def invoke(*args: str | Path) -> Any:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def write_storyboard(tmp_path: Path) -> Callable[..., Path]:
    """Write a storyboard (with real images for its scenes) and return its path."""

    def write(
        scenes: list[dict[str, Any]] | int = 3,
        *,
        name: str = "board.yaml",
        extra: dict[str, Any] | None = None,
    ) -> Path:
        if isinstance(scenes, int):
            scenes = [
                {"id": f"s{n}", "image": f"images/p{n % 2}.png", "action": f"Driver {n} waves.",
                 "speech": f"Line number {n}."}
                for n in range(1, scenes + 1)
            ]  # fmt: skip
        for index in range(2):
            target = tmp_path / "images" / f"p{index}.png"
            if not target.exists():
                draw_portrait(target, color=("red", "teal")[index])
        data = {"title": "Test board", "scenes": scenes, **(extra or {})}
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def marker_clips(tmp_path_factory: pytest.TempPathFactory) -> list[mediatools.MarkerClip]:
    """24 Ovi-spec clips, each with a white frame and a beep at the same instant."""
    folder = tmp_path_factory.mktemp("markers")
    return mediatools.make_marker_clips(folder, count=24)


@pytest.fixture
def ffmpeg() -> str:
    """The ffmpeg binary f1gen itself would use."""
    from f1gen.media import find_ffmpeg

    return find_ffmpeg(None)


def copy_tree(source: Path, target: Path) -> Path:
    """Copy a folder (for tests that must not touch a session fixture)."""
    shutil.copytree(source, target)
    return target


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    """A real S3 server (SeaweedFS) on loopback for the whole session, started on first use."""
    server = SeaweedFS().start()
    yield server
    server.stop()
