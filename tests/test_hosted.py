"""Hosted Ovi APIs (fal.ai, Replicate) through their real client libraries, against local
stand-ins of their HTTP protocols: many clips in flight, each paid request followed to its
result, never sent twice, every failure classified, and no key anywhere it should not be."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fal_client import FalClientHTTPError, FalClientTimeoutError
from replicate.exceptions import ModelError, ReplicateError

from f1gen import storyboard as storyboards
from f1gen.backends import ClipRequest, build_lanes
from f1gen.backends.fal import FalProvider
from f1gen.backends.hosted import ReplyLost, input_marker, sent_as
from f1gen.backends.replicate import ReplicateProvider
from f1gen.backends.traits import Verdict
from f1gen.config import load_settings
from f1gen.errors import GenerationError, StateError
from f1gen.ledger import Ledger
from f1gen.plan import plan_scene
from tests.support.faults import ctrl_c_during
from tests.support.hosted_stand_in import FalStandIn, ReplicateStandIn
from tests.support.mediatools import MarkerClip

FAL_KEY = "fal-SECRETkey-0123456789:abcdef"
REPLICATE_TOKEN = "r8_SECRETtoken0123456789"


@pytest.fixture
def fal(marker_clips: list[MarkerClip], monkeypatch: pytest.MonkeyPatch) -> Iterator[FalStandIn]:
    """fal's queue on 127.0.0.1 over https, named by FAL_QUEUE_RUN_HOST and trusted."""
    stand_in = FalStandIn(marker_clips[0].path, key=FAL_KEY, gen_seconds=0.3).start()
    for name, value in stand_in.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("F1GEN_BUSY_RETRIES", "2")
    yield stand_in
    stand_in.stop()


@pytest.fixture
def rep(
    marker_clips: list[MarkerClip], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ReplicateStandIn]:
    """Replicate's API on 127.0.0.1, named by REPLICATE_BASE_URL."""
    stand_in = ReplicateStandIn(
        marker_clips[0].path, token=REPLICATE_TOKEN, gen_seconds=0.3
    ).start()
    for name, value in stand_in.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("F1GEN_BUSY_RETRIES", "2")
    yield stand_in
    stand_in.stop()


def _state() -> dict[str, Any]:
    return json.loads(Path("out/board/state.json").read_text())


def _everything_written() -> str:
    return "\n".join(
        p.read_text(errors="replace")
        for p in Path("out").rglob("*")
        if p.suffix in (".json", ".log")
    )


def _request(write_storyboard: Callable[..., Path], tmp_path: Path) -> ClipRequest:
    scene = storyboards.load(write_storyboard(1)).storyboard.scenes[0]
    assert scene.image is not None
    return ClipRequest(scene=scene, prompt="Driver 1 waves.", image=scene.image, sample_steps=40,
                       fingerprint="f" * 64)  # fmt: skip


# fal.ai


