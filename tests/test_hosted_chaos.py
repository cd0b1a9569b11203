"""kill -9 against hosted runs: a paid request is never sent twice for one scene."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hosted_chaos import hosted_kill_campaign
from tests.support.mediatools import MarkerClip


@pytest.mark.parametrize("provider", ["replicate", "fal"])
def test_killed_hosted_runs_never_pay_twice_for_a_scene(
    provider: str, marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    tally = hosted_kill_campaign(tmp_path, marker_clips[0].path, provider=provider,  # type: ignore[arg-type]
                                 kills=4, scenes=6, seed=11)  # fmt: skip

    assert tally.paid_twice == 0, tally
    assert (tally.tracebacks, tally.secret_leaks) == (0, 0), tally
    assert tally.done + tally.held_back == 6, tally.notes
    assert tally.done <= tally.submissions <= tally.done + tally.held_back, tally
    if provider == "replicate":
        assert tally.held_back == 0  # Replicate can be searched: nothing is ever held back
