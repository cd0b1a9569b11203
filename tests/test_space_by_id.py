"""OVI_SPACE as a Space id: resolved on a stand-in of the Hugging Face Hub, then the Space's app.

huggingface_hub reads HF_ENDPOINT when it is imported, so the commands run as subprocesses with
HF_ENDPOINT in their environment are the honest form; the table of cases runs in-process, with
the endpoint huggingface_hub took from the environment pointed at the stand-in the same way
(`huggingface_hub.constants.ENDPOINT`, read by every `HfApi()`).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

from f1gen.backends.ovi_space import OviSpaceBackend, Verdict, classify
from f1gen.config import load_settings
from tests.support.hub_stand_in import Egress, HubStandIn, WebPage
from tests.support.mediatools import MarkerClip
from tests.support.ovi_stand_in import StandIn

ROOT = Path(__file__).resolve().parents[1]
SPACE = "studio/ovi-test"
TOKEN = "hf_TESTsecretTOKENforTHEhub0123456"


@pytest.fixture(scope="module")
def app_server(marker_clips: list[MarkerClip]) -> Iterator[StandIn]:
    """The Space's app (a real Gradio server), where the Hub says the Space is hosted."""
    stand_in = StandIn(marker_clips[0].path).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def hub_server() -> Iterator[HubStandIn]:
    hub = HubStandIn(tokens={TOKEN}).start()
    yield hub
    hub.stop()


@pytest.fixture
def app(app_server: StandIn) -> StandIn:
    app_server.reset()
    return app_server


