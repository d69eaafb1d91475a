"""The tuner's choice rule: measured proving time decides, EZKL's default is the floor, accuracy breaks ties.

The proofs are timed by a FAKE clock (scripted seconds per layout): real timings of sub-second
proofs on a shared machine would make these tests flaky. The calibrations are real, on a 4 -> 2
linear model, and every candidate keeps EZKL's 16384x2 decomposition (logrows 15 for all of them),
so the modelled cost cannot settle the choice and the clock must.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ngx_zk import tuner
from ngx_zk.artifacts import Circuit
from ngx_zk.errors import ProvingError

from . import onnx_factory

DEFAULT = tuner.EZKL_DEFAULT
ONE_COL = tuner.Candidate(16384, 2, num_inner_cols=1)
FOUR_COLS = tuner.Candidate(16384, 2, num_inner_cols=4)
VISIBILITY = {"input_visibility": "hashed", "param_visibility": "fixed", "output_visibility": "public"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tiny")
    onnx = onnx_factory.linear(folder / "network.onnx", 4, 2)
    values = [((k * 7 + j * 3) % 11 - 5) / 5 for k in range(6) for j in range(4)]
    (folder / "calibration.json").write_text(json.dumps({"input_data": [values]}))
    return onnx, folder / "calibration.json"


def cols(settings: Path) -> int:
    return int(json.loads(settings.read_text())["run_args"]["num_inner_cols"])


def fake_clock(seconds: dict[int, float]) -> tuple[tuner.Timer, list[int]]:
    """A FAKE clock: 'proves' in the scripted seconds for each num_inner_cols; logs what it timed."""
    log: list[int] = []

    def timer(settings: Path, compiled: Path) -> float:
        assert compiled.is_file()
        log.append(cols(settings))
        return seconds[cols(settings)]

    return timer, log


def run(
    tmp_path: Path,
    tiny: tuple[Path, Path],
    seconds: dict[int, float],
    errors: dict[int, float] | None = None,
    budget_s: float = tuner.TIMING_BUDGET_S,
) -> tuple[tuner.Tuning, list[int]]:
    timer, log = fake_clock(seconds)
    errors = errors or {1: 0.001, 2: 0.001, 4: 0.001}
    chosen = tuner.tune(
        tmp_path,
        tiny[0],
        tiny[1],
        VISIBILITY,
        max_logrows=16,
        tolerance=0.05,
        measure=lambda s, c: errors[cols(s)],
        candidates=(DEFAULT, ONE_COL, FOUR_COLS),
        timer=timer,
        knobs=False,
        budget_s=budget_s,
    )
    return chosen, log


def measured(tuning: tuner.Tuning, cand: tuner.Candidate) -> float:
    record = next(t for t in tuning.tried if t["label"] == cand.label)
    return float(min(record["prove_s"]))


def test_the_default_is_kept_when_nothing_proves_clearly_faster(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    """One column is 5 % faster (inside the 10 % margin), four columns slower: EZKL's default stays."""
    chosen, log = run(tmp_path, tiny, {2: 1.0, 1: 0.95, 4: 1.3})
    assert chosen.candidate == DEFAULT
    assert chosen.timing is not None and "no finalist" in chosen.timing["decision"]
    assert sorted(set(log)) == [1, 2, 4]  # the default and both finalists were timed
    record = chosen.to_json()
    assert record["timing"]["default_prove_s"] == 1.0 and record["error_vs_default"] == 1.0
    (picked,) = [t for t in record["tried"] if t.get("chosen")]
    assert picked["label"] == DEFAULT.label


