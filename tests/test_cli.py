"""The commands as a user meets them: help, exit codes, and the whole pipeline offline."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer.main

from f1gen import storyboard as storyboards
from f1gen.cli import app
from f1gen.runner import Runner, RunOptions
from f1gen.state import work_lock
from tests.support import mediatools
from tests.support.mediatools import MarkerClip
from tests.support.scripted import ScriptedBackend, failing, good

GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)  # type: ignore[attr-defined]


def test_every_command_is_listed() -> None:
    assert COMMANDS == [
        "cron",
        "doctor",
        "generate",
        "pick",
        "prompts",
        "push",
        "review",
        "status",
        "stitch",
        "validate",
        "voice",
    ]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, cli: Callable[..., Any]) -> None:
    result = cli(command, "--help")

    assert result.exit_code == 0
    assert "Usage: " in result.output
    summary = GROUP.commands[command].help  # type: ignore[attr-defined]
    assert summary and summary.split(":")[0] in " ".join(result.output.split())


def test_prompts_follow_the_seed_format(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard([
        {"id": "win", "image": "images/p0.png", "action": "Max celebrates. He shouts",
         "speech": "Yes! Another win!", "atmosphere": "Crowd cheering"},
        {"id": "quiet", "image": "images/p1.png", "action": "A slow pan over the grid.",
         "atmosphere": "Wind"},
        {"id": "bare", "image": "images/p1.png", "action": "Silence."},
    ])  # fmt: skip

    result = cli("prompts", board, "--json")

    assert result.exit_code == 0
    assert [p["prompt"] for p in json.loads(result.stdout)] == [
        "Max celebrates. He shouts <S>Yes! Another win!<E>. <AUDCAP>Crowd cheering<ENDAUDCAP>.",
        "A slow pan over the grid. <AUDCAP>Wind<ENDAUDCAP>.",
        "Silence.",
    ]


def test_dry_run_estimates_gpu_time_and_makes_nothing(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(4, extra={"defaults": {"sample_steps": 20}})

    result = cli("generate", board, "--dry-run", "--json")

    assert result.exit_code == 0
    plan = json.loads(result.stdout)
    assert [s["id"] for s in plan["generate"]] == ["s1", "s2", "s3", "s4"]
    assert plan["gpu_seconds"] == 120
    # ZeroGPU charges 20 x 3 + 20 = 80 s a clip: 3 a day fit a free 5 min, 30 a PRO 40 min.
    ovi = next(e for e in plan["estimates"] if e["backend"] == "ovi")
    assert ovi["clips_per_day"] == {"free": 3, "pro": 30}
    assert plan["quota_days"] == ovi["quota_days"] == {"free": 2, "pro": 1}
    assert not Path("out").exists()


def test_generate_status_stitch_offline_end_to_end(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(3)

    generated = cli("generate", board, "--backend", "animatic", "--json")
    status = cli("status", "--json")
    stitched = cli("stitch", "--json")

    assert generated.exit_code == 0, generated.stderr
    assert json.loads(generated.stdout)["generated"] == ["s1", "s2", "s3"]
    assert [s["state"] for s in json.loads(status.stdout)["scenes"]] == ["done"] * 3
    assert stitched.exit_code == 0, stitched.stderr
    cut = json.loads(stitched.stdout)
    assert cut["output"] == "out/board/final.mp4" and cut["video_copied"] is True
    assert cut["duration"] == pytest.approx(3 * 121 / 24, abs=0.001)
    starts = mediatools.stream_starts(Path(cut["output"]))
    assert starts == {"video": 0.0, "audio": 0.0}


def test_stitch_waits_for_no_run_in_its_folder_and_says_whose_it_is(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    assert cli("generate", board, "--backend", "animatic").exit_code == 0

    with work_lock(Path("out/board")):  # a run under way: it sweeps tmp/, the cut's scratch
        held = cli("stitch", board)
    after = cli("stitch", board)

    assert held.exit_code == 75
    assert re.fullmatch(
        rf"error: out/board is in use by f1gen pid {os.getpid()} on \S+ \(since [^)]+\): "
        r"wait for that run to finish or stop it, then re-run\n",
        held.stderr,
    )
    assert after.exit_code == 0 and Path("out/board/final.mp4").is_file()


def test_stitch_lists_scenes_that_are_not_done(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(3)
    cli("generate", board, "--backend", "animatic", "--only", "2")

    result = cli("stitch", board)

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: 2 of 3 scenes are not done yet: 1 (s1), 3 (s3): run 'f1gen generate {board}' first\n"
    )


def test_stitch_without_a_storyboard_needs_exactly_one_run(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    assert (
        cli("stitch").stderr
        == "error: no runs under out/ yet: start one with 'f1gen generate STORYBOARD' (or give the storyboard)\n"
    )
    for name in ("a.yaml", "b.yaml"):
        cli("generate", write_storyboard(1, name=name), "--backend", "animatic")

    result = cli("stitch")

    assert result.exit_code == 2
    assert (
        result.stderr
        == "error: several runs under out/ (out/a, out/b): give the storyboard to pick one\n"
    )


def test_status_shows_failures_and_changed_scenes(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(3)
    loaded = storyboards.load(board).storyboard
    backend = ScriptedBackend(
        [good(marker_clips[0]), failing("GPU task aborted"), good(marker_clips[2])]
    )
    Runner(loaded, workdir=Path("out/board"), lanes=[backend]).run(RunOptions(max_attempts=1))
    board.write_text(board.read_text().replace("Line number 3.", "Something new."))

    result = cli("status", board)
    table = json.loads(cli("status", board, "--json").stdout)

    assert result.exit_code == 0
    assert [(s["id"], s["state"], s["attempts"], s["last_error"]) for s in table["scenes"]] == [
        ("s1", "done", 1, None), ("s2", "failed", 1, "GPU task aborted"), ("s3", "changed", 1, None)
    ]  # fmt: skip
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in result.stdout.splitlines()]
    rows = {row[1]: (row[2], row[-1]) for row in cells if row and row[0].isdigit()}
    assert rows == {"s1": ("done", ""), "s2": ("failed", "GPU task aborted"), "s3": ("changed", "")}
    assert "1/3 scenes ready" in result.stdout


def test_unknown_backend_is_bad_input(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(1), "--backend", "magic")

    assert (result.exit_code, result.stderr) == (
        2,
        "error: --backend 'magic' is unknown: use one of ovi, animatic, fal, replicate, ovi-app\n",
    )


def test_damaged_state_is_reported_and_left_alone(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    Path("out/board").mkdir(parents=True)
    Path("out/board/state.json").write_text("{not json")

    result = cli("generate", board, "--backend", "animatic")

    assert result.exit_code == 2  # bad input; 1 means scenes failed
    assert result.stderr == (
        "error: out/board/state.json: not valid JSON (line 1): move it aside to start afresh (clips are kept)\n"
    )
    assert Path("out/board/state.json").read_text() == "{not json"


@pytest.mark.parametrize("command", COMMANDS)
def test_flags_read_as_flags_in_help(command: str, cli: Callable[..., Any]) -> None:
    result = cli(command, "--help")

    assert "<bool>" not in result.output
    assert "--no-force" not in result.output and "--no-wait" not in result.output


def test_a_dry_run_of_the_animatic_spends_no_gpu_and_says_so(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)

    text = cli("generate", board, "--backend", "animatic", "--dry-run")
    data = json.loads(cli("generate", board, "--backend", "animatic", "--dry-run", "--json").stdout)

    assert text.stdout == (
        "would generate 01 s1 (40 steps)\n"
        "1 to generate, 0/1 scenes ready; rendered here: no GPU quota is spent\n"
    )
    assert (data["gpu_seconds"], data["quota_days"]) == (0, None)


def test_one_of_a_thing_is_not_plural(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)

    validated = cli("validate", board)
    generated = cli("generate", board, "--backend", "animatic")
    stitched = cli("stitch", board)

    assert validated.stderr == f"{board}: 1 scene, 0 warnings: ok\n"
    assert " 1 scene: 1 to generate, 0 already done\n" in generated.stderr
    assert re.search(r"final cut: out/board/final.mp4 \(5.0 s, 1 clip, video stream-copied, "
                     r"-1[34]\.\d LUFS, peaks -[\d.]+ dBTP\)", stitched.stderr)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--only", ""], "--only: name at least one scene number or id"),
     (["--only", " , "], "--only: name at least one scene number or id"),
     (["--only", "3-1"], "--only '3-1': the range is reversed: write 1-3"),
     (["--window", "22:00-22:00"], "--window '22:00-22:00': the window is empty (it opens and closes at 22:00): give two different times, e.g. 22:00-06:00"),
     (["--notify", "not a url"], "--notify 'not a url': not an http(s) URL: give one like https://hooks.example.com/f1gen"),
     (["--notify", "ftp://h/x"], "--notify 'ftp://h/x': not an http(s) URL: give one like https://hooks.example.com/f1gen")],
)  # fmt: skip
def test_bad_generate_options_are_refused_before_anything_runs(
    args: list[str], message: str, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(3), "--backend", "animatic", *args)

    assert (result.exit_code, result.stderr) == (2, f"error: {message}\n")
    assert not Path("out/board/clips").exists()


def test_status_with_no_runs_suggests_the_first_generate(cli: Callable[..., Any]) -> None:
    result = cli("status")

    assert (result.exit_code, result.stderr) == (
        2,
        "error: no runs under out/ yet: start one with 'f1gen generate STORYBOARD' (or give the storyboard)\n",
    )


def test_the_top_level_help_shows_every_summary_whole(cli: Callable[..., Any]) -> None:
    shown = " ".join(cli("--help").output.partition("Commands:")[2].split())

    assert "..." not in shown
    for name in COMMANDS:
        summary = " ".join((GROUP.commands[name].help or "").split())  # type: ignore[attr-defined]
        assert summary in shown


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ("generate", " generate [OPTIONS] STORYBOARD\n"),
        ("status", " status [OPTIONS] [STORYBOARD]\n"),
        ("pick", " pick [OPTIONS] [STORYBOARD] SCENE [TAKE]\n"),
    ],
)
def test_usage_lines_name_the_arguments_as_people_write_them(
    command: str, usage: str, cli: Callable[..., Any]
) -> None:
    assert cli(command, "--help").output.splitlines()[0].endswith(usage.rstrip("\n"))


def test_doctor_help_names_the_backend_option_plainly(cli: Callable[..., Any]) -> None:
    shown = cli("doctor", "--help").output

    assert "--backend NAME" in shown and "list[str]" not in shown


def test_max_cost_help_names_the_refusals_exit_code(cli: Callable[..., Any]) -> None:
    shown = " ".join(cli("generate", "--help").output.split())

    assert "Refuse (exit 2) a run whose estimate passes this many USD; stop (exit 75)" in shown


@pytest.mark.parametrize("value", ["nan", "-1", "inf"])
def test_a_max_cost_that_is_not_money_is_one_f1gen_line(
    value: str, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(1), f"--max-cost={value}", "--dry-run")

    assert result.exit_code == 2
    assert result.stderr == f"error: --max-cost {value}: give US dollars, 0 or more, e.g. 5\n"


def test_summaries_count_scenes_done_clips_made_and_takes_rejected_and_agree_on_ready(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(2)

    made = cli("generate", board, "--backend", "animatic", "--takes", "2", "--no-checks")
    again = cli("generate", board, "--backend", "animatic", "--takes", "2", "--dry-run")
    shown = cli("status", board)

    assert made.exit_code == 0, made.stderr
    assert "scenes done 2, ready 2/2, failed 0; clips made 4, takes rejected 0; " in made.stderr
    assert again.stdout == "0 to generate, 2/2 scenes ready; rendered here: no GPU quota is spent\n"
    assert "2/2 scenes ready; " in shown.stdout
