"""Unattended runs: windows, limits, quota waits, logs, notifications and cron, on an injected clock."""

from __future__ import annotations

import json
import os
import shlex
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest

from f1gen import storyboard as storyboards
from f1gen.backends.ovi_space import OviSpaceBackend
from f1gen.config import load_settings
from f1gen.cron import cron_hours, parse_every
from f1gen.errors import BadInputError
from f1gen.events import Summary
from f1gen.runner import Runner, RunOptions
from f1gen.schedule import Limits, Window, stop_reason
from f1gen.state import StateStore
from tests.support.mediatools import MarkerClip
from tests.support.ovi_stand_in import StandIn
from tests.support.scripted import ScriptedBackend, good

UTC_ZONE = ZoneInfo("UTC")
NIGHT = Window.parse("22:00-06:00", UTC_ZONE)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class FakeClock:
    """Wall time and monotonic time that move only when told to (or when someone sleeps)."""

    def __init__(self, start: datetime) -> None:
        self.wall = start
        self.mono = 1000.0
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.wall

    def clock(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


def slow(clip: MarkerClip, clock: FakeClock, seconds: float = 60) -> Callable[[Path], None]:
    """A take that costs `seconds` on the fake clock."""

    def take(dest: Path) -> None:
        clock.advance(seconds)
        good(clip)(dest)

    return take


def _run(board: Path, backend: Any, clock: FakeClock, limits: Limits) -> Summary:
    loaded = storyboards.load(board).storyboard
    runner = Runner(loaded, workdir=Path("out/board"), lanes=[backend], now=clock.now, sleep=clock.sleep,
                    clock=clock.clock)  # fmt: skip
    return runner.run(RunOptions(limits=limits, checks=False))


# The window itself.


@pytest.mark.parametrize(
    ("moment", "inside", "closes"),
    [("2026-11-24T23:30", True, "2026-11-25T06:00"), ("2026-11-25T02:00", True, "2026-11-25T06:00"),
     ("2026-11-25T05:59", True, "2026-11-25T06:00"), ("2026-11-25T06:00", False, "2026-11-26T06:00"),
     ("2026-11-25T12:00", False, "2026-11-26T06:00"), ("2026-11-25T22:00", True, "2026-11-26T06:00")],
)  # fmt: skip
def test_a_window_across_midnight(moment: str, inside: bool, closes: str) -> None:
    assert NIGHT.contains(at(moment)) is inside
    assert NIGHT.closes_at(at(moment)) == at(closes)


def test_a_window_in_another_zone() -> None:
    london = Window.parse("01:00-05:00", ZoneInfo("Europe/London"))

    assert london.contains(at("2026-07-01T00:30"))  # 01:30 in London in summer
    assert not london.contains(at("2026-07-01T04:30"))  # 05:30 in London


@pytest.mark.parametrize("text", ["22-06", "25:00-06:00", "22:00/06:00", ""])
def test_a_bad_window_names_the_format(text: str) -> None:
    with pytest.raises(BadInputError, match=r"write it as HH:MM-HH:MM, e.g. 22:00-06:00"):
        Window.parse(text, UTC_ZONE)


def test_a_clip_that_would_overrun_the_window_does_not_start() -> None:
    limits = Limits(window=NIGHT)

    assert stop_reason(limits, now=at("2026-11-25T05:58"), made=0, spent=0, expected=60) is None
    reason = stop_reason(limits, now=at("2026-11-25T05:59:30"), made=0, spent=0, expected=60)
    assert (
        reason
        == "the next clip (~60 s) would overrun the window, which closes at 2026-11-25 06:00 UTC"
    )


# The runner on the injected clock.


def test_inside_the_window_clips_are_made(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    clock = FakeClock(at("2026-11-24T23:00"))
    backend = ScriptedBackend([slow(c, clock) for c in marker_clips[:3]])

    summary = _run(write_storyboard(3), backend, clock, Limits(window=NIGHT))

    assert summary.done == ["s1", "s2", "s3"] and summary.stopped is None


def test_outside_the_window_nothing_is_called(write_storyboard: Callable[..., Path]) -> None:
    clock = FakeClock(at("2026-11-24T12:00"))
    backend = ScriptedBackend([])

    summary = _run(write_storyboard(2), backend, clock, Limits(window=NIGHT))

    assert backend.calls == [] and summary.done == []
    assert summary.stopped == (
        "outside the window 22:00-06:00 UTC; it opens at 2026-11-24 22:00 UTC: the run is saved; "
        "the next run in the window goes on"
    )


def test_the_run_stops_when_the_next_clip_would_overrun_the_end(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    clock = FakeClock(at("2026-11-25T05:57:00"))
    backend = ScriptedBackend([slow(c, clock, 70) for c in marker_clips[:4]])

    summary = _run(write_storyboard(4), backend, clock, Limits(window=NIGHT))

    assert summary.done == ["s1", "s2"]  # 05:57 -> 05:58:10 -> 05:59:20; a third would end 06:00:30
    assert summary.stopped is not None and "would overrun the window" in summary.stopped
    assert "(~70 s)" in summary.stopped  # the measured history, not the 60 s estimate


def test_max_clips_and_budget_stop_the_run(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    clock = FakeClock(at("2026-11-25T01:00"))
    board = write_storyboard(5)

    by_count = _run(
        board,
        ScriptedBackend([slow(c, clock) for c in marker_clips[:5]]),
        clock,
        Limits(max_clips=2),
    )
    by_budget = _run(board, ScriptedBackend([slow(c, clock) for c in marker_clips[:5]]), clock,
                     Limits(budget_seconds=150))  # fmt: skip

    assert by_count.done == ["s1", "s2"] and by_count.stopped is not None
    assert by_count.stopped.startswith("made 2 clips, the --max-clips limit")
    assert by_budget.done == ["s3", "s4"]  # 60 + 60 s spent; a third 60 s would pass 150 s
    assert (
        by_budget.stopped is not None
        and "would pass the --budget of 2.5 GPU minutes" in by_budget.stopped
    )


def test_max_clips_counts_every_take_not_scenes(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    clock = FakeClock(at("2026-11-25T01:00"))
    board = write_storyboard(3, extra={"defaults": {"takes": 2}})
    backend = ScriptedBackend([slow(c, clock) for c in marker_clips[:6]])

    summary = _run(board, backend, clock, Limits(max_clips=3))

    takes = {k: len(v.takes) for k, v in StateStore(Path("out/board")).read().scenes.items()}
    # Every scene's first take, then the second ones: three clips, and no scene has both yet.
    assert summary.clips == 3 and takes == {"s1": 1, "s2": 1, "s3": 1}
    assert summary.done == [] and backend.calls == ["s1", "s2", "s3"]
    assert summary.stopped is not None
    assert summary.stopped.startswith("made 3 clips, the --max-clips limit")


# Quota on the injected clock, against the real local Space.


@pytest.fixture
def space(marker_clips: list[MarkerClip], monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    stand_in = StandIn(marker_clips[0].path).start()
    monkeypatch.setenv("OVI_SPACE", stand_in.url)
    yield stand_in
    stand_in.stop()


def _ovi_run(board: Path, space: StandIn, clock: FakeClock, limits: Limits) -> tuple[Summary, int]:
    settings = load_settings({"ovi_space": space.url}, environ={})
    backend = OviSpaceBackend(settings=settings, download_dir=Path("out/board/tmp"), now=clock.now)
    before = len(space.requests)
    try:
        summary = _run(board, backend, clock, limits)
    finally:
        backend.close()
    return summary, len(space.requests) - before


def test_quota_stop_then_an_early_run_calls_nothing_then_a_later_run_finishes(
    write_storyboard: Callable[..., Path], space: StandIn
) -> None:
    board = write_storyboard(3)
    clock = FakeClock(at("2026-11-25T01:00"))
    space.then("ok", "quota")

    first, _ = _ovi_run(board, space, clock, Limits(window=NIGHT))
    clock.advance(20 * 60)
    early, requests = _ovi_run(board, space, clock, Limits(window=NIGHT))
    clock.advance(25 * 60)  # past 01:41:10, the time the Space named
    later, _ = _ovi_run(board, space, clock, Limits(window=NIGHT))

    assert first.done == ["s1"] and first.retry_at == at("2026-11-25T01:41:10")
    assert early.done == [] and requests == 0  # not a single request reached the Space
    assert (
        early.stopped is not None and "quota exhausted until 2026-11-25 01:41 UTC" in early.stopped
    )
    assert later.done == ["s2", "s3"] and later.stopped is None
    assert sorted(space.prompts()) == sorted(
        f"Driver {n} waves. <S>Line number {n}.<E>." for n in (1, 2, 3)
    )


def test_wait_sleeps_until_the_quota_returns_inside_the_window(
    write_storyboard: Callable[..., Path], space: StandIn
) -> None:
    board = write_storyboard(2)
    clock = FakeClock(at("2026-11-25T01:00"))
    space.then("quota")

    summary, _ = _ovi_run(board, space, clock, Limits(window=NIGHT, wait=True))

    assert summary.done == ["s1", "s2"] and clock.slept == [41 * 60 + 10]


def test_wait_does_not_sleep_past_the_window(
    write_storyboard: Callable[..., Path], space: StandIn
) -> None:
    board = write_storyboard(2)
    clock = FakeClock(at("2026-11-25T05:40"))
    space.then("quota")  # back at 06:21:10, after the window closes

    summary, _ = _ovi_run(board, space, clock, Limits(window=NIGHT, wait=True))

    assert summary.done == [] and clock.slept == []
    assert summary.stopped is not None and "quota exhausted" in summary.stopped


# Through the command line: logs, notifications, --stitch.


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook.received
    server.shutdown()
    server.server_close()


def test_a_finished_run_logs_notifies_and_stitches(
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook

    result = cli(
        "generate", write_storyboard(2), "--backend", "animatic", "--stitch", "--notify", url
    )

    assert result.exit_code == 0, result.stderr
    assert Path("out/board/final.mp4").is_file()
    log = next(Path("out/board/logs").glob("generate-*.log")).read_text().splitlines()
    assert all(line[:20].endswith("Z") for line in log)  # every line timestamped
    assert any("done s2 in" in line for line in log) and any(
        "final cut: out/board/final.mp4" in line for line in log
    )
    summary = [line for line in log if "stopped: all scenes done" in line]
    assert (
        summary
        and "scenes done 2; ready 2/2; failed 0; remaining 0; clips made 2; takes rejected 0"
        in summary[0]
    )
    assert received[0]["generated"] == ["s1", "s2"] and received[0]["exit_code"] == 0
    assert received[0]["cut"]["output"] == "out/board/final.mp4"


def test_a_failed_notification_is_logged_never_fatal(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli(
        "generate",
        write_storyboard(1),
        "--backend",
        "animatic",
        "--notify",
        "http://127.0.0.1:9/hook",
    )

    assert result.exit_code == 0
    log = next(Path("out/board/logs").glob("generate-*.log")).read_text()
    assert "notification failed: the notification could not reach http://127.0.0.1:9/hook" in log


def test_a_stopped_run_exits_75_and_says_when_to_come_back(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(3)
    StateStore(Path("out/board")).path.parent.mkdir(parents=True)

    result = cli("generate", board, "--backend", "animatic", "--max-clips", "1", "--json")

    assert result.exit_code == 75
    outcome = json.loads(result.stdout)
    assert outcome["generated"] == ["s1"] and outcome["exit_code"] == 75
    assert result.stderr.splitlines()[-1].startswith("stopped: made 1 clip, the --max-clips limit")
    log = next(Path("out/board/logs").glob("generate-*.log")).read_text()
    assert "ready 1/3; failed 0; remaining 2" in log and "next: re-run later (it resumes)" in log


# cron.


@pytest.fixture
def fake_crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A crontab program on PATH that keeps the table in a file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    table = tmp_path / "crontab.txt"
    script = bin_dir / "crontab"
    script.write_text(
        "#!/bin/sh\n"
        f'TABLE="{table}"\n'
        'if [ "$1" = "-l" ]; then\n'
        '  if [ -f "$TABLE" ]; then cat "$TABLE"; else echo "no crontab for tester" >&2; exit 1; fi\n'
        'else cp "$1" "$TABLE"; fi\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return table


def test_cron_prints_an_entry_with_absolute_paths(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)

    result = cli("cron", board, "--window", "22:00-06:00", "--every", "30m", "--stitch")

    assert result.exit_code == 0
    line = result.stdout.strip()
    assert line.startswith("*/30 ")
    cwd = Path.cwd().resolve()
    assert f"cd {cwd} && F1GEN_ENV_FILE={cwd}/.env " in line
    assert (
        f" generate {board.resolve()} --window 22:00-06:00 --tz UTC --stitch >> {cwd}/out/board/logs/cron.log 2>&1"
        in line
    )
    assert line.endswith(f"# f1gen:{board.resolve()}")


def test_cron_install_keeps_other_entries_and_is_idempotent(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], fake_crontab: Path
) -> None:
    fake_crontab.write_text("MAILTO=ops@example.com\n0 3 * * * /usr/bin/backup\n")
    board = write_storyboard(1)

    first = cli("cron", board, "--window", "22:00-06:00", "--install")
    second = cli("cron", board, "--window", "22:00-06:00", "--install")
    changed = cli("cron", board, "--window", "23:00-05:00", "--install")

    assert (
        "installed in your crontab" in first.stderr and "already in your crontab" in second.stderr
    )
    lines = fake_crontab.read_text().splitlines()
    assert lines[:2] == ["MAILTO=ops@example.com", "0 3 * * * /usr/bin/backup"]
    assert len(lines) == 3 and "--window 23:00-05:00" in lines[2]
    assert "installed" in changed.stderr


def test_cron_install_on_an_empty_crontab(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], fake_crontab: Path
) -> None:
    result = cli("cron", write_storyboard(1), "--install")

    assert result.exit_code == 0
    assert fake_crontab.read_text().count("# f1gen:") == 1


def test_cron_hours_follow_the_window_in_local_time() -> None:
    local = datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # UTC+1 in November

    assert cron_hours(NIGHT, local=local) == "23,0,1,2,3,4,5,6"
    assert cron_hours(None) == "*"
    assert parse_every("2h") == ("h", 2)
    with pytest.raises(BadInputError, match=r"--every '90s'"):
        parse_every("90s")


def test_a_failed_notification_is_shown_on_stderr_too(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(1), "--backend", "animatic", "--notify",
                 "http://127.0.0.1:9/hook")  # fmt: skip

    assert result.exit_code == 0
    assert (
        "warning: notification failed: the notification could not reach http://127.0.0.1:9/hook"
        in result.stderr
    )


def _as_cron_runs(line: str) -> tuple[str, str]:
    """What cron hands to the shell for a crontab line, and what it feeds the command's stdin:
    an unescaped % ends the command (the rest is stdin, % as new lines); \\% is a plain %."""
    command = line.split(" ", 5)[5]
    kept, index = [], 0
    while index < len(command):
        char = command[index]
        if char == "\\" and command[index + 1 : index + 2] == "%":
            kept.append("%")
            index += 2
            continue
        if char == "%":
            return "".join(kept), command[index + 1 :].replace("%", "\n")
        kept.append(char)
        index += 1
    return "".join(kept), ""


def test_a_percent_sign_survives_cron(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], fake_crontab: Path
) -> None:
    board = write_storyboard(1, name="100%.yaml")
    url = "https://hooks.example.com/x?text=a%20b"

    result = cli("cron", board, "--notify", url, "--install")
    again = cli("cron", board, "--notify", url, "--install")

    command, stdin = _as_cron_runs(result.stdout.strip())
    words = shlex.split(command, comments=True)
    assert stdin == ""
    assert words[words.index("--notify") + 1] == url
    assert str(board.resolve()) in words and words[-1] == "2>&1"
    assert "already in your crontab" in again.stderr
    assert fake_crontab.read_text().count("# f1gen:") == 1
