"""The kill -9 campaign against a hosted stand-in: `f1gen generate` is SIGKILLed at random
moments with requests in flight, then resumed, and the stand-in counts what it was sent.

    paid         requests the stand-in accepted (each one is paid at a real provider)
    paid twice   requests beyond one per take: a second request with the same input (prompt
                 and seed: one take), or more requests for a scene than the takes it holds and
                 the requests it has held back: must be 0
    held back    takes whose submit was cut off (a kill, a lost reply) on a provider that cannot
                 be searched (fal): f1gen refuses to send them blind; the user checks and says --resend-unknown

Run with --seed, with scene seeds (every other scene sets one) and with --takes: each take sends
its own seed, and a lost reply must be found (Replicate) or held back (fal) whatever it sent.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.support.boards import write_board
from tests.support.hosted_stand_in import FalStandIn, ReplicateStandIn

ROOT = Path(__file__).resolve().parent.parent.parent
KEY = "hosted-CHAOS-secret-0123456789"


@dataclass
class HostedTally:
    """What the campaign counted."""

    runs: int = 0
    kills: int = 0
    submissions: int = 0  # paid requests
    paid_twice: int = 0
    held_back: int = 0
    done: int = 0
    tracebacks: int = 0
    secret_leaks: int = 0
    notes: list[str] = field(default_factory=list)


def paid_twice(
    stand_in: FalStandIn | ReplicateStandIn, scenes: dict[str, Any], held: Counter[str]
) -> int:
    """Requests beyond one per take: the same input sent again, or more requests for a scene
    than the takes its state holds and the requests held back for it."""
    by_input = Counter(
        (job.prompt, job.inputs.get("seed")) for job in stand_in.script.jobs.values()
    )
    again = sum(n - 1 for n in by_input.values() if n > 1)
    by_scene = Counter(_scene_of(job.prompt) for job in stand_in.script.jobs.values())
    beyond = sum(
        max(0, n - len(scenes.get(scene, {}).get("takes", [])) - held[scene])
        for scene, n in by_scene.items()
    )
    return max(again, beyond)


def _scene_of(prompt: str) -> str:
    """The scene id of a campaign board's prompt ("Driver 3 waves. ..." is s3)."""
    return f"s{prompt.split()[1]}"


def hosted_kill_campaign(
    base: Path,
    clip: Path,
    *,
    provider: Literal["fal", "replicate"],
    kills: int,
    scenes: int,
    seed: int,
    parallel: int = 4,
    gen_seconds: float = 1.0,
    takes: int = 1,
    run_seed: int | None = None,
    scene_seeds: bool = False,
    drops: int = 0,
) -> HostedTally:
    """Kill `f1gen generate --backend provider` `kills` times, then finish; count everything.

    takes: --takes; run_seed: --seed; scene_seeds: every other scene sets its own seed; drops:
    the first `drops` runs also lose the reply to one submit (taken, then the connection cut),
    besides whatever a kill cuts off."""
    rng = random.Random(seed)
    stand_in: FalStandIn | ReplicateStandIn
    if provider == "fal":
        stand_in = FalStandIn(clip, key=KEY, queue_seconds=0.2, gen_seconds=gen_seconds).start()
    else:
        stand_in = ReplicateStandIn(
            clip, token=KEY, queue_seconds=0.2, gen_seconds=gen_seconds
        ).start()
    folder = base / f"kills-{provider}"
    board = write_board(folder, scenes, seeds=scene_seeds)
    workdir = folder / "out" / board.stem
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "OVI_", "F1GEN_", "FAL_", "REPLICATE_"))
    }
    env.update(
        stand_in.env(),
        PYTHONPATH=str(ROOT),
        F1GEN_BACKOFF_SECONDS="0.05",
        F1GEN_CHECKS="0",  # the stand-in's clips are marker clips: no voice to judge
        GRADIO_ANALYTICS_ENABLED="False",
    )
    command = [sys.executable, "-m", "f1gen", "generate", str(board), "--backend", provider,
               "--parallel", str(parallel), "--takes", str(takes)]  # fmt: skip
    if run_seed is not None:
        command += ["--seed", str(run_seed)]
    tally = HostedTally()
    texts: list[str] = []
    try:
        for run in range(kills):
            if run < drops:  # a submit taken, its reply cut: the lost-reply path, every time
                stand_in.script.then(*["ok"] * rng.randrange(scenes), "drop")
            process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)  # fmt: skip
            time.sleep(rng.uniform(0.4, 3.0))
            process.send_signal(signal.SIGKILL)
            out, err = process.communicate()
            tally.runs += 1
            tally.kills += 1
            texts += [out, err]
            tally.tracebacks += "Traceback" in err
        final = subprocess.run([*command, "--json"], cwd=folder, env=env, capture_output=True,
                               text=True, timeout=300)  # fmt: skip
        tally.runs += 1
        texts += [final.stdout, final.stderr]
        tally.tracebacks += "Traceback" in final.stderr
        ledger = json.loads((workdir / "requests.json").read_text())["requests"]
        held = Counter(e["key"].split("@")[0] for e in ledger.values() if e["stage"] == "sending")
        tally.held_back = sum(held.values())
        state = json.loads((workdir / "state.json").read_text())
        scenes_state = state["scenes"]
        tally.done = sum(
            1 for e in scenes_state.values() if e["status"] == "done" and len(e["takes"]) == takes
        )
        if tally.done + len(held) < scenes:
            tally.notes.append(f"final run exited {final.returncode}: {final.stderr[-400:]}")
        tally.submissions = len(stand_in.script.jobs)
        tally.paid_twice = paid_twice(stand_in, scenes_state, held)
        texts += [
            p.read_text(errors="replace")
            for p in workdir.rglob("*")
            if p.suffix in (".json", ".log")
        ]
        tally.secret_leaks = sum(KEY in text for text in texts)
    finally:
        stand_in.stop()
    return tally
