"""Ctrl-C and SIGTERM, never lost: a signal that arrives while a command runs ends it with 130.

Python turns SIGINT into a KeyboardInterrupt raised wherever the main thread happens to be. Raised
inside an object's finalizer or a C library's callback, it is printed as "Exception ignored" and
gone, and the run goes on as if the user had not asked it to stop. So the signal is also written
down here: the generate loop looks at that note between clips (raise_if_received), and a command
that ends normally after a signal was swallowed on its way still ends as interrupted. A signal
after the command's outcome is decided (the process is only exiting) is noted and changes nothing.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Note:
    """What the handler saw: whether a command is running (armed) and the signal received."""

    armed = False
    received: int | None = None


def on_signal(signum: int, frame: FrameType | None) -> None:
    """The handler of SIGINT and SIGTERM: note the signal; while a command runs, interrupt it."""
    _Note.received = signum
    if _Note.armed:
        raise KeyboardInterrupt


def received() -> int | None:
    """The signal received while the command ran (or before it started), if any."""
    return _Note.received


def raise_if_received() -> None:
    """KeyboardInterrupt when a signal came and its KeyboardInterrupt was swallowed somewhere."""
    if _Note.armed and _Note.received is not None:
        raise KeyboardInterrupt


def install() -> None:
    """Handle SIGINT and SIGTERM for the whole process (the console script's first act)."""
    for signum in SIGNALS:
        signal.signal(signum, on_signal)


@contextmanager
def guarded() -> Iterator[None]:
    """Run a command with the handler armed; KeyboardInterrupt at its end when a signal came
    during it (or before it) and was swallowed. The handlers before it are put back after."""
    previous = {signum: signal.signal(signum, on_signal) for signum in SIGNALS}
    _Note.armed = True
    try:
        raise_if_received()  # a Ctrl-C while the command line was being read
        try:
            yield
        except KeyboardInterrupt:
            raise
        except BaseException:  # an error, or the command's own exit: the signal wins
            raise_if_received()
            raise
        raise_if_received()
    finally:
        _Note.armed = False
        _Note.received = None
        for signum, handler in previous.items():
            signal.signal(signum, handler)
