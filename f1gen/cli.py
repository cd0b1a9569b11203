"""The f1gen command line: the app, its commands (one module each under commands/), and the one
place that turns an error into a line on stderr and an exit code."""

from __future__ import annotations

import errno
import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
import typer.core

from . import __version__, interrupts
from .commands import cron, doctor, generate, push, review, status, stitch, validate, voice
from .commands.options import stderr_console
from .errors import ExitCode, F1genError, StoryboardError

app = typer.Typer(
    help="Turn a storyboard into a finished talking-character video with Ovi.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rich's panels label every flag <bool>
)
P = ParamSpec("P")
R = TypeVar("R")
MACHINE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}
# In the order `f1gen --help` lists them.
COMMANDS: tuple[Callable[..., None], ...] = (
    validate.validate,
    validate.prompts,
    generate.generate,
    status.status,
    stitch.stitch,
    push.push,
    review.review,
    review.pick,
    voice.voice,
    cron.cron,
    doctor.doctor,
)


class _Command(typer.core.TyperCommand):
    """Usage lines as people write them: STORYBOARD and [STORYBOARD], not {storyboard}."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if not isinstance(param, typer.core.TyperArgument):
                pieces += param.get_usage_pieces(ctx)
            elif not param.hidden:
                name = param.metavar or (param.name or "").upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn F1genError into one line on stderr and its exit code; Ctrl-C and SIGTERM into 130."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with interrupts.guarded():  # a Ctrl-C swallowed on its way still ends the command
                return command(*args, **kwargs)
        except StoryboardError as exc:
            for problem in exc.problems:
                stderr_console().print(f"error: {problem}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except F1genError as exc:
            stderr_console().print(f"error: {exc.message}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            stderr_console().print(
                "interrupted: nothing was lost; run the same command again to go on"
            )
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except OSError as exc:
            if not isinstance(exc, PermissionError) and exc.errno not in MACHINE_ERRNOS:
                raise  # anything else is a bug: let it surface
            # The machine, not the input: a folder f1gen may not write, a full disk.
            where = f"{exc.filename}: " if exc.filename else ""
            stderr_console().print(
                f"error: {where}cannot write ({exc.strerror}): fix the permissions or free disk "
                "space; what was there before is intact",
                markup=False,
            )
            raise typer.Exit(ExitCode.FAILED) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"f1gen {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Turn a storyboard into a finished talking-character video with Ovi."""


for _command in COMMANDS:
    # The whole docstring as the short help: `f1gen --help` would cut it at 45 characters.
    _short = " ".join((inspect.getdoc(_command) or "").split())
    app.command(cls=_Command, short_help=_short)(reports_errors(_command))


def main() -> None:
    """Console-script entry point."""
    interrupts.install()  # before the command line is read: no Ctrl-C is ever lost
    app()