@pytest.fixture
def hub(
    hub_server: HubStandIn, app: StandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> HubStandIn:
    """The Hub stand-in knowing SPACE (RUNNING, hosted by the app), with f1gen pointed at it."""
    hub_server.spaces.clear()
    hub_server.script.clear()
    hub_server.requests.clear()
    hub_server.add(SPACE, app.url)
    monkeypatch.setattr(hf_constants, "ENDPOINT", hub_server.url)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token saved by a login
    monkeypatch.setenv("OVI_SPACE", SPACE)
    # Waits of 0.05 s, 4 s in all: short, with room for a loaded machine.
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.05")
    return hub_server


def _f1gen(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """f1gen in its own process, with this environment on top of the test's."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    full.pop("GRADIO_ANALYTICS_ENABLED", None)  # f1gen must turn telemetry off by itself
    return subprocess.run([sys.executable, "-m", "f1gen", *map(str, args)], env=full,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def _last(result: Any) -> str:
    return str(result.stderr).splitlines()[-1]


def _hub_error(kind: type[HfHubHTTPError], status: int) -> HfHubHTTPError:
    request = httpx2.Request("GET", f"https://huggingface.co/api/spaces/{SPACE}")
    return kind(f"{status} Client Error", response=httpx2.Response(status, request=request))


def _app_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://127.0.0.1:7860/config")
    response = httpx.Response(status, request=request)
    return httpx.HTTPStatusError(f"{status}", request=request, response=response)


# Network failures from every HTTP stack gradio_client and huggingface_hub use are "busy".
CLASSIFIED = [
    (httpx2.ConnectError("[Errno 111] Connection refused"), Verdict.BUSY),
    (httpx2.ReadTimeout("timed out"), Verdict.BUSY),
    (httpx2.RemoteProtocolError("peer closed connection"), Verdict.BUSY),
    (OSError(errno.ECONNRESET, "Connection reset by peer"), Verdict.BUSY),
    (OSError(errno.ENETUNREACH, "Network is unreachable"), Verdict.BUSY),
    (_hub_error(HfHubHTTPError, 500), Verdict.BUSY),
    (_hub_error(HfHubHTTPError, 503), Verdict.BUSY),
    (_hub_error(HfHubHTTPError, 429), Verdict.BUSY),
    (_app_error(502), Verdict.BUSY),
    (_hub_error(HfHubHTTPError, 401), Verdict.FATAL),
    (_hub_error(RepositoryNotFoundError, 404), Verdict.FATAL),
    (_hub_error(RepositoryNotFoundError, 401), Verdict.FATAL),
    (_app_error(404), Verdict.FATAL),
    (OfflineModeIsEnabled("Cannot reach https://huggingface.co: offline mode is enabled."), Verdict.FATAL),
    (json.JSONDecodeError("Expecting value", "<html>", 0), Verdict.FATAL),
    (OSError(errno.ENOSPC, "No space left on device"), None),  # a full disk is not a busy Space
    (PermissionError(errno.EACCES, "Permission denied"), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("exc", "verdict"), CLASSIFIED, ids=[f"{type(e).__name__}-{i}" for i, (e, _) in enumerate(CLASSIFIED)]
)  # fmt: skip
def test_failures_from_every_http_stack_are_classified(
    exc: BaseException, verdict: Verdict | None
) -> None:
    assert classify(exc) is verdict


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [(TOKEN, 403, "HF_TOKEN was refused by the Hugging Face Hub (HTTP 403): refresh it in .env"),
     (None, 403, f"the Hub refused the Space {SPACE} (HTTP 403): set HF_TOKEN in .env"),
     (None, 410, f"the Hub answered HTTP 410 about the Space {SPACE}: check OVI_SPACE")],
)  # fmt: skip
def test_other_hub_refusals_name_the_space_and_the_fix(
    token: str | None, status: int, message: str, tmp_path: Path
) -> None:
    environ = {"HF_TOKEN": token} if token else {}
    settings = load_settings({"ovi_space": SPACE}, environ=environ)
    backend = OviSpaceBackend(settings=settings, download_dir=tmp_path)

    assert backend._fatal_message(_hub_error(HfHubHTTPError, status), "") == message


# As users run it: subprocesses with HF_ENDPOINT.


def test_a_space_id_is_resolved_on_the_hub_and_the_token_goes_nowhere_else(
    hub: HubStandIn, app: StandIn, write_storyboard: Callable[..., Path]
) -> None:
    egress = Egress().start()
    probe = "import httpx, httpx2\nfor get in (httpx.get, httpx2.get):\n    try:\n        get('https://huggingface.co/api/telemetry')\n    except Exception:\n        pass\n"
    try:
        trap = subprocess.run([sys.executable, "-c", probe], env={**os.environ, **egress.environment()},
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert [s.target for s in egress.requests] == ["huggingface.co:443"] * 2, trap.stderr
        egress.requests.clear()  # the trap catches both HTTP stacks; now the real run
        result = _f1gen("generate", write_storyboard(2), "--json",
                        env={"HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN, **egress.environment()})  # fmt: skip
    finally:
        egress.stop()

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["generated"] == ["s1", "s2"]
    state = json.loads(Path("out/board/state.json").read_text())
    assert state["scenes"]["s1"]["backend"] == f"ovi:{SPACE}"
    assert f"GET /api/spaces/{SPACE}" in {
        f"{s.method} {s.target.split('?')[0]}" for s in hub.requests
    }
    # The token went to the Hub (about this Space only) and to the Space's app; nothing left
    # for any other host, telemetry included.
    assert {s.target.split("?")[0] for s in hub.requests if s.authorization} <= {
        f"/api/spaces/{SPACE}", f"/api/spaces/{SPACE}/runtime"}  # fmt: skip
    assert hub.authorizations() == {f"Bearer {TOKEN}"}
    assert app.tokens_seen == {f"Bearer {TOKEN}"}
    assert egress.requests == []
    assert TOKEN not in result.stdout + result.stderr


def test_a_hub_that_cannot_be_reached_is_busy_then_exit_75_in_one_clean_line(
    write_storyboard: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = HubStandIn().start()
    closed.stop()  # nothing listens there now
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    result = _f1gen("generate", write_storyboard(1),
                    env={"HF_ENDPOINT": closed.url, "OVI_SPACE": SPACE, "F1GEN_BUSY_RETRIES": "2",
                         "F1GEN_BACKOFF_SECONDS": "0.01"})  # fmt: skip

    assert result.returncode == 75
    assert "Traceback" not in result.stderr
    assert _last(result) == (
        f"stopped: the Space {SPACE} stayed busy or unreachable through 2 tries (last: "
        "ConnectError: [Errno 111] Connection refused): the run is saved; re-run later, off-peak"
    )
    assert (
        "the Space is busy (ConnectError: [Errno 111] Connection refused); retry 1/1"
        in result.stderr
    )
    assert not list(Path("out/board").glob("clips/*.mp4"))


def test_doctor_with_no_hub_says_so_and_still_checks_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = HubStandIn().start()
    closed.stop()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    result = _f1gen("doctor", env={"HF_ENDPOINT": closed.url, "OVI_SPACE": SPACE})

    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "ok   ffmpeg", "ok   token", "FAIL space", "skip storage"]  # fmt: skip
    assert result.stdout.splitlines()[2] == (
        f"FAIL space: {SPACE} is busy or unreachable: ConnectError: [Errno 111] Connection refused"
    )


# The stages a Space goes through, and what the Hub answers.


def test_a_running_space_makes_clips(
    hub: HubStandIn, app: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(1))

    assert result.exit_code == 0, result.stderr
    assert len(app.prompts()) == 1


def test_a_building_space_is_waited_for_with_a_line_saying_so(
    hub: HubStandIn, app: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    hub.add(SPACE, app.url, "BUILDING", "BUILDING", "APP_STARTING", "RUNNING")

    result = cli("generate", write_storyboard(1))

    assert result.exit_code == 0, result.stderr
    assert f"the Space {SPACE} is building: waiting (up to 4 s)" in result.stderr
    assert f"the Space {SPACE} is app_starting: waiting (up to 4 s)" in result.stderr
    assert len(app.prompts()) == 1


def test_a_space_that_keeps_building_is_not_waited_for_forever(
    hub: HubStandIn, app: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.01")  # at most 0.8 s of waiting
    hub.add(SPACE, app.url, "BUILDING")

    result = cli("generate", write_storyboard(1))

    assert result.exit_code == 75
    assert _last(result).startswith(f"stopped: the Space {SPACE} is still building after ")
    assert _last(result).endswith(" s: the run is saved; re-run later")
    assert app.requests == []


def test_a_sleeping_space_is_woken_by_a_visit_then_used(
    hub: HubStandIn, app: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    hub.add(
        SPACE, app.url, "SLEEPING", "APP_STARTING", "RUNNING", visited=lambda: "/" in app.requests
    )

    result = cli("generate", write_storyboard(1))

    assert result.exit_code == 0, result.stderr
    assert f"the Space {SPACE} is asleep: waking it (up to 4 s)" in result.stderr
    assert app.requests[0] == "/"
    assert len(app.prompts()) == 1


@pytest.mark.parametrize("stage", ["PAUSED", "RUNTIME_ERROR", "BUILD_ERROR", "STOPPED"])
def test_a_space_that_is_not_running_stops_with_exit_3_before_anything_is_spent(
    stage: str, hub: HubStandIn, app: StandIn, write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
) -> None:  # fmt: skip
    hub.add(SPACE, app.url, stage)

    result = cli("generate", write_storyboard(1))

    assert (result.exit_code, _last(result)) == (3, (
        f"error: the Space {SPACE} is not running (the Hub says {stage}): restart it on its "
        "Hugging Face page, or set OVI_SPACE to another"))  # fmt: skip
    assert app.requests == []


@pytest.mark.parametrize(
    ("space", "token", "message"),
    [(SPACE, "hf_wrongTOKEN000", "HF_TOKEN was refused by the Hugging Face Hub (HTTP 401): refresh it in .env"),
     ("studio/nothing", TOKEN, "Space studio/nothing was not found on the Hub: check OVI_SPACE (owner/name; if it is private, HF_TOKEN must be allowed to read it)"),
     ("studio/nothing", None, "Space studio/nothing was not found on the Hub: check OVI_SPACE (owner/name; if it is private, set HF_TOKEN in .env)"),
     ("studio/private", None, "Space studio/private was not found on the Hub: check OVI_SPACE (owner/name; if it is private, set HF_TOKEN in .env)")],
    ids=["token-refused-401", "missing-404", "missing-anonymous-401", "private-anonymous"],
)  # fmt: skip
def test_a_refused_token_or_a_missing_space_is_exit_3_with_the_fix(
    space: str, token: str | None, message: str, hub: HubStandIn, app: StandIn,
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    hub.add("studio/private", app.url, private=True)
    monkeypatch.setenv("OVI_SPACE", space)
    if token:
        monkeypatch.setenv("HF_TOKEN", token)

    result = cli("generate", write_storyboard(1))

    assert (result.exit_code, _last(result)) == (3, f"error: {message}")
    assert "Traceback" not in result.stderr and app.requests == []
    assert TOKEN not in result.stderr


def test_a_hub_error_now_and_then_is_retried(
    hub: HubStandIn, app: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    hub.script.extend([500, 503])

    result = cli("generate", write_storyboard(1))

    assert result.exit_code == 0, result.stderr
    assert "the Space is busy (the Hub answered HTTP 500); retry 1/5" in result.stderr
    assert "the Space is busy (the Hub answered HTTP 503); retry 2/5" in result.stderr
    assert len(app.prompts()) == 1


def test_a_hub_that_keeps_failing_stops_resumable(
    hub: HubStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("F1GEN_BUSY_RETRIES", "2")
    hub.script.extend([500, 500])

    result = cli("generate", write_storyboard(1))

    assert (result.exit_code, _last(result)) == (75, (
        f"stopped: the Space {SPACE} stayed busy or unreachable through 2 tries (last: the Hub "
        "answered HTTP 500): the run is saved; re-run later, off-peak"))  # fmt: skip


def test_hub_offline_mode_is_configuration(
    hub: HubStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)

    result = cli("generate", write_storyboard(1))

    assert (result.exit_code, _last(result)) == (3, (
        f"error: HF_HUB_OFFLINE is set, but the Space id {SPACE} must be looked up on the Hugging "
        "Face Hub: unset HF_HUB_OFFLINE, or set OVI_SPACE to the Space's URL"))  # fmt: skip
    assert hub.requests == []


# What OVI_SPACE names is not a Space (issue 12, item 21): name it, and the fix.


@pytest.mark.parametrize("bad", ["not a space!!", "studio/", "a/b/c"])
def test_a_malformed_space_id_is_named(
    bad: str, hub: HubStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OVI_SPACE", bad)

    result = cli("generate", write_storyboard(1))

    assert (result.exit_code, _last(result)) == (3, (
        f"error: OVI_SPACE {bad!r} is neither a Space id (owner/name) nor a URL (http://... or "
        "https://...): fix it in .env or pass --space"))  # fmt: skip
    assert hub.requests == []


@pytest.mark.parametrize(
    ("status", "body", "code", "message"),
    [(404, "Not Found", 3, "error: {url} answered HTTP 404 instead of a Gradio app's config: check OVI_SPACE (a Space id or the URL of a Gradio app)"),
     (200, "<html>a blog</html>", 3, "error: {url} did not answer like a Gradio app (no JSON config): check OVI_SPACE (a Space id or the URL of a Gradio app)"),
     (500, "Internal Server Error", 75, "stopped: the Space {url} stayed busy or unreachable through 2 tries (last: the app answered HTTP 500): the run is saved; re-run later, off-peak")],
    ids=["404", "not-json", "500"],
)  # fmt: skip
def test_a_url_that_is_not_a_gradio_app_is_named(
    status: int, body: str, code: int, message: str, write_storyboard: Callable[..., Path],
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    page = WebPage(status, body).start()
    monkeypatch.setenv("OVI_SPACE", page.url + "/")
    monkeypatch.setenv("F1GEN_BUSY_RETRIES", "2")
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.01")
    try:
        result = cli("generate", write_storyboard(1))
    finally:
        page.stop()

    assert (result.exit_code, _last(result)) == (code, message.format(url=page.url + "/"))
    assert "sample_steps" not in result.stderr
