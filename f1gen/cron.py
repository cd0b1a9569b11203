"""f1gen cron: a ready crontab entry for off-peak runs, and its idempotent installation."""

from __future__ import annotations

import shlex
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import media
from .errors import BadInputError, ConfigError, WriteError
from .schedule import Window

MARKER = "# f1gen:"


@dataclass(frozen=True)
class CronEntry:
    """One crontab line and what it refers to."""

    line: str
    marker: str
    env_file: Path
    log_file: Path


def parse_every(text: str) -> tuple[str, int]:
    """'30m' -> ('m', 30); '2h' -> ('h', 2); BadInputError otherwise."""
    unit = text[-1:].lower()
    try:
        amount = int(text[:-1])
    except ValueError:
        amount = 0
    if (unit == "m" and 1 <= amount <= 59) or (unit == "h" and 1 <= amount <= 23):
        return unit, amount
    raise BadInputError(f"--every {text!r}: give minutes (1m..59m) or hours (1h..23h), e.g. 30m")


def cron_hours(window: Window | None, *, local: datetime | None = None) -> str:
    """The cron hour field covering window in the machine's local time ('*' without a window)."""
    if window is None:
        return "*"
    now = local or datetime.now().astimezone()
    opens = window.opens_at(now.astimezone(UTC)).astimezone(now.tzinfo)
    closes = window.closes_at(now.astimezone(UTC)).astimezone(now.tzinfo)
    hours: list[int] = []
    moment = opens.replace(minute=0, second=0, microsecond=0)
    while moment < closes:
        hours.append(moment.hour)
        moment += timedelta(hours=1)
    return ",".join(str(h) for h in hours) if len(hours) < 24 else "*"


def cron_escape(text: str) -> str:
    """text for a crontab command field: cron turns an unescaped % into a new line."""
    return text.replace("%", "\\%")


def f1gen_command() -> list[str]:
    """How to start this very f1gen: the venv's script when it exists, else python -m f1gen."""
    script = Path(sys.executable).parent / "f1gen"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "f1gen"]


def make_entry(
    storyboard: Path,
    *,
    window: Window | None,
    window_text: str | None,
    tz: str,
    every: str,
    project: Path,
    workdir: Path,
    extra: list[str],
) -> CronEntry:
    """The crontab line that runs generate for storyboard from project, logging under workdir."""
    unit, amount = parse_every(every)
    minute = f"*/{amount}" if unit == "m" else (f"{window.start.minute}" if window else "0")
    hours = cron_hours(window)
    if unit == "h":
        hours = f"*/{amount}" if hours == "*" else hours
    board = storyboard.resolve()
    env_file = (project / ".env").resolve()
    log_file = (workdir / "logs" / "cron.log").resolve()
    args = [*f1gen_command(), "generate", str(board)]
    if window_text:
        args += ["--window", window_text, "--tz", tz]
    args += extra
    command = cron_escape(
        f"cd {shlex.quote(str(project.resolve()))} && "
        f"F1GEN_ENV_FILE={shlex.quote(str(env_file))} {shlex.join(args)} "
        f">> {shlex.quote(str(log_file))} 2>&1"
    )
    marker = cron_escape(f"{MARKER}{board}")
    return CronEntry(f"{minute} {hours} * * * {command} {marker}", marker, env_file, log_file)


def install(entry: CronEntry, *, crontab: str = "crontab") -> bool:
    """Put entry in the user's crontab, replacing an older f1gen line for the same storyboard.

    Other lines are left exactly as they are. True when the crontab changed.
    """
    listed = media.run_program([crontab, "-l"], what="crontab -l")
    if listed.returncode != 0 and "no crontab" not in listed.stderr.lower():
        raise ConfigError(
            f"crontab -l failed ({listed.stderr.strip()}): check that cron is installed"
        )
    current = listed.stdout if listed.returncode == 0 else ""
    lines = current.splitlines()
    kept = [line for line in lines if not line.rstrip().endswith(entry.marker)]
    if entry.line in lines and len(kept) == len(lines) - 1:
        return False
    wanted = "\n".join([*kept, entry.line]) + "\n"
    try:
        entry.log_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(
            f"{entry.log_file.parent}: cannot write ({exc.strerror}): cron could not log there; "
            "fix its permissions or give another work folder with --workdir"
        ) from None
    with tempfile.NamedTemporaryFile(
        "w", suffix=".crontab", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(wanted)
    try:
        media.run_tool([crontab, handle.name], what="crontab")
    finally:
        Path(handle.name).unlink(missing_ok=True)
    return True
