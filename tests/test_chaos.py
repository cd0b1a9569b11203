"""The fault campaign in a reduced form: a few kills (of runs with scene seeds and two takes), an
outage, a full disk, some fuzzing.

`make chaos` runs the whole campaign (20 kills of a 24-scene run, 300 fuzzed storyboards).
"""

from __future__ import annotations

from tests.support.chaos import campaign


def test_a_small_fault_campaign_loses_duplicates_crashes_and_leaks_nothing() -> None:
    tally = campaign(kills=3, scenes=4, seed=3, examples=25, report=lambda line: None, takes=2,
                     seeds=True)  # fmt: skip

    assert tally.runs > 30 and tally.faults > 30
    assert (tally.clips_lost, tally.duplicates, tally.tracebacks, tally.secret_leaks) == (
        0,
        0,
        0,
        0,
    ), tally.notes
