"""--backend ovi: the real gradio_client against a real local Gradio server that acts like the Space."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client.exceptions import AppError, AuthenticationError
from gradio_client.utils import QueueError, TooManyRequestsError

from f1gen import storyboard as storyboards
from f1gen.backends import BackendUpdate, ClipRequest
from f1gen.backends.gradio_door import RetryPolicy
from f1gen.backends.ovi_space import (
    OviSpaceBackend,
    Verdict,
    classify,
    retry_at_from,
)
from f1gen.config import load_settings
from f1gen.errors import BackendBusy, GenerationError
from f1gen.runlog import describe
from f1gen.runner import Runner, RunOptions
from f1gen.scene import Scene
from tests.support.images import draw_portrait
from tests.support.mediatools import MarkerClip
from tests.support.ovi_stand_in import QUOTA_MESSAGE, StandIn

TOKEN = "hf_TESTsecretTOKEN1234567890"


@pytest.fixture(scope="session")
def space(marker_clips: list[MarkerClip]) -> Iterator[StandIn]:
    """One stand-in for the session; every test gets it with an empty script and log."""
    stand_in = StandIn(marker_clips[0].path, progress_steps=2).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def ovi(space: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The session stand-in, reset, with f1gen pointed at it and backoff made quick."""
    space.reset()
    space.token = None
    monkeypatch.setenv("OVI_SPACE", space.url)
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.01")
    return space


@pytest.fixture
def variant(
    marker_clips: list[MarkerClip], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., StandIn]]:
    """Start a stand-in of another shape for one test."""
    started: list[StandIn] = []

    def start(name: str = "standard", **kwargs: Any) -> StandIn:
        stand_in = StandIn(marker_clips[0].path, variant=name, **kwargs).start()
        started.append(stand_in)
        monkeypatch.setenv("OVI_SPACE", stand_in.url)
        monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.01")
        return stand_in

    yield start
    for stand_in in started:
        stand_in.stop()


def _state() -> dict[str, Any]:
    return json.loads(Path("out/board/state.json").read_text())


# Classification: real exception objects, as gradio_client raises them.

CLASSIFIED = [
    (AppError("No GPU was available after 60s. Retry later", title="ZeroGPU queue timeout"), Verdict.BUSY),
    (AppError("No GPU was available", title="ZeroGPU client error"), Verdict.BUSY),
    (QueueError("Queue is full! Please try again."), Verdict.BUSY),
    (TooManyRequestsError("Too many requests"), Verdict.BUSY),
    (httpx.ConnectError("Connection refused"), Verdict.BUSY),
    (httpx.ReadTimeout("timed out"), Verdict.BUSY),
    (httpx.RemoteProtocolError("peer closed connection"), Verdict.BUSY),
    (TimeoutError(), Verdict.BUSY),
    (AppError("GPU task aborted", title="ZeroGPU worker error"), Verdict.FAILED_RUN),
    (AppError("CUDA out of memory"), Verdict.FAILED_RUN),
    (AppError(QUOTA_MESSAGE, title="ZeroGPU quota exceeded"), Verdict.QUOTA),
    (AppError("You have exceeded your Pro ZeroGPU quota (60s requested vs. 0s left). Try again in 1:02:03."), Verdict.QUOTA),
    (AppError("You have exceeded your GPU quota (60s requested vs. 0s left). Sign-up on Hugging Face to get more quotas or retry in 0:09:48"), Verdict.QUOTA),
    (AppError("You have exceeded your ZeroGPU runs limit."), Verdict.QUOTA),
    (AppError("Space app has reached its GPU limit. Try again later"), Verdict.QUOTA),
    (AppError("The requested GPU duration (300s) is larger than the maximum allowed", title="ZeroGPU illegal duration"), Verdict.FATAL),
    (AuthenticationError("Could not load as credentials were not provided."), Verdict.FATAL),
    (ValueError("Could not find Space: nobody/nothing."), Verdict.FATAL),
    (ValueError("The current space is in the invalid state: PAUSED."), Verdict.FATAL),
    (TypeError("seed is not a valid key-word argument"), Verdict.FATAL),
]  # fmt: skip


