"""kill -9 against hosted runs: a paid request is never sent twice for one take."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.hosted_chaos import hosted_kill_campaign
from tests.support.mediatools import MarkerClip

# (takes, --seed, scene seeds): two takes of scenes with and without a seed of their own (the
# first take of a scene without one sends a random seed, the second a derived one). `make chaos`
# runs longer campaigns: --seed, scene seeds, three takes.
RUNS = [(2, None, True)]


@pytest.mark.parametrize("provider", ["replicate", "fal"])
@pytest.mark.parametrize(("takes", "run_seed", "scene_seeds"), RUNS)
def test_killed_hosted_runs_never_pay_twice_for_a_take(
    provider: Any, takes: int, run_seed: int | None, scene_seeds: bool,
    marker_clips: list[MarkerClip], tmp_path: Path,
) -> None:  # fmt: skip
    tally = hosted_kill_campaign(tmp_path, marker_clips[0].path, provider=provider, kills=4,
                                 scenes=4, seed=11, takes=takes,
                                 run_seed=run_seed, scene_seeds=scene_seeds, drops=1)  # fmt: skip
    scenes = 4

    assert tally.paid_twice == 0, tally
    assert (tally.tracebacks, tally.secret_leaks) == (0, 0), tally
    held_scenes = min(tally.held_back, scenes)
    assert tally.done + held_scenes >= scenes, tally.notes
    assert tally.done * takes <= tally.submissions <= scenes * takes, tally
    if provider == "replicate":
        assert tally.held_back == 0  # Replicate can be searched: nothing is ever held back
