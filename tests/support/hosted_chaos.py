"""The kill -9 campaign against a hosted stand-in: `f1gen generate` is SIGKILLed at random
moments with requests in flight, then resumed, and the stand-in counts submissions per scene.

    paid twice   submissions beyond the first for one scene: must be 0
    held back    scenes whose submit was cut off by a kill on a provider that cannot be searched
                 (fal): f1gen refuses to send them blind; the user checks and says --resend-unknown
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.support.boards import write_board
from tests.support.hosted_stand_in import FalStandIn, ReplicateStandIn

ROOT = Path(__file__).resolve().parent.parent.parent
KEY = "hosted-CHAOS-secret-0123456789"


@dataclass
class HostedTally:
    """What the campaign counted."""

    runs: int = 0
    kills: int = 0
    submissions: int = 0
    paid_twice: int = 0
    held_back: int = 0
    done: int = 0
    tracebacks: int = 0
    secret_leaks: int = 0
    notes: list[str] = field(default_factory=list)


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
) -> HostedTally:
    """Kill `f1gen generate --backend provider` `kills` times, then finish; count everything."""
    rng = random.Random(seed)
    stand_in: FalStandIn | ReplicateStandIn
    if provider == "fal":
        stand_in = FalStandIn(clip, key=KEY, queue_seconds=0.2, gen_seconds=gen_seconds).start()
    else:
        stand_in = ReplicateStandIn(
            clip, token=KEY, queue_seconds=0.2, gen_seconds=gen_seconds
        ).start()
    folder = base / f"kills-{provider}"
    board = write_board(folder, scenes)
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
               "--parallel", str(parallel)]  # fmt: skip
    tally = HostedTally()
    texts: list[str] = []
    try:
        for _ in range(kills):
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
        tally.held_back = sum(1 for e in ledger.values() if e["stage"] == "sending")
        state = json.loads((workdir / "state.json").read_text())
        tally.done = sum(
            1 for e in state["scenes"].values() if e["status"] == "done" and len(e["takes"]) == 1
        )
        if tally.done + tally.held_back < scenes:
            tally.notes.append(f"final run exited {final.returncode}: {final.stderr[-400:]}")
        tally.submissions = sum(stand_in.script.submissions.values())
        tally.paid_twice = stand_in.script.duplicates()
        texts += [
            p.read_text(errors="replace")
            for p in workdir.rglob("*")
            if p.suffix in (".json", ".log")
        ]
        tally.secret_leaks = sum(KEY in text for text in texts)
    finally:
        stand_in.stop()
    return tally