@pytest.mark.parametrize(
    ("exc", "verdict"),
    CLASSIFIED,
    ids=[f"{type(e).__name__}-{v.value}-{i}" for i, (e, v) in enumerate(CLASSIFIED)],
)
def test_every_failure_is_classified(exc: BaseException, verdict: Verdict) -> None:
    assert classify(exc) is verdict


def test_a_bug_is_not_classified() -> None:
    assert classify(KeyError("x")) is None


@pytest.mark.parametrize(
    ("message", "delay"),
    [(QUOTA_MESSAGE, timedelta(minutes=41, seconds=10)), ("retry in 0:09:48", timedelta(minutes=9, seconds=48)),
     ("Try again in 12:00:01.", timedelta(hours=12, seconds=1)), ("runs limit", None)],
)  # fmt: skip
def test_the_quota_retry_time_is_read_from_the_message(
    message: str, delay: timedelta | None
) -> None:
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

    assert retry_at_from(message, now) == (now + delay if delay else None)


# Through the real client and server.


def test_clips_are_made_by_the_space_with_the_seed_prompt_format(
    ovi: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(3, extra={"defaults": {"sample_steps": 30, "atmosphere": "Engines"}})

    result = cli("generate", board, "--json")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["generated"] == ["s1", "s2", "s3"]
    assert ovi.prompts() == [
        f"Driver {n} waves. <S>Line number {n}.<E>. <AUDCAP>Engines<ENDAUDCAP>." for n in (1, 2, 3)
    ]
    assert [c.sample_steps for c in ovi.calls] == [30, 30, 30]
    assert ovi.calls[0].image_dims == (576, 896)  # the prepared image, not the 720x1080 original
    entry = _state()["scenes"]["s1"]
    assert entry["backend"] == f"ovi:{ovi.url}" and entry["status"] == "done"
    assert "note: no HF_TOKEN set: running on the anonymous ZeroGPU quota" in result.stderr
    assert Path("out/board/tmp").is_dir() and not any(Path("out/board/tmp").iterdir())


class Stopwatch:
    """A clock that moves only when the backend sleeps (by each, when given, instead of what
    was asked): backoff limits hold however slow the machine is, and nobody waits."""

    def __init__(self, each: float | None = None) -> None:
        self.seconds = 0.0
        self.each = each
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.seconds += seconds if self.each is None else self.each


def test_a_busy_space_is_retried_with_backoff_and_each_retry_is_shown(
    ovi: StandIn, write_storyboard: Callable[..., Path]
) -> None:
    ovi.then("busy", "no-gpu")
    ovi.http_script.append(("/queue/join", 503))
    watch = Stopwatch()
    backend = OviSpaceBackend(settings=load_settings(), download_dir=Path("out/board/tmp"),
                              retry=RetryPolicy(attempts=6, initial=15), clock=watch.clock,
                              sleep=watch.sleep)  # fmt: skip
    events: list[Any] = []
    board = storyboards.load(write_storyboard(1)).storyboard

    summary = Runner(board, workdir=Path("out/board"), lanes=[backend], emit=events.append).run(
        RunOptions(checks=False)  # marker clips: no voice to judge
    )

    assert summary.done == ["s1"]
    assert [c.behaviour for c in ovi.calls] == ["busy", "no-gpu", "ok"]
    retries = [line for line in map(describe, events) if line and "is busy" in line]
    assert len(retries) == 3 and "retry 1/5" in retries[0] and "Queue is full" in " ".join(retries)
    assert len(watch.slept) == 3 and 15 <= watch.slept[0] <= 20  # the backoff, never waited for
    assert _state()["scenes"]["s1"]["attempts"] == 1  # busy retries are not failed attempts


def test_a_busy_space_is_given_up_after_the_backoff_time_on_the_backends_clock(
    ovi: StandIn, write_storyboard: Callable[..., Path]
) -> None:
    ovi.then(*["busy"] * 6)
    watch = Stopwatch(each=700)  # two waits pass the limit of 80 x 15 s
    backend = OviSpaceBackend(settings=load_settings(), download_dir=Path("out/board/tmp"),
                              retry=RetryPolicy(attempts=6, initial=15), clock=watch.clock,
                              sleep=watch.sleep)  # fmt: skip
    board = storyboards.load(write_storyboard(1)).storyboard

    summary = Runner(board, workdir=Path("out/board"), lanes=[backend]).run(
        RunOptions(checks=False)
    )

    assert summary.stopped is not None and "stayed busy or unreachable" in summary.stopped
    assert len(ovi.calls) == 3 and len(watch.slept) == 2  # stopped by time, not by tries


def test_a_space_that_stays_busy_stops_the_run_resumable(
    ovi: StandIn,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("F1GEN_BUSY_RETRIES", "3")
    ovi.then("busy", "busy", "busy")

    result = cli("generate", write_storyboard(2))

    assert result.exit_code == 75
    assert result.stderr.splitlines()[-1].startswith(
        f"stopped: the Space {ovi.url} stayed busy or unreachable through 3 tries"
    )
    assert result.stderr.splitlines()[-1].endswith("the run is saved; re-run later, off-peak")
    assert _state()["scenes"]["s1"]["failures"][0]["kind"] == "busy"


def test_ctrl_c_during_a_backoff_ends_the_wait_and_sends_nothing_more(
    ovi: StandIn, tmp_path: Path
) -> None:
    ovi.then("busy")
    backend = OviSpaceBackend(settings=load_settings(), download_dir=tmp_path / "dl",
                              retry=RetryPolicy(attempts=6, initial=3600))  # fmt: skip
    image = draw_portrait(tmp_path / "p.png", size=(576, 896))
    scene = Scene(number=1, id="a", action="x", speech=None, atmosphere=None, sample_steps=None,
                  fit="cover", image=image)  # fmt: skip
    request = ClipRequest(scene, "x", image, 40)
    waiting = threading.Event()
    outcome: list[BaseException] = []

    def report(update: BackendUpdate) -> None:
        if "retry 1/5" in update.message:
            waiting.set()  # the backoff's hour-long wait begins

    def make() -> None:
        try:
            backend.generate(request, tmp_path / "out.mp4", report)
        except BaseException as exc:
            outcome.append(exc)

    lane = threading.Thread(target=make, daemon=True)
    lane.start()
    assert waiting.wait(60)
    backend.interrupt()  # what the run does on Ctrl-C, from its own thread
    lane.join(60)

    assert not lane.is_alive()  # the hour was not waited for
    assert [str(e) for e in outcome] == ["interrupted: no job was sent"]
    assert [c.behaviour for c in ovi.calls] == ["busy"]
    backend.close()


def test_a_space_url_where_nothing_listens_is_a_configuration_error_at_once(
    variant: Callable[..., StandIn],
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    space = variant()
    space.stop()  # the port is closed now, as at a mistyped URL: connection refused
    monkeypatch.setenv("F1GEN_BUSY_RETRIES", "2")  # were it busy: one quick retry, then exit 75

    result = cli("generate", write_storyboard(1))

    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1] == (
        f"error: nothing answers at {space.url} (connection refused): check the URL in "
        "OVI_SPACE (or --space), or start the app there"
    )
    assert "busy" not in result.stderr


def test_a_space_that_answered_and_then_refuses_is_busy(
    variant: Callable[..., StandIn], tmp_path: Path
) -> None:
    space = variant()
    backend = OviSpaceBackend(settings=load_settings(), download_dir=tmp_path / "dl",
                              retry=RetryPolicy(attempts=2, initial=0.01))  # fmt: skip
    backend.prepare(lambda update: None)
    space.stop()  # restarting, say: it answered before, so it is busy
    image = draw_portrait(tmp_path / "p.png", size=(576, 896))
    scene = Scene(number=1, id="a", action="x", speech=None, atmosphere=None, sample_steps=None,
                  fit="cover", image=image)  # fmt: skip

    with pytest.raises(BackendBusy, match=r"stayed busy or unreachable through 2 tries \(last: "):
        backend.generate(ClipRequest(scene, "x", image, 40), tmp_path / "out.mp4", lambda u: None)
    backend.close()


def test_too_many_requests_at_connect_is_retried(
    ovi: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    ovi.http_script.append(("/config", 429))

    result = cli("generate", write_storyboard(1))

    assert result.exit_code == 0, result.stderr
    assert "Too many requests" in result.stderr


@pytest.mark.parametrize("bad", ["worker", "none", "truncated"])
def test_a_failed_run_is_a_failed_attempt_then_retried(
    bad: str, ovi: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    ovi.then(bad)

    result = cli("generate", write_storyboard(1))

    assert result.exit_code == 0, result.stderr
    entry = _state()["scenes"]["s1"]
    assert (entry["attempts"], entry["status"], len(entry["failures"])) == (2, "done", 1)
    assert (
        entry["failures"][0]["kind"]
        == {"worker": "failed run", "none": "failed run", "truncated": "rejected"}[bad]
    )
    assert len(list(Path("out/board/clips").glob("*.mp4"))) == 1


def test_a_scene_that_keeps_failing_is_given_up_and_the_run_goes_on(
    ovi: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    ovi.then("worker", "worker", "worker")

    result = cli("generate", write_storyboard(2), "--json")

    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    picked = {
        k: summary[k]
        for k in ("generated", "skipped", "failed", "remaining", "stopped", "exit_code")
    }
    assert picked == {"generated": ["s2"], "skipped": [], "failed": ["s1"], "remaining": [], "stopped": None,
                      "exit_code": 1}  # fmt: skip
    assert "failed: s1: see 'f1gen status', then re-run to retry" in result.stderr
    status = cli("status", "--json")
    scene = json.loads(status.stdout)["scenes"][0]
    assert (scene["state"], scene["attempts"], scene["last_error"]) == (
        "failed",
        3,
        "ZeroGPU worker error: GPU task aborted",
    )


def test_quota_stops_at_once_and_a_run_before_the_retry_time_makes_no_call(
    ovi: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(4)
    ovi.then("ok", "quota")

    first = cli("generate", board)

    assert first.exit_code == 75
    line = first.stderr.splitlines()[-1]
    assert line.startswith("stopped: ZeroGPU quota exhausted until ") and line.endswith(
        "the run is saved; re-run after that"
    )
    assert len(ovi.calls) == 2  # nothing after the quota error
    retry_at = datetime.fromisoformat(_state()["retry_after"][f"ovi:{ovi.url}"])
    assert timedelta(minutes=41) < retry_at - datetime.now(UTC) <= timedelta(minutes=41, seconds=10)
    ovi.requests.clear()

    early = cli("generate", board)

    assert early.exit_code == 75
    assert f"quota exhausted until {retry_at:%Y-%m-%d %H:%M} UTC" in early.stderr
    assert ovi.requests == []  # not even a connection

    state = _state()
    state["retry_after"][f"ovi:{ovi.url}"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    Path("out/board/state.json").write_text(json.dumps(state))
    later = cli("generate", board, "--json")

    assert later.exit_code == 0, later.stderr
    assert json.loads(later.stdout)["skipped"] == ["s1"]
    assert sorted(ovi.prompts()) == sorted(
        f"Driver {n} waves. <S>Line number {n}.<E>." for n in (1, 2, 3, 4)
    )
    assert _state()["retry_after"] == {}


@pytest.mark.parametrize(
    ("token_env", "message"),
    [(None, "the Space {url} needs a Hugging Face token: set HF_TOKEN in .env"),
     ("hf_expired", "HF_TOKEN was rejected by the Space {url}: refresh it in .env")],
)  # fmt: skip
def test_a_bad_token_stops_with_exit_3_and_the_fix(
    token_env: str | None, message: str, variant: Callable[..., StandIn],
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    space = variant(token=TOKEN)
    if token_env:
        monkeypatch.setenv("HF_TOKEN", token_env)

    result = cli("generate", write_storyboard(1))

    assert (result.exit_code, result.stderr.splitlines()[-1]) == (
        3,
        "error: " + message.format(url=space.url),
    )
    assert space.calls == []


def test_illegal_duration_is_configuration_not_retried(
    ovi: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    ovi.then("illegal")

    result = cli("generate", write_storyboard(2))

    assert result.exit_code == 3
    assert (
        "the Space refused the request (ZeroGPU illegal duration: The requested GPU duration"
        in result.stderr
    )
    assert len(ovi.calls) == 1


@pytest.mark.parametrize(
    ("shape", "message"),
    [("renamed", "has no /generate_scene endpoint (it offers: /make_video): check OVI_SPACE"),
     ("missing", "/generate_scene on {url} takes (text_prompt, image) and lacks sample_steps: f1gen cannot drive it")],
)  # fmt: skip
def test_an_api_that_changed_stops_before_anything_is_spent(
    shape: str,
    message: str,
    variant: Callable[..., StandIn],
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
) -> None:
    space = variant(shape)

    result = cli("generate", write_storyboard(1))

    assert result.exit_code == 3
    assert message.format(url=space.url) in result.stderr
    assert space.calls == []


def test_a_new_optional_parameter_is_left_to_its_default(
    variant: Callable[..., StandIn], write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    space = variant("extra")

    result = cli("generate", write_storyboard(1))

    assert result.exit_code == 0, result.stderr
    assert space.calls[0].extra == {"seed": 0}


def test_a_space_that_declares_video_seed_gets_the_scenes_seed(
    variant: Callable[..., StandIn], write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    space = variant("seeded")
    board = write_storyboard(
        [{"id": "a", "image": "images/p0.png", "action": "Waves.", "seed": 4242},
         {"id": "b", "image": "images/p1.png", "action": "Nods."}]
    )  # fmt: skip

    result = cli("generate", board, "--seed", "77")
    doctor = cli("doctor")

    assert result.exit_code == 0, result.stderr
    assert {c.text_prompt: c.extra for c in space.calls} == {
        "Waves.": {"video_seed": 4242},
        "Nods.": {"video_seed": 77},
    }  # its own, else --seed
    assert doctor.stdout.splitlines()[2] == (
        f"ok   space: {space.url}: /generate_scene takes text_prompt, sample_steps, image, "
        "video_seed"
    )


def test_without_a_seed_the_space_keeps_its_own(
    variant: Callable[..., StandIn], write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    space = variant("seeded")

    result = cli("generate", write_storyboard(1))

    assert result.exit_code == 0, result.stderr
    assert space.calls[0].extra == {"video_seed": 100}


def test_a_clip_past_the_time_limit_is_cancelled(ovi: StandIn, tmp_path: Path) -> None:
    ovi.then("slow:30")
    settings = replace(load_settings({"ovi_space": ovi.url}, environ={}), clip_timeout=0.5)
    backend = OviSpaceBackend(settings=settings, download_dir=tmp_path / "dl", poll_seconds=0.05)
    image = draw_portrait(tmp_path / "p.png", size=(576, 896))
    scene = Scene(
        number=1,
        id="a",
        action="x",
        speech=None,
        atmosphere=None,
        sample_steps=None,
        fit="cover",
        image=image,
    )

    with pytest.raises(GenerationError, match=r"no clip after 0.5 s: the job was cancelled"):
        backend.generate(
            ClipRequest(scene, "x", image, 40), tmp_path / "out.mp4", lambda update: None
        )

    backend.close()
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize(
    ("result", "name"),
    [
        ("{path}", "clip.mp4"),
        ({"video": "{path}", "subtitles": None}, "clip.mp4"),
        (["{path}"], "clip.mp4"),
    ],
)
def test_a_result_in_either_gradio_shape_is_accepted(
    result: Any, name: str, tmp_path: Path
) -> None:
    source = tmp_path / "dl" / "hash" / name
    source.parent.mkdir(parents=True)
    source.write_bytes(b"clip")
    filled = json.loads(json.dumps(result).replace("{path}", str(source)))
    backend = OviSpaceBackend(settings=load_settings(environ={}), download_dir=tmp_path / "dl")

    backend._take(filled, tmp_path / "out.mp4")

    assert (tmp_path / "out.mp4").read_bytes() == b"clip" and not source.parent.exists()


def test_no_result_is_a_failed_run(
    ovi: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    ovi.then("none", "none")

    result = cli("generate", write_storyboard(1), "--attempts", "2")

    assert result.exit_code == 1
    failures = _state()["scenes"]["s1"]["failures"]
    assert [(f["kind"], f["message"]) for f in failures] == [
        ("failed run", "the Space returned no clip (its app swallowed an error)")
    ] * 2


def test_fatal_messages_name_the_fix() -> None:
    backend = OviSpaceBackend(
        settings=load_settings({"ovi_space": "nobody/nothing"}, environ={}), download_dir=Path("dl")
    )

    assert backend._fatal_message(ValueError("Could not find Space: nobody/nothing."), "") == (
        "Space nobody/nothing was not found: check OVI_SPACE (an owner/name id or a URL)")  # fmt: skip
    assert backend._fatal_message(ValueError("The current space is in the invalid state: PAUSED."), "PAUSED") == (
        "the Space nobody/nothing is not running (PAUSED): wait for it, or use another")  # fmt: skip


def test_the_client_never_reports_the_space_to_telemetry(
    ovi: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "GRADIO_ANALYTICS_ENABLED", "True"
    )  # even when the user's environment says so
    backend = OviSpaceBackend(
        settings=load_settings({"ovi_space": ovi.url}, environ={}), download_dir=tmp_path
    )

    backend.prepare(lambda update: None)

    assert backend._client is not None and backend._client.analytics_enabled is False
    backend.close()


def test_the_token_never_appears_in_output_state_or_errors(
    variant: Callable[..., StandIn], write_storyboard: Callable[..., Path], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    space = variant(token=TOKEN)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    space.then("worker", "busy", "none")
    board = write_storyboard(2)

    runs = [
        cli("generate", board, "--json"),
        cli("status", "--json"),
        cli("generate", board, "--dry-run"),
    ]
    monkeypatch.setenv("HF_TOKEN", TOKEN[::-1])
    runs.append(
        cli("generate", board, "--force", "--json")
    )  # rejected: the message must not echo it

    assert runs[0].exit_code == 0, runs[0].stderr
    assert runs[-1].exit_code == 3
    texts = [r.stdout + r.stderr for r in runs]
    texts += [
        p.read_text(errors="replace")
        for p in Path("out").rglob("*")
        if p.is_file() and p.suffix != ".mp4"
    ]
    for text in texts:
        assert TOKEN not in text and TOKEN[::-1] not in text


def test_a_24_scene_run_with_a_fault_on_every_third_call_finishes(
    ovi: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    faults = ["busy", "worker", "none", "truncated", "no-gpu"]
    for index in range(40):
        ovi.then(*(["ok", "ok", faults[index % len(faults)]]))

    result = cli("generate", write_storyboard(24), "--json")

    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["generated"]) == 24
    clips = list(Path("out/board/clips").glob("*.mp4"))
    assert len(clips) == 24
    assert all(len(entry["takes"]) == 1 for entry in _state()["scenes"].values())
    assert sum(c.behaviour != "ok" for c in ovi.calls) >= 8
    accepted = ovi.prompts()  # calls that returned a good clip: exactly one per scene
    assert len(accepted) == len(set(accepted)) == 24


def test_dry_run_estimates_without_calling_the_space(
    ovi: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(3), "--dry-run")

    assert result.exit_code == 0
    assert (
        "3 to generate, 0/3 scenes ready; about 3.0 GPU minutes; ZeroGPU charges 7.0 min of quota: "
        "2 clips a day on a free account (2 days), 17 clips a day on PRO (1 day)"
        in result.stdout.splitlines()
    )
    assert ovi.requests == []


def test_doctor_checks_each_piece_on_its_own_line(
    ovi: StandIn, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)

    result = cli("doctor")

    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   ffmpeg",
        "ok   token",
        "ok   space",
        "skip storage",
    ]
    assert lines[1] == "ok   token: HF_TOKEN is set"
    assert (
        lines[2] == f"ok   space: {ovi.url}: /generate_scene takes text_prompt, sample_steps, image"
    )
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("shape", "expected"),
    [("renamed", "FAIL space: the Space {url} has no /generate_scene endpoint (it offers: /make_video): check OVI_SPACE"),
     ("down", "FAIL space: nothing answers at {url} (connection refused): check the URL in OVI_SPACE (or --space), or start the app there")],
)  # fmt: skip
def test_doctor_fails_with_exit_3_and_the_reason(
    shape: str, expected: str, variant: Callable[..., StandIn], cli: Callable[..., Any]
) -> None:
    space = variant("standard" if shape == "down" else shape)
    if shape == "down":
        space.stop()

    result = cli("doctor")

    assert result.exit_code == 3
    assert result.stdout.splitlines()[2] == expected.format(url=space.url)
