"""Faults a test can switch on: a folder that refuses to be written, whoever runs the tests;
Ctrl-C in the middle of a clip."""

from __future__ import annotations

import builtins
import errno
import io
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from f1gen.backends import Backend, BackendUpdate, ClipRequest

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def refuse_writes(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Every write under folder fails with EACCES, as on a read-only folder or another user's.

    Permission bits do not stop root (test machines often run as root), so the calls Python
    makes to create, open for writing, rename or remove files are refused instead, with the
    error the kernel gives. Reads still work. Child processes (ffmpeg) are not affected.
    """
    root = Path(os.path.abspath(folder))

    def refused(path: Any) -> bool:
        if isinstance(path, int):
            return False
        where = Path(os.path.abspath(os.fsdecode(os.fspath(path))))
        return where == root or root in where.parents

    def deny(path: Any) -> PermissionError:
        return PermissionError(
            errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(os.fspath(path))
        )

    real_open, real_os_open = builtins.open, os.open
    real_mkdir, real_replace, real_rename, real_unlink = os.mkdir, os.replace, os.rename, os.unlink

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if refused(file) and any(flag in mode for flag in "wax+"):
            raise deny(file)
        return real_open(file, mode, *args, **kwargs)

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if refused(path) and flags & WRITE_FLAGS:
            raise deny(path)
        return real_os_open(path, flags, *args, **kwargs)

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if refused(path) and not os.path.isdir(path):
            raise deny(path)
        real_mkdir(path, *args, **kwargs)

    def replace(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if refused(source) or refused(target):
            raise deny(target)
        real_replace(source, target, *args, **kwargs)

    def rename(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if refused(source) or refused(target):
            raise deny(target)
        real_rename(source, target, *args, **kwargs)

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if refused(path) and os.path.lexists(path):
            raise deny(path)
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "unlink", unlink)


def ctrl_c_during(lane: Backend, request: ClipRequest, dest: Path, *, when: str) -> BaseException:
    """Run lane.generate on a thread of its own, as the runner does, and interrupt the lane (as
    Ctrl-C does) at its first update containing when: what generate raised.

    The wait for it is bounded, so a lane that does not hear the interrupt fails the test
    rather than hanging it.
    """
    raised: list[BaseException] = []

    def report(update: BackendUpdate) -> None:
        if when in update.message:
            lane.interrupt()

    def work() -> None:
        try:
            lane.generate(request, dest, report)
        except BaseException as exc:  # handed back to the test
            raised.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), f"the lane went on waiting after the interrupt at {when!r}"
    assert raised, "the lane finished its clip although it was interrupted"
    return raised[0]
