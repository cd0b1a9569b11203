"""Each kind of time is reported as what it is: waiting in a queue, backing off from a busy or
unreachable backend, generating on a GPU, rendering here on the CPU (state, status, summary)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.hosted_stand_in import ReplicateStandIn
from tests.support.mediatools import MarkerClip

TOKEN = "r8_TIMEtoken0123456789"


@pytest.fixture
def rep(
    marker_clips: list[MarkerClip], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ReplicateStandIn]:
    """Replicate's API on 127.0.0.1; backoffs of 0.05 s."""
    stand_in = ReplicateStandIn(marker_clips[0].path, token=TOKEN, gen_seconds=0.3).start()
    for name, value in stand_in.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.05")
    monkeypatch.setenv("F1GEN_BUSY_RETRIES", "3")
    yield stand_in
    stand_in.stop()


def _scene(name: str = "s1") -> dict[str, Any]:
    scenes: dict[str, Any] = json.loads(Path("out/board/state.json").read_text())["scenes"]
    return scenes[name]


def test_a_backend_that_stays_busy_spends_no_gpu_time_it_is_backoff(
    rep: ReplicateStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    rep.script.then("500", "500", "500")

    result = cli("generate", write_storyboard(1), "--backend", "replicate", "--json")
    status = json.loads(cli("status", "--json").stdout)

    assert result.exit_code == 75, result.stderr
    summary = json.loads(result.stdout)
    assert summary["gpu_seconds"] == 0 and summary["wait_seconds"] >= 0.1  # 0.05 + 0.1
    assert (_scene()["gen_seconds"], _scene()["cpu_seconds"]) == (0.0, 0.0)
    assert _scene()["wait_seconds"] >= 0.15
    assert status["gpu_seconds"] == 0 and status["wait_seconds"] >= 0.1


def test_the_backoff_before_a_clip_is_not_counted_as_its_gpu_time(
    rep: ReplicateStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    rep.script.then("500", "500")  # two refusals, then the prediction runs

    result = cli("generate", write_storyboard(1), "--backend", "replicate", "--json")

    assert result.exit_code == 0, result.stderr
    scene = _scene()
    assert scene["wait_seconds"] >= 0.15  # 0.05 + 0.1 of backoff
    assert scene["gen_seconds"] == pytest.approx(scene["clip_seconds"], abs=0.001)
    assert scene["gen_seconds"] < 0.15 + 0.3 + 1  # not the backoff: the stand-in's 0.3 s run


def test_the_animatic_renders_on_the_cpu_and_spends_no_gpu_time(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(1), "--backend", "animatic", "--json")
    status = cli("status")
    data = json.loads(cli("status", "--json").stdout)

    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["gpu_seconds"] == 0 and summary["cpu_seconds"] > 0
    assert _scene()["gen_seconds"] == 0.0 and _scene()["cpu_seconds"] > 0
    assert data["gpu_seconds"] == 0 and data["cpu_seconds"] > 0
    assert "GPU time spent 0.0 min" in status.stdout
    assert "rendered here (CPU)" in status.stdout
