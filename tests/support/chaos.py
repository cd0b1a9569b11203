"""The fault campaign: kill f1gen at random moments, take storage away, fill the disk, fuzz the
storyboard, and count what was lost, duplicated, crashed or leaked. Everything runs on this
machine: a local Gradio stand-in for the Space, a real S3 server (SeaweedFS) for MinIO.

    python bench/chaos.py [--kills 20] [--scenes 24] [--seed 7] [--fuzz 300]

Prints a summary table; every count but runs and faults must be 0 (exit 1 otherwise).
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.seaweedfs import WRITER, SeaweedFS

ROOT = Path(__file__).resolve().parents[2]  # the repository: tests/support/chaos.py
sys.path.insert(0, str(ROOT))

TOKEN = "hf_CHAOSsecretTOKEN0123456789"
S3_SECRET = WRITER.secret_key
F1GEN = [sys.executable, "-m", "f1gen"]


@dataclass
class Tally:
    """What the campaign counted."""

    runs: int = 0
    faults: int = 0
    clips_lost: int = 0
    duplicates: int = 0
    tracebacks: int = 0
    secret_leaks: int = 0
    notes: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # every output, log and file to scan for secrets

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {k: v for k, v in self.__dict__.items() if k != "texts"}


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("HF_", "OVI_", "F1GEN_", "AWS_"))
    }
    env.update({"PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False", "HF_TOKEN": TOKEN,
                "F1GEN_BACKOFF_SECONDS": "0.05", "F1GEN_CHECKS": "0", **extra})  # fmt: skip
    return env


def _state(workdir: Path) -> dict[str, Any] | None:
    path = workdir / "state.json"
    return json.loads(path.read_text()) if path.exists() else None


def kill_campaign(
    tally: Tally, *, base: Path, kills: int, scenes: int, seed: int, takes: int = 1,
    seeds: bool = False,
) -> None:  # fmt: skip
    """SIGKILL `f1gen generate` at random moments, resuming after each; then finish and check.

    takes: --takes; seeds: every other scene sets its own seed, sent to a Space that declares
    video_seed. A duplicate is a Space call (quota spent) for a scene that had all its takes,
    or for a take (prompt and seed) the state already held."""
    from f1gen import media
    from f1gen.backends.traits import OVI_SPEC
    from tests.support import mediatools
    from tests.support.boards import write_board
    from tests.support.ovi_stand_in import StandIn

    rng = random.Random(seed)
    clip = mediatools.make_marker_clip(base / "clip.mp4", marker_frame=24, busy=True).path
    space = StandIn(clip, token=TOKEN, gen_seconds=0.25, progress_steps=2,
                    variant="seeded" if seeds else "standard").start()  # fmt: skip
    folder = base / ("kills-takes" if takes > 1 or seeds else "kills")
    board = write_board(folder, scenes, seeds=seeds)
    workdir = folder / "out" / board.stem
    env = _env(OVI_SPACE=space.url)
    try:
        for _ in range(kills):
            known = (_state(workdir) or {}).get("scenes", {})
            done = {
                k for k, v in known.items() if v["status"] == "done" and len(v["takes"]) >= takes
            }
            if len(done) == scenes:
                break
            prompts_done = {_prompt(k) for k in done}
            takes_done = {
                (_prompt(k), t.get("seed")) for k, v in known.items() for t in v["takes"]
                if t.get("seed") is not None
            }  # fmt: skip
            calls_before = len(space.calls)
            process = subprocess.Popen([*F1GEN, "generate", str(board), "--takes", str(takes)],
                                       cwd=folder, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)  # fmt: skip
            time.sleep(rng.uniform(0.3, 4.0))
            process.send_signal(signal.SIGKILL)
            out, err = process.communicate()
            tally.runs += 1
            tally.faults += 1
            tally.texts += [out, err]
            tally.tracebacks += "Traceback" in err
            tally.duplicates += sum(
                c.text_prompt in prompts_done
                or (c.text_prompt, c.extra.get("video_seed")) in takes_done
                for c in space.calls[calls_before:]
            )
            try:
                _state(workdir)
            except ValueError:
                tally.clips_lost += 1
                tally.notes.append("state.json did not parse after a kill")
        final = subprocess.run([*F1GEN, "generate", str(board), "--takes", str(takes), "--json"],
                               cwd=folder, env=env, capture_output=True, text=True,
                               timeout=600)  # fmt: skip
        tally.runs += 1
        tally.texts += [final.stdout, final.stderr]
        tally.tracebacks += "Traceback" in final.stderr
        if final.returncode != 0:
            tally.notes.append(f"the final resume exited {final.returncode}: {final.stderr[-300:]}")
        state = _state(workdir) or {"scenes": {}}
        for scene_id in (f"s{n}" for n in range(1, scenes + 1)):
            entry = state["scenes"].get(scene_id)
            if not entry or entry["status"] != "done" or len(entry["takes"]) != takes:
                tally.clips_lost += 1
                tally.notes.append(
                    f"{scene_id}: {entry and entry['status']}, takes {entry and entry['takes']}"
                )
                continue
            try:
                media.check_clip(workdir / entry["clip"], spec=OVI_SPEC)
            except Exception as exc:
                tally.clips_lost += 1
                tally.notes.append(f"{scene_id}: its clip fails its checks: {exc}")
        accepted = [c.text_prompt for c in space.calls if c.behaviour == "ok"]
        tally.notes.append(f"kills: {kills} runs killed; Space calls {len(space.calls)}, "
                           f"clips returned {len(accepted)} for {scenes} scenes")  # fmt: skip
        tally.texts += [
            p.read_text(errors="replace")
            for p in workdir.rglob("*")
            if p.suffix in (".json", ".log")
        ]
    finally:
        space.stop()


def storage_outage(tally: Tally, *, base: Path) -> None:
    """Take S3 away in the middle of a run, bring it back, push: nothing lost, checksums equal."""
    from f1gen import storyboard as storyboards
    from f1gen.backends.animatic import AnimaticBackend
    from f1gen.config import load_settings
    from f1gen.files import file_digest
    from f1gen.runner import Runner, RunOptions
    from f1gen.storage import from_settings
    from f1gen.sync import push
    from tests.support.boards import write_board

    server = SeaweedFS().start()
    folder = base / "outage"
    board = write_board(folder, 6)
    env = {"AWS_ACCESS_KEY_ID": WRITER.access_key, "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_DEFAULT_REGION": "us-east-1",
           "F1GEN_BUCKET": "f1-video-clips", "F1GEN_S3_ENDPOINT": server.url, "F1GEN_S3_ATTEMPTS": "2"}  # fmt: skip
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        s3 = server.client(WRITER)
        s3.create_bucket(Bucket="f1-video-clips")
        settings = load_settings(environ=dict(os.environ))
        loaded = storyboards.load(board).storyboard
        workdir = folder / "out" / loaded.stem

        class StopsStorage(AnimaticBackend):
            made = 0

            def generate(self, request: Any, dest: Path, report: Any) -> Any:
                StopsStorage.made += 1
                if StopsStorage.made == 3:
                    server.stop(keep=True)  # an outage: refused until start()
                return super().generate(request, dest, report)

        storage = from_settings(settings, prefix=loaded.stem)
        summary = Runner(loaded, workdir=workdir, lanes=[StopsStorage(ffmpeg=None, scratch=workdir / "tmp")],
                         storage=storage).run(RunOptions())  # fmt: skip
        tally.runs += 1
        tally.faults += 1
        server.start()
        assert storage is not None
        push(loaded, workdir=workdir, storage=storage, extra=[])
        tally.runs += 1
        state = _state(workdir) or {"scenes": {}}
        for entry in state["scenes"].values():
            body = s3.get_object(Bucket="f1-video-clips", Key=f"{loaded.stem}/{entry['clip']}")[
                "Body"
            ].read()
            local = workdir / entry["clip"]
            import hashlib

            if (
                hashlib.sha256(body).hexdigest() != entry["sha256"]
                or file_digest(local) != entry["sha256"]
            ):
                tally.clips_lost += 1
        if len(summary.done) != 6:
            tally.clips_lost += 6 - len(summary.done)
        tally.notes.append(
            f"outage: {len(summary.local_only)} clips stayed local during the outage, pushed after"
        )
        tally.texts += [p.read_text(errors="replace") for p in workdir.rglob("*.json")]
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _disk_full_after(writes: int) -> Iterator[None]:
    """Make every fsync after the first `writes` fail with ENOSPC."""
    real = os.fsync
    count = {"n": 0}

    def fsync(fd: int) -> None:
        count["n"] += 1
        if count["n"] > writes:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    os.fsync = fsync
    try:
        yield
    finally:
        os.fsync = real


def disk_full(tally: Tally, *, base: Path) -> None:
    """Fill the disk in the middle of a run: a clear error, exit non-zero, the state intact."""
    from typer.testing import CliRunner

    from f1gen.cli import app
    from tests.support.boards import write_board

    folder = base / "diskfull"
    board = write_board(folder, 4)
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        for writes in (3, 7, 12):
            before = folder / "out" / board.stem / "state.json"
            previous = before.read_bytes() if before.exists() else None
            with _disk_full_after(writes):
                result = CliRunner().invoke(
                    app, ["generate", str(board), "--backend", "animatic", "--force"]
                )
            tally.runs += 1
            tally.faults += 1
            err = result.stderr
            tally.texts.append(result.output)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                tally.tracebacks += 1
                tally.notes.append(
                    f"disk full after {writes} writes: {type(result.exception).__name__}"
                )
            if "No space left on device" not in err or "the previous file is intact" not in err:
                tally.notes.append(
                    f"disk full after {writes} writes: unclear message {err[-200:]!r}"
                )
                tally.tracebacks += "Traceback" in err
            after = before.read_bytes() if before.exists() else None
            try:
                json.loads(after or b"{}")
            except ValueError:
                tally.clips_lost += 1
                tally.notes.append("state.json damaged by a full disk")
            if previous is not None and after is None:
                tally.clips_lost += 1
    finally:
        os.chdir(cwd)


def fuzz(tally: Tally, *, base: Path, examples: int) -> None:
    """Hostile storyboards through `f1gen validate`: exit 0 or 2, a named place, no traceback."""
    import yaml
    from hypothesis import HealthCheck, given, settings
    from typer.testing import CliRunner

    from f1gen.cli import app
    from tests.support.images import draw_portrait
    from tests.test_storyboard import boards

    folder = base / "fuzz"
    draw_portrait(folder / "images" / "p0.png", size=(64, 96))
    runner = CliRunner()

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(data=boards)
    def one(data: Any) -> None:
        path = folder / "fuzz.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        result = runner.invoke(app, ["validate", str(path)])
        tally.runs += 1
        tally.faults += 1
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        if crashed or result.exit_code not in (0, 2) or "Traceback" in result.output:
            tally.tracebacks += 1
            tally.notes.append(f"fuzz: exit {result.exit_code} for {data!r:.120}")
        elif result.exit_code == 2 and not result.stderr.startswith(f"error: {path}: "):
            tally.tracebacks += 1
            tally.notes.append(f"fuzz: message names no place: {result.stderr[:120]!r}")

    one()


def _prompt(scene_id: str) -> str:
    """The prompt a campaign board's scene sends (s3: "Driver 3 waves. <S>Line 3.<E>.")."""
    return f"Driver {scene_id[1:]} waves. <S>Line {scene_id[1:]}.<E>."


def scan_secrets(tally: Tally) -> None:
    """Count every output, log and file of the campaign that shows a secret."""
    tally.secret_leaks = sum(TOKEN in text or S3_SECRET in text for text in tally.texts)


def campaign(
    *, kills: int, scenes: int, seed: int, examples: int, report: Callable[[str], None],
    takes: int = 1, seeds: bool = False,
) -> Tally:  # fmt: skip
    """Run every part of the campaign and return the tally (takes, seeds: of the kills)."""
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="f1gen-chaos-") as folder:
        base = Path(folder)
        for name, part in (
            (
                "kills",
                lambda: kill_campaign(
                    tally,
                    base=base,
                    kills=kills,
                    scenes=scenes,
                    seed=seed,
                    takes=takes,
                    seeds=seeds,
                ),
            ),
            ("storage outage", lambda: storage_outage(tally, base=base)),
            ("disk full", lambda: disk_full(tally, base=base)),
            ("storyboard fuzzing", lambda: fuzz(tally, base=base, examples=examples)),
        ):
            report(f"{name}...")
            part()
    scan_secrets(tally)
    return tally
