"""Seeds, cost and quota before the run: the storyboard's seed, --seed, the fingerprint, the dry
run's comparison of backends, and --max-cost."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from f1gen import costs, estimate
from f1gen import storyboard as storyboards
from f1gen.backends.traits import FAL_PRICE, REPLICATE_PRICE
from f1gen.plan import plan_scene


@pytest.mark.parametrize(
    ("scene", "problem"),
    [
        ({"seed": -1}, "scenes[1] (s1).seed: -1 is out of range 0-2147483647"),
        ({"seed": 2**31}, "scenes[1] (s1).seed: 2147483648 is out of range 0-2147483647"),
        ({"seed": "7"}, "scenes[1] (s1).seed: should be a valid integer"),
    ],
)
def test_a_bad_seed_is_named_with_its_place(
    scene: dict[str, Any],
    problem: str,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
) -> None:
    board = write_storyboard([{"id": "s1", "image": "images/p0.png", "action": "Waves.", **scene}])

    result = cli("validate", board)

    assert result.exit_code == 2
    assert problem in result.stderr


def test_footage_takes_no_seed(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], ffmpeg: str
) -> None:
    from tests.support import mediatools

    mediatools.make_marker_clip(Path("clip.mp4"), marker_frame=2)
    board = write_storyboard([{"id": "s1", "footage": "clip.mp4", "seed": 3}])

    result = cli("validate", board)

    assert result.exit_code == 2
    assert "scenes[1] (s1).seed: only generated scenes take a seed: remove it" in result.stderr


def test_the_seed_is_part_of_the_fingerprint_and_a_scene_without_one_keeps_its_old_fingerprint(
    write_storyboard: Callable[..., Path],
) -> None:
    scenes = [{"id": "s1", "image": "images/p0.png", "action": "Waves."},
              {"id": "s2", "image": "images/p0.png", "action": "Waves.", "seed": 9}]  # fmt: skip
    plain, seeded = storyboards.load(write_storyboard(scenes)).storyboard.scenes

    unseeded = plan_scene(plain, backend_identity="fal:x", steps=40)
    by_option = plan_scene(plain, backend_identity="fal:x", steps=40, default_seed=9)
    own = plan_scene(seeded, backend_identity="fal:x", steps=40, default_seed=5)

    assert unseeded.seed is None and by_option.seed == 9 and own.seed == 9  # the scene's own wins
    assert by_option.fingerprint == own.fingerprint != unseeded.fingerprint
    import hashlib

    old = {
        "image": unseeded.image_digest,
        "prompt": "Waves.",
        "steps": 40,
        "fit": "cover",
        "backend": "fal:x",
    }
    assert (
        unseeded.fingerprint == hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()
    )


def test_a_new_seed_remakes_the_clip_and_the_same_seed_keeps_it(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    cli("generate", board, "--backend", "animatic")

    seeded = cli("generate", board, "--backend", "animatic", "--seed", "5", "--json")
    again = cli("generate", board, "--backend", "animatic", "--seed", "5", "--json")
    status = json.loads(cli("status", "--json").stdout)

    assert json.loads(seeded.stdout)["generated"] == ["s1"]
    assert json.loads(again.stdout)["skipped"] == ["s1"]
    assert status["scenes"][0]["state"] == "done"
    assert json.loads(Path("out/board/state.json").read_text())["scenes"]["s1"]["seed"] == 5


def test_zerogpu_reserves_three_seconds_a_step_plus_warm_up() -> None:
    assert estimate.reserved_seconds(40) == 140
    ovi = estimate.estimate("ovi", [40] * 24)
    assert ovi.reserved_seconds == 24 * 140
    assert ovi.clips_per_day == {"free": 2, "pro": 17}
    assert ovi.usd == 0


def test_a_clip_larger_than_a_daily_quota_is_said_so(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(2, extra={"defaults": {"sample_steps": 100}})  # 320 s reserved

    shown = cli("generate", board, "--dry-run")
    data = json.loads(cli("generate", board, "--dry-run", "--json").stdout)

    assert (
        "2 to generate, 0/2 scenes ready; about 6.0 GPU minutes; ZeroGPU charges 10.7 min of quota: "
        "not one clip a day on a free account, 7 clips a day on PRO (1 day)"
    ) in shown.stdout.splitlines()
    assert data["quota_days"] == {"free": None, "pro": 1}


def test_hosted_estimates_money_and_the_time_of_n_clips_at_a_time() -> None:
    fal = estimate.estimate("fal", [40] * 24)
    replicate = estimate.estimate("replicate", [40] * 24, parallel=4)

    assert fal.usd == pytest.approx(24 * 0.20)
    assert fal.parallel == 8 and fal.wall_seconds == pytest.approx(
        3 * 60.0
    )  # ceil(24/8) clips of 60 s
    assert replicate.usd == pytest.approx(24 * 60.0 * 0.001525)
    assert replicate.wall_seconds == pytest.approx(6 * 60.0)


def test_the_dry_run_compares_every_backend(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(3)

    shown = cli("generate", board, "--backend", "fal", "--dry-run")
    data = json.loads(cli("generate", board, "--backend", "fal", "--dry-run", "--json").stdout)

    assert shown.exit_code == 0
    assert " backend       money  GPU min  reserved       per day  wall" in shown.stdout
    assert "*fal           $0.60      3.0         -             -  ~1 min x8" in shown.stdout
    assert " ovi           $0.00      3.0   7.0 min 2 free/17 PRO  ~3 min x1" in shown.stdout
    by_name = {e["backend"]: e for e in data["estimates"]}
    assert by_name["fal"]["usd"] == 0.6 and by_name["ovi"]["reserved_seconds"] == 420
    assert set(by_name) == {"ovi", "animatic", "fal", "replicate", "ovi-app"}


def test_max_cost_refuses_a_run_estimated_above_it_before_anything_is_sent(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(3), "--backend", "fal", "--max-cost", "0.5")

    assert result.exit_code == 2
    assert ("error: --max-cost 0.50: the 3 clips to make on fal are estimated at $0.60: "
            "raise --max-cost, or make fewer scenes with --only") in result.stderr  # fmt: skip
    assert not Path("out/board/requests.json").exists()


def test_the_dry_run_counts_every_take_still_to_make(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(24)

    shown = cli("generate", board, "--backend", "fal", "--takes", "3", "--dry-run")
    data = json.loads(
        cli("generate", board, "--backend", "fal", "--takes", "3", "--dry-run", "--json").stdout
    )

    assert shown.exit_code == 0, shown.stderr
    assert "*fal          $14.40     72.0         -             -  ~9 min x8" in shown.stdout
    assert {e["backend"]: e for e in data["estimates"]}["fal"]["clips"] == 72
    assert data["clips"] == 72 and {s["takes"] for s in data["generate"]} == {3}
    assert "would generate 01 s1 (40 steps, ~60 s GPU, 3 takes)" in shown.stdout


def test_max_cost_counts_every_take_and_refuses_before_anything_is_sent(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(3), "--backend", "fal", "--takes", "3",
                 "--max-cost", "1")  # fmt: skip

    assert result.exit_code == 2
    assert ("error: --max-cost 1.00: the 9 clips to make on fal (3 scenes, 3 takes each) are "
            "estimated at $1.80: raise --max-cost, or make fewer scenes with --only") in (
        result.stderr
    )  # fmt: skip
    assert not Path("out/board/requests.json").exists()


def test_the_dry_run_with_max_cost_says_whether_the_run_fits_and_exits_as_the_run_would(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(3)

    refused = cli("generate", board, "--backend", "fal", "--takes", "3", "--max-cost", "1",
                  "--dry-run")  # fmt: skip
    fits = cli("generate", board, "--backend", "fal", "--takes", "3", "--max-cost", "2",
               "--dry-run", "--json")  # fmt: skip

    assert refused.exit_code == 2
    assert "*fal           $1.80" in refused.stdout  # the plan is shown, then the refusal
    assert ("error: --max-cost 1.00: the 9 clips to make on fal (3 scenes, 3 takes each) are "
            "estimated at $1.80: raise --max-cost") in refused.stderr  # fmt: skip
    assert fits.exit_code == 0, fits.stderr
    assert json.loads(fits.stdout)["max_cost"] == {"usd": 2.0, "estimated_usd": 1.8, "fits": True}
    said = cli("generate", board, "--backend", "fal", "--takes", "3", "--max-cost", "2",
               "--dry-run")  # fmt: skip
    assert "fits the --max-cost of $2.00 (estimated $1.80)" in said.stdout


def test_max_cost_stops_before_the_clip_that_would_pass_it() -> None:
    class Hosted:
        name, price = "fal", FAL_PRICE

    assert costs.stop_reason(Hosted(), 1.0, spent=0.6, in_flight=1, steps=40) is None
    assert costs.stop_reason(Hosted(), 1.0, spent=0.8, in_flight=1, steps=40) == (
        "the next clip (~$0.20) would pass the --max-cost of $1.00 ($0.80 spent, 1 in flight)"
    )
    assert costs.stop_reason(Hosted(), None, spent=99.0, in_flight=0, steps=40) is None
    assert REPLICATE_PRICE.clip_usd(100.0) == pytest.approx(0.1525)
