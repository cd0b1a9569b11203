"""Lanes and retries as a person watching the run sees them: every retry shown as it happens,
one endpoint's trouble never holding up another, and quota stops that know whose quota it was."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from f1gen import media
from f1gen import storyboard as storyboards
from f1gen.backends import BackendUpdate, Report
from f1gen.backends.gradio_door import RetryPolicy
from f1gen.backends.ovi_space import OviSpaceBackend
from f1gen.config import load_settings
from f1gen.errors import BackendBusy
from f1gen.events import Notice
from f1gen.runner import Runner, RunOptions
from f1gen.settings import Secret
from f1gen.state import StateStore
from tests.support.mediatools import MarkerClip
from tests.support.net import free_port
from tests.support.ovi_stand_in import StandIn
from tests.support.scripted import ScriptedBackend, good

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _runner(board: Path, lanes: list[Any], events: list[Any]) -> Runner:
    loaded = storyboards.load(board).storyboard
    return Runner(loaded, workdir=Path("out") / loaded.stem, lanes=lanes, emit=events.append)


def test_each_retry_of_a_dead_endpoint_is_shown_when_it_happens_with_the_next_try_time(
    write_storyboard: Callable[..., Path],
) -> None:
    events: list[Any] = []
    shown_before_sleeping: list[bool] = []

    def sleep(seconds: float) -> None:
        retries = [e for e in events if isinstance(e, Notice) and "retry" in e.message]
        shown_before_sleeping.append(len(retries) == len(shown_before_sleeping) + 1)

    settings = load_settings(environ={"OVI_SPACE": f"http://127.0.0.1:{free_port()}/"})
    backend = OviSpaceBackend(settings=settings, download_dir=Path("tmp"), sleep=sleep,
                              retry=RetryPolicy(attempts=3, initial=10), now=lambda: NOON)  # fmt: skip

    summary = _runner(write_storyboard(1), [backend], events).run(RunOptions())

    assert summary.stopped is not None and "stayed busy or unreachable" in summary.stopped
    assert shown_before_sleeping == [True, True]  # live, not all at once when the backoff ends
    retries = [e.message for e in events if isinstance(e, Notice) and "retry" in e.message]
    for number, line in enumerate(retries, start=1):
        found = re.search(rf"; retry {number}/2 in (\d+) s \(at (\d\d:\d\d:\d\d) UTC\)$", line)
        assert found, line
        wait = float(re.search(r"in (\d+) s", line).group(1))  # type: ignore[union-attr]
        assert abs(datetime.strptime(found.group(2), "%H:%M:%S").replace(
            year=2026, month=3, day=1, tzinfo=UTC) - NOON - timedelta(seconds=wait)) <= timedelta(seconds=1)  # fmt: skip


class Lane(ScriptedBackend):
    """A scripted endpoint with a name, an account, and a prepare that can be held up."""

    def __init__(self, name: str, takes: list[Any], *, account: str = "anonymous",
                 held: threading.Event | None = None) -> None:  # fmt: skip
        super().__init__(takes)
        self.name_, self.account_, self.held = name, account, held
        self.held_too_long = False

    @property
    def identity(self) -> str:
        return f"scripted:{self.name_}"

    @property
    def account(self) -> str:
        return self.account_

    def prepare(self, report: Report) -> None:
        if self.held is not None:
            report(BackendUpdate("busy; retry 1/5 in 300 s", notable=True))
            if not self.held.wait(timeout=5):  # a long backoff, cut short by the test
                self.held_too_long = True
            raise BackendBusy("stayed busy")


def test_one_endpoints_backoff_never_holds_up_another(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    release = threading.Event()
    healthy = Lane("a", [good(c) for c in marker_clips[:4]])
    dead = Lane("b", [], held=release)
    events: list[Any] = []

    try:
        summary = _runner(write_storyboard(4), [healthy, dead], events).run(RunOptions())
    finally:
        release.set()

    assert summary.done == ["s1", "s2", "s3", "s4"] and healthy.calls == summary.done
    assert not dead.held_too_long  # the run finished while the dead endpoint was still waiting
    assert any(isinstance(e, Notice) and e.message == "scripted:b: busy; retry 1/5 in 300 s"
               for e in events)  # fmt: skip


def test_a_slow_check_never_holds_up_the_other_lanes(
    write_storyboard: Callable[..., Path],
    marker_clips: list[MarkerClip],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    last = threading.Event()
    calls: list[str] = []

    class Counting(Lane):
        def generate(self, request: Any, dest: Path, report: Report) -> Any:
            calls.append(request.scene.id)
            if len(calls) == 4:
                last.set()
            return super().generate(request, dest, report)

    a = Counting("a", [good(c) for c in marker_clips[:4]])
    b = Counting("b", [good(c) for c in marker_clips[4:8]])
    real, waited = media.check_clip, []

    def slow(path: Path, **spec: Any) -> Any:
        if not waited:  # the first clip back is checked only once the last scene was asked for
            waited.append(last.wait(timeout=60))
        return real(path, **spec)

    monkeypatch.setattr(media, "check_clip", slow)

    summary = _runner(write_storyboard(4), [a, b], []).run(RunOptions())

    assert sorted(summary.done) == ["s1", "s2", "s3", "s4"]
    assert waited == [True]  # the other lane went on while the first clip was being checked


def _quota_stop(account: str) -> None:
    store = StateStore(Path("out/board"))
    state = store.load(storyboard=str(Path("board.yaml").resolve()), title="Test board")
    state.retry_after["scripted:a"] = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    state.retry_account["scripted:a"] = account
    store.save(state)


def test_a_quota_stop_holds_for_the_same_account(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(1)
    _quota_stop("anonymous")
    lane = Lane("a", [good(marker_clips[0])])

    summary = _runner(board, [lane], []).run(RunOptions())

    assert lane.calls == [] and summary.stopped is not None
    assert summary.stopped.startswith("ZeroGPU quota exhausted until ")


def test_another_account_is_not_held_by_the_anonymous_quota_stop(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(1)
    _quota_stop("anonymous")
    lane = Lane("a", [good(marker_clips[0])], account="token-0123456789ab")
    events: list[Any] = []

    summary = _runner(board, [lane], events).run(RunOptions())

    assert lane.calls == ["s1"] and summary.done == ["s1"]
    assert any(isinstance(e, Notice) and e.message.endswith(
        "was for another account: trying with this one") for e in events)  # fmt: skip
    assert json.loads(Path("out/board/state.json").read_text())["retry_after"] == {}


def test_force_tries_despite_a_stored_quota_stop_with_a_warning(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(1)
    _quota_stop("anonymous")
    lane = Lane("a", [good(marker_clips[0])])
    events: list[Any] = []

    summary = _runner(board, [lane], events).run(RunOptions(force=True))

    assert lane.calls == ["s1"] and summary.done == ["s1"]
    warnings = [e.message for e in events if isinstance(e, Notice) and "--force" in e.message]
    assert len(warnings) == 1 and warnings[0].startswith("warning: scripted:a: the Space said")


def test_the_account_is_the_token_but_never_shows_it() -> None:
    def account(token: str | None) -> str:
        settings = load_settings(environ={"HF_TOKEN": token} if token else {})
        return OviSpaceBackend(settings=settings, download_dir=Path("tmp")).account

    first, second = account("hf_FIRSTtokenSECRET"), account("hf_SECONDtokenSECRET")

    assert account(None) == "anonymous"
    assert first.startswith("token-") and first != second and "SECRET" not in first + second
    assert Secret("hf_x").reveal() == "hf_x"


def test_an_interrupted_attempt_is_counted_apart(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip],
    cli: Callable[..., Any],
) -> None:  # fmt: skip
    board = write_storyboard(1)

    def killed(dest: Path) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _runner(board, [ScriptedBackend([killed])], []).run(RunOptions())
    _runner(board, [ScriptedBackend([good(marker_clips[0])])], []).run(RunOptions())

    status = cli("status", board, "--json")
    table = cli("status", board)

    row = json.loads(status.stdout)["scenes"][0]
    assert (row["state"], row["attempts"], row["interrupted"]) == ("done", 1, 1)
    assert "1 (+1 interrupted)" in table.stdout


@pytest.fixture
def guarded(marker_clips: list[MarkerClip]) -> Any:
    """A local Space stand-in that wants the token hf_GPU3secretTOKEN."""
    stand_in = StandIn(marker_clips[0].path, token="hf_GPU3secretTOKEN").start()
    yield stand_in
    stand_in.stop()


@pytest.mark.parametrize("through", ["OVI_SPACE", "F1GEN_SPACES_FILE"])
def test_a_single_endpoint_uses_the_token_its_name_gives(
    through: str, guarded: StandIn, write_storyboard: Callable[..., Path],
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("HF_TOKEN", "hf_someOTHERaccount")
    monkeypatch.setenv("GPU3", "hf_GPU3secretTOKEN")
    if through == "OVI_SPACE":
        monkeypatch.setenv("OVI_SPACE", f"{guarded.url}@GPU3")
    else:
        Path("spaces.txt").write_text(f"# the one GPU\n{guarded.url}@GPU3\n")
        monkeypatch.setenv("F1GEN_SPACES_FILE", "spaces.txt")

    result = cli("generate", write_storyboard(1), "--json")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["generated"] == ["s1"] and len(guarded.calls) == 1


def test_a_token_given_as_an_option_is_named_as_the_option_when_refused(
    guarded: StandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OVI_SPACE", guarded.url)

    result = cli("generate", write_storyboard(1), "--hf-token", "hf_WRONGtoken")

    assert (result.exit_code, result.stderr.splitlines()[-1]) == (
        3,
        f"error: --hf-token was rejected by the Space {guarded.url}: pass a valid one",
    )


def test_a_password_in_an_endpoint_url_never_shows(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("OVI_SPACE", f"http://studio:Pa55wordXYZ@127.0.0.1:{port}/")
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("F1GEN_BUSY_RETRIES", "2")

    runs = [cli("generate", write_storyboard(1)), cli("status", "--json"),
            cli("doctor", "--space", f"http://studio:Pa55wordXYZ@127.0.0.1:{port}/")]  # fmt: skip

    texts = [r.stdout + r.stderr for r in runs]
    texts += [
        p.read_text()
        for p in Path("out").rglob("*")
        if p.is_file() and p.suffix in (".json", ".log")
    ]
    assert runs[0].exit_code == 75
    assert f"the Space http://***@127.0.0.1:{port}/ stayed busy or unreachable" in runs[0].stderr
    assert all("Pa55wordXYZ" not in text for text in texts)
