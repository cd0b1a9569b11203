"""The fault campaign in a reduced form: a few kills, an outage, a full disk, some fuzzing.

`make chaos` runs the whole campaign (20 kills of a 24-scene run, 300 fuzzed storyboards).
"""

from __future__ import annotations

from tests.support.chaos import campaign


def test_a_small_fault_campaign_loses_duplicates_crashes_and_leaks_nothing() -> None:
    tally = campaign(kills=3, scenes=5, seed=3, examples=25, report=lambda line: None)

    assert tally.runs > 30 and tally.faults > 30
    assert (tally.clips_lost, tally.duplicates, tally.tracebacks, tally.secret_leaks) == (
        0,
        0,
        0,
        0,
    ), tally.notes