def test_the_fastest_layout_wins_and_is_never_slower_than_the_default(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    chosen, _ = run(tmp_path, tiny, {2: 1.0, 1: 0.5, 4: 0.8})
    assert chosen.candidate == ONE_COL
    assert measured(chosen, ONE_COL) <= measured(chosen, DEFAULT) * (1 - tuner.SPEEDUP_MARGIN)
    assert chosen.timing is not None and chosen.timing["speedup_vs_default"] == pytest.approx(2.0)


def test_among_similar_times_the_more_accurate_wins(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    """Four columns prove 10 % slower than one (the same cost, within 20 %) with a tenth of the error."""
    chosen, _ = run(tmp_path, tiny, {2: 1.0, 1: 0.5, 4: 0.55}, errors={1: 0.01, 2: 0.0005, 4: 0.001})
    assert chosen.candidate == FOUR_COLS
    assert chosen.timing is not None and "most accurate" in chosen.timing["decision"]
    assert chosen.to_json()["error_vs_default"] == pytest.approx(2.0)


def test_a_spent_budget_still_times_the_default_and_the_cheapest_finalist_once(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    chosen, log = run(tmp_path, tiny, {2: 1.0, 1: 0.5, 4: 0.1}, budget_s=0.0)
    assert sorted(log) == [1, 2]  # four columns would have been faster, but nothing past the budget runs
    assert chosen.candidate == ONE_COL
    four = next(t for t in chosen.tried if t["label"] == FOUR_COLS.label)
    assert "budget" in four["timing_note"] and "prove_s" not in four


def test_a_finalist_that_fails_to_prove_is_dropped_and_the_rest_still_compete(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    def timer(settings: Path, compiled: Path) -> float:  # FAKE clock; one column "fails to prove"
        if cols(settings) == 1:
            raise ProvingError("proving failed: out of memory")
        return {2: 1.0, 4: 0.5}[cols(settings)]

    chosen = tuner.tune(
        tmp_path,
        tiny[0],
        tiny[1],
        VISIBILITY,
        max_logrows=16,
        tolerance=0.05,
        measure=lambda s, c: 0.001,
        candidates=(DEFAULT, ONE_COL, FOUR_COLS),
        timer=timer,
        knobs=False,
    )
    assert chosen.candidate == FOUR_COLS
    one = next(t for t in chosen.tried if t["label"] == ONE_COL.label)
    assert "out of memory" in one["timing_note"] and "prove_s" not in one


def test_without_a_clock_the_modelled_cost_decides(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    chosen = tuner.tune(
        tmp_path,
        tiny[0],
        tiny[1],
        VISIBILITY,
        max_logrows=16,
        tolerance=0.05,
        measure=lambda s, c: 0.001,
        candidates=(DEFAULT, ONE_COL, FOUR_COLS),
        knobs=False,
    )
    assert chosen.candidate == ONE_COL and chosen.timing is None and chosen.default_error == 0.001


def test_a_layout_modelled_far_slower_is_not_timed() -> None:
    """Five fewer logrows outweigh any column count; one fewer does not (4 columns at 14 ~ 2 at 15)."""
    assert tuner.timing.slowdown_bound((15, 2), (10, 1)) >= 1 / tuner.DOMINATED
    assert tuner.timing.slowdown_bound((15, 2), (14, 4)) < 1 / tuner.DOMINATED
    assert tuner.timing.slowdown_bound((15, 1), (14, 4)) < 1 / tuner.DOMINATED


def test_a_real_build_records_its_timings_and_its_error_against_the_default(mlp_circuit: Circuit) -> None:
    """The mlp build (real clock): finalists timed, EZKL's default (logrows 15) modelled far slower than
    the logrows-10 finalists and so not timed, the error against the default reported."""
    tuning = mlp_circuit.manifest.tuning
    timing = tuning["timing"]
    timed = [f for f in timing["finalists"] if f["prove_s"] is not None]
    assert len(timed) >= 2 and timing["chosen_prove_s"] == min(f["prove_s"] for f in timed if f["label"] == tuning["label"])
    default = next(t for t in tuning["tried"] if t["label"] == DEFAULT.label)
    assert default["logrows"] == 15 and "modelled at least" in default["not_timed"]
    assert tuning["error_vs_default"] == pytest.approx(tuning["max_abs_error"] / tuning["default_max_abs_error"])
    assert tuning["max_abs_error"] <= tuning["tolerance"]