def test_fal_makes_every_clip_once_many_at_a_time_and_records_what_each_cost(
    fal: FalStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    scenes = [{"id": f"s{n}", "image": "images/p0.png", "action": f"Driver {n} waves.", "seed": 7 * n}
              for n in range(1, 6)]  # fmt: skip
    result = cli(
        "generate", write_storyboard(scenes), "--backend", "fal", "--parallel", "3", "--json"
    )

    assert result.exit_code == 0, result.stderr
    assert sorted(fal.script.submissions.values()) == [1] * 5
    sent = {job.prompt: job.inputs for job in fal.script.jobs.values()}
    assert sent["Driver 2 waves."]["seed"] == 14
    assert sent["Driver 2 waves."]["image_url"].startswith("data:image/png;base64,")
    assert sent["Driver 2 waves."]["num_inference_steps"] == 40
    assert all("authorization" not in h for h in fal.script.file_headers)  # the CDN gets no key
    assert json.loads(result.stdout)["cost_usd"] == 1.0
    assert {e["cost_usd"] for e in _state()["scenes"].values()} == {0.2}
    assert json.loads(Path("out/board/requests.json").read_text())["requests"] == {}  # all used
    status = cli("status")
    assert "paid $1.00" in status.stdout
    assert FAL_KEY not in result.stderr + result.stdout + status.stdout + _everything_written()


def test_a_fal_request_left_waiting_is_followed_by_the_next_run_not_sent_again(
    fal: FalStandIn, write_storyboard: Callable[..., Path], tmp_path: Path
) -> None:
    fal.script.queue_seconds = 0.5
    request = _request(write_storyboard, tmp_path)
    [first] = build_lanes("fal", settings=load_settings(), workdir=tmp_path / "work", parallel=1)

    def stop_when_queued(update: Any) -> None:
        if update.message.startswith("queue"):
            first.interrupt()  # as if f1gen died here: the request stays at fal

    with pytest.raises(
        GenerationError, match=r"^interrupted: \w+ goes on at fal; the next run fetches it$"
    ):
        first.generate(request, tmp_path / "a.mp4", stop_when_queued)
    [following] = build_lanes(
        "fal", settings=load_settings(), workdir=tmp_path / "work", parallel=1
    )
    timing = following.generate(request, tmp_path / "b.mp4", lambda update: None)

    assert fal.script.submissions == {"Driver 1 waves.": 1}
    assert (tmp_path / "b.mp4").read_bytes() == fal.script.clip.read_bytes()
    assert timing.cost_usd == 0.2


def test_a_fal_submit_whose_reply_was_lost_is_held_back_until_the_user_says_resend(
    fal: FalStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    fal.script.then("drop")
    board = write_storyboard(2)

    held = cli("generate", board, "--backend", "fal", "--attempts", "3")
    held_state = _state()["scenes"]["s1"]
    again = cli("generate", board, "--backend", "fal")
    resent = cli("generate", board, "--backend", "fal", "--resend-unknown")

    for run in (held, again):  # said once, not retried, not a failure: exit 75, resumable
        assert run.exit_code == 75, run.stderr
        output = run.stdout + run.stderr
        assert (
            output.count(
                "s1: held back: a request for it may already be paid on fal (f1gen stopped while "
                "sending it at"
            )
            == 1
        ), output
        assert (
            "stopped: 1 scene held back (s1): a request for each may already be paid on fal, "
            "which cannot be searched: check your fal dashboard; to send them again, re-run "
            "with --resend-unknown (or leave them held back)"
        ) in run.stderr, run.stderr
        assert output.count("--resend-unknown") == 1
        assert "failed 0;" in run.stderr and "attempt 2" not in run.stderr
    assert (held_state["status"], held_state["failures"], held_state["attempts"]) == (
        "pending",
        [],
        0,
    )
    assert resent.exit_code == 0, resent.stderr
    assert fal.script.submissions == {
        "Driver 1 waves. <S>Line number 1.<E>.": 2,
        "Driver 2 waves. <S>Line number 2.<E>.": 1,
    }


@pytest.mark.parametrize(
    ("script", "code", "message"),
    [
        (
            ["401"],
            3,
            "error: FAL_KEY was refused by fal (HTTP 401: Unauthorized): check the key in .env",
        ),
        (
            ["403"],
            75,
            "stopped: fal refuses work: the account's balance is used up (HTTP 403: User is locked. Reason: Exhausted balance.",
        ),
        (
            ["402"],
            75,
            "stopped: fal refuses work: the account's balance is used up (HTTP 402: Insufficient credit): top it up at fal.ai/dashboard/billing",
        ),
        (
            ["422"],
            3,
            "error: fal refused the input (HTTP 422: image_url: Could not download the image): update f1gen or report it",
        ),
        (
            ["500", "500"],
            75,
            "stopped: fal stayed busy or unreachable through 2 tries (last: HTTP 500: Internal server error): the run is saved; re-run later",
        ),
    ],
)
def test_fal_refusals_stop_the_run_with_what_to_do(
    fal: FalStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    script: list[str], code: int, message: str,
) -> None:  # fmt: skip
    fal.script.then(*script)

    result = cli("generate", write_storyboard(1), "--backend", "fal")

    assert result.exit_code == code
    assert message in result.stderr
    assert json.loads(Path("out/board/requests.json").read_text())["requests"] == {}  # nothing paid


def test_fal_retries_a_429_itself_and_a_run_failed_at_fal_is_a_failed_attempt(
    fal: FalStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    fal.script.then("429", "fail")

    result = cli("generate", write_storyboard(1), "--backend", "fal")

    assert result.exit_code == 0, result.stderr
    assert (
        "failed: Runner disconnected during processing (runner_disconnected); retrying"
        in result.stderr
    )
    assert fal.script.submissions == {"Driver 1 waves. <S>Line number 1.<E>.": 2}


def test_a_wrong_fal_key_never_shows(
    fal: FalStandIn,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAL_KEY", "fal-WRONGsecret-999")

    result = cli("generate", write_storyboard(1), "--backend", "fal")

    assert result.exit_code == 3
    assert "fal-WRONGsecret-999" not in result.stderr + result.stdout + _everything_written()


def test_fal_without_a_key_stops_before_anything_is_sent(
    fal: FalStandIn,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FAL_KEY")

    result = cli("generate", write_storyboard(1), "--backend", "fal")

    assert result.exit_code == 3
    assert (
        "error: no FAL_KEY set: add your fal.ai key (fal.ai/dashboard/keys) to .env"
        in result.stderr
    )
    assert not fal.script.jobs


def _fal_error(code: int, detail: Any) -> FalClientHTTPError:
    response = httpx.Response(
        code, json={"detail": detail}, request=httpx.Request("POST", "https://q/x")
    )
    return FalClientHTTPError(detail, code, dict(response.headers), response=response)


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (_fal_error(401, "Unauthorized"), Verdict.FATAL),
        (
            _fal_error(
                403,
                "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.",
            ),
            Verdict.QUOTA,
        ),
        (
            _fal_error(403, "User is locked. Reason: Admin lock. Please contact support@fal.ai"),
            Verdict.FATAL,
        ),
        (_fal_error(402, "Payment required"), Verdict.QUOTA),
        (
            _fal_error(
                422, [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]
            ),
            Verdict.FATAL,
        ),
        (
            _fal_error(
                422, [{"loc": ["body"], "msg": "flagged", "type": "content_policy_violation"}]
            ),
            Verdict.FAILED_RUN,
        ),
        (_fal_error(429, "Too many requests"), Verdict.BUSY),
        (_fal_error(503, "runner_scheduling_failure"), Verdict.BUSY),
        (FalClientTimeoutError(timeout=60.0), Verdict.BUSY),
        (httpx.ConnectError("refused"), Verdict.BUSY),
        (ReplyLost("ReadError after sending"), Verdict.BUSY),
        (KeyError("x"), None),
    ],
)
def test_the_fal_failure_table(exc: BaseException, verdict: Verdict | None) -> None:
    assert FalProvider(load_settings(environ={})).classify(exc) is verdict


# Replicate


def test_replicate_makes_every_clip_once_and_charges_its_gpu_seconds(
    rep: ReplicateStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(4), "--backend", "replicate", "--json")

    assert result.exit_code == 0, result.stderr
    assert sorted(rep.script.submissions.values()) == [1] * 4
    assert all("authorization" not in h for h in rep.script.file_headers)  # no token to the CDN
    assert {e["cost_usd"] for e in _state()["scenes"].values()} == {round(0.3 * 0.001525, 4)}
    first = next(iter(rep.script.jobs.values())).inputs
    assert set(first) == {
        "prompt",
        "image",
        "seed",
        "video_negative_prompt",
        "audio_negative_prompt",
    }
    assert REPLICATE_TOKEN not in result.stderr + result.stdout + _everything_written()


def test_a_replicate_create_whose_reply_was_lost_is_found_not_created_again(
    rep: ReplicateStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    rep.script.then("drop")
    for n in range(4):  # other predictions, so that the search turns pages
        rep.script.accept(f"older {n}", {"prompt": f"older {n}", "seed": n}, "ok")

    result = cli("generate", write_storyboard(1), "--backend", "replicate")

    assert result.exit_code == 0, result.stderr
    assert rep.script.submissions["Driver 1 waves. <S>Line number 1.<E>."] == 1
    assert rep.list_calls >= 1


def _sent(stand_in: ReplicateStandIn | FalStandIn) -> dict[tuple[str, Any], int]:
    """Requests the stand-in took, by what identifies a take: its prompt and its seed."""
    sent: dict[tuple[str, Any], int] = {}
    for job in stand_in.script.jobs.values():
        key = (job.prompt, job.inputs.get("seed"))
        sent[key] = sent.get(key, 0) + 1
    return sent


@pytest.mark.parametrize(
    ("options", "script"),
    [
        (["--seed", "5"], ["drop"]),  # a seed from the command line
        (["--takes", "2"], ["ok", "drop"]),  # the second take's derived seed
        (["--seed", "5", "--takes", "2"], ["drop", "drop"]),  # both takes' replies lost
    ],
)
def test_a_replicate_create_whose_reply_was_lost_is_found_whatever_seed_was_sent(
    rep: ReplicateStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    options: list[str], script: list[str],
) -> None:  # fmt: skip
    rep.script.then(*script)
    for n in range(4):  # other predictions, so that the search turns pages
        rep.script.accept(f"older {n}", {"prompt": f"older {n}", "seed": 5}, "ok")

    result = cli("generate", write_storyboard(1), "--backend", "replicate", *options)

    assert result.exit_code == 0, result.stderr
    mine = {k: n for k, n in _sent(rep).items() if not k[0].startswith("older")}
    takes = 2 if "--takes" in options else 1
    assert sorted(mine.values()) == [1] * takes, mine  # each take paid once
    assert len(_state()["scenes"]["s1"]["takes"]) == takes


@pytest.mark.parametrize(
    ("script", "code", "message"),
    [
        (
            ["401"],
            3,
            "error: REPLICATE_API_TOKEN was refused by Replicate (HTTP 401: Unauthenticated: You did not pass a valid authentication token): check it in .env",
        ),
        (
            ["402"],
            75,
            "stopped: Replicate refuses work: no credit left (HTTP 402: Insufficient credit: You have insufficient credit to run this model.",
        ),
        (
            ["422"],
            3,
            "error: Replicate refused the input (HTTP 422: Input validation failed: - image: Does not match format 'uri'): update f1gen or report it",
        ),
        (
            ["500", "500"],
            75,
            "stopped: replicate stayed busy or unreachable through 2 tries (last: HTTP 500: Internal Server Error: Something went wrong)",
        ),
    ],
)
def test_replicate_refusals_stop_the_run_with_what_to_do(
    rep: ReplicateStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    script: list[str], code: int, message: str,
) -> None:  # fmt: skip
    rep.script.then(*script)

    result = cli("generate", write_storyboard(1), "--backend", "replicate")

    assert result.exit_code == code
    assert message in result.stderr


def test_a_throttled_create_is_retried_by_f1gen_and_a_failed_prediction_is_a_failed_attempt(
    rep: ReplicateStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    rep.script.then("429", "fail")

    result = cli("generate", write_storyboard(1), "--backend", "replicate")

    assert result.exit_code == 0, result.stderr
    assert "replicate is busy (HTTP 429: Request was throttled" in result.stderr
    assert "failed: CUDA out of memory; retrying" in result.stderr


def _replicate_error(status: int) -> ReplicateError:
    return ReplicateError(title="t", detail="d", status=status)


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (_replicate_error(401), Verdict.FATAL),
        (_replicate_error(402), Verdict.QUOTA),
        (_replicate_error(404), Verdict.FATAL),
        (_replicate_error(422), Verdict.FATAL),
        (_replicate_error(429), Verdict.BUSY),
        (_replicate_error(503), Verdict.BUSY),
        (httpx.ReadTimeout("slow"), Verdict.BUSY),
        (KeyError("x"), None),
    ],
)
def test_the_replicate_failure_table(exc: BaseException, verdict: Verdict | None) -> None:
    assert ReplicateProvider(load_settings(environ={})).classify(exc) is verdict


def test_a_failed_prediction_from_the_client_is_a_failed_run() -> None:
    from replicate.prediction import Prediction

    failed = Prediction(id="p1", model="m", version="v", status="failed", input={}, output=None,
                        logs="", error="boom", metrics={}, created_at=None, started_at=None,
                        completed_at=None, urls={})  # fmt: skip
    assert (
        ReplicateProvider(load_settings(environ={})).classify(ModelError(failed))
        is Verdict.FAILED_RUN
    )


# The ledger


def test_a_damaged_ledger_stops_the_run_rather_than_risk_paying_twice(tmp_path: Path) -> None:
    (tmp_path / "requests.json").write_text("{not json")

    with pytest.raises(
        StateError,
        match=r"requests.json: damaged request ledger: it lists requests already paid for",
    ):
        Ledger(tmp_path).get("s1@f")


def test_ctrl_c_during_a_busy_wait_ends_it_and_leaves_nothing_recorded_as_sent(
    fal: FalStandIn, write_storyboard: Callable[..., Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "3600")  # a wait no test could sit through
    monkeypatch.setenv("F1GEN_BUSY_RETRIES", "5")
    fal.script.then("500")
    [lane] = build_lanes("fal", settings=load_settings(), workdir=tmp_path / "work", parallel=1)

    raised = ctrl_c_during(lane, _request(write_storyboard, tmp_path), tmp_path / "a.mp4",
                           when="retry 1 in")  # fmt: skip

    assert isinstance(raised, GenerationError)
    assert raised.message == "interrupted while fal was busy: re-run to go on"
    assert not fal.script.next and not fal.script.submissions  # asked once (the 500), not again
    ledger = json.loads((tmp_path / "work" / "requests.json").read_text())
    assert ledger["requests"] == {}  # fal answered 500: nothing of it is paid


def test_a_take_adopted_after_a_kill_is_recorded_at_what_its_request_cost(
    rep: ReplicateStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    scene = storyboards.load(board).storyboard.scenes[0]
    assert scene.image is not None
    workdir = Path("out/board")
    [lane] = build_lanes("replicate", settings=load_settings(), workdir=workdir, parallel=1)
    made = plan_scene(scene, backend_identity=lane.identity, steps=40)
    take = workdir / "clips" / f"01-s1-{made.fingerprint[:8]}.mp4"
    take.parent.mkdir(parents=True)
    request = ClipRequest(scene=scene, prompt=made.prompt, image=scene.image, sample_steps=40,
                          fingerprint=made.fingerprint)  # fmt: skip
    lane.generate(request, take, lambda update: None)  # then killed: the state never heard of it

    result = cli("generate", board, "--backend", "replicate")

    assert result.exit_code == 0, result.stderr
    assert "s1: its take is already on disk (01-s1-" in result.stderr
    assert len(rep.script.jobs) == 1  # adopted, not made again
    entry = _state()["scenes"]["s1"]
    paid = round(0.3 * 0.001525, 4)
    assert [t["cost_usd"] for t in entry["takes"]] == [paid]
    assert entry["cost_usd"] == paid


def test_a_request_is_recognised_by_the_whole_input_it_sent() -> None:
    sent = {"prompt": "Driver 1 waves.", "image": "data:image/png;base64,AAAA", "seed": 5}
    marker = input_marker(sent)

    assert sent_as(marker, dict(sent))
    assert not sent_as(marker, {**sent, "seed": 6})  # another take of the same scene
    assert not sent_as(marker, {**sent, "image": "data:image/png;base64,BBBB"})
    assert not sent_as(marker, {**sent, "prompt": "Driver 2 waves."})
    # The provider shows the uploaded image under its own URL: the rest must still match.
    stored = {**sent, "image": "https://replicate.delivery/xyz/image.png"}
    assert sent_as(marker, stored)
    assert not sent_as(marker, {**stored, "seed": 6})
    assert sent_as("5", sent)  # a ledger written before: its marker was the seed
