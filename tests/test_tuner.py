"""The tuner's choice rule: measured proving time decides, EZKL's default is the floor, accuracy breaks ties.

The proofs are timed by a FAKE clock (scripted seconds per layout): real timings of sub-second
proofs on a shared machine would make these tests flaky. The calibrations are real, on a 4 -> 2
linear model, and every candidate keeps EZKL's 16384x2 decomposition (logrows 15 for all of them),
so the modelled cost cannot settle the choice and the clock must.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk import _ezkl, inputs, keys, srs, tuner
from ngx_zk.artifacts import Circuit
from ngx_zk.errors import NgxZkError, ProvingError
from ngx_zk.tuner.calibration import Built

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


def test_a_spent_budget_times_only_the_default_and_keeps_it(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    """The first call (EZKL's default, the reference) always runs; with nothing left nothing else starts, and
    an unmeasured finalist never replaces a measured default."""
    chosen, log = run(tmp_path, tiny, {2: 1.0, 1: 0.5, 4: 0.1}, budget_s=0.0)
    assert log == [2]
    assert chosen.candidate == DEFAULT and chosen.timing is not None and "no finalist was timed" in chosen.timing["decision"]
    for cand in (ONE_COL, FOUR_COLS):
        record = next(t for t in chosen.tried if t["label"] == cand.label)
        assert "budget" in record["timing_note"] and "prove_s" not in record


class ClockFake:
    """A FAKE wall clock for the timing stage: it moves only when a FAKE proof says how long its call took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("budget_s", "calls", "winner"),
    [
        (90.0, [2, 1], ONE_COL),  # four columns (estimated 75 s) and both repeats (30 s, 40 s) do not fit in 20 s
        (120.0, [2, 1, 1, 2], ONE_COL),  # the repeats fit once one is measured (8 s of one column's 30 s first call)
        (200.0, [2, 1, 4, 4, 2], FOUR_COLS),  # everything fits: the fastest wins
    ],
)
def test_no_call_starts_that_its_estimate_puts_past_the_budget_and_the_best_so_far_wins(
    tmp_path: Path, tiny: tuple[Path, Path], budget_s: float, calls: list[int], winner: tuner.Candidate
) -> None:
    """random_forest: the tuner spent 417 s timing against its 90 s budget, starting calls it had no time
    for. Here each FAKE call takes scripted wall seconds on a FAKE clock (setup in a layout's first call):
    the stage never runs past its budget, each call not started says why, and the best layout measured
    so far is chosen (four columns prove fastest, but win only when there is time to measure them)."""
    clock = ClockFake()
    setup, prove, cpu = {2: 30.0, 1: 22.0, 4: 40.0}, {2: 10.0, 1: 8.0, 4: 10.0}, {2: 1.0, 1: 0.5, 4: 0.1}
    log: list[int] = []

    def timer(settings: Path, compiled: Path) -> float:  # FAKE proof: moves the FAKE clock, reports CPU seconds
        c = cols(settings)
        clock.now += (0.0 if c in log else setup[c]) + prove[c]
        log.append(c)
        return cpu[c]

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
        budget_s=budget_s,
        clock=clock,
    )
    assert log == calls
    assert chosen.timing is not None and chosen.timing["spent_s"] == clock.now <= budget_s
    assert chosen.candidate == winner
    records = {
        c: next(t for t in chosen.tried if t["label"] == cand.label) for cand, c in ((DEFAULT, 2), (ONE_COL, 1), (FOUR_COLS, 4))
    }
    for c, record in records.items():
        assert len(record.get("prove_s", [])) == log.count(c)
    if 4 not in log:
        assert "prove_s" not in records[4] and "not started after 0 proofs: estimated 75.0s" in records[4]["timing_note"]
    if budget_s == 90.0:  # both deserved a second proof (the race is close): neither started, each says why
        for c in (2, 1):
            assert (
                "not started after 1 proofs" in records[c]["timing_note"]
                and "20.0s of the 90s budget left" in records[c]["timing_note"]
            )


def test_a_default_that_failed_to_prove_is_not_kept_when_the_budget_stops_the_rest() -> None:
    """EZKL's default fails to prove (after 40 s of a 50 s budget), so nothing else fits: the cheapest modelled
    finalist is chosen, never the layout that could not prove. (timed_choice alone, with FAKE layouts: no EZKL.)"""
    candidates = (DEFAULT, ONE_COL, FOUR_COLS)
    built = [Built(i, Path(f"settings-{i}"), Path(f"compiled-{i}"), 15, 0.001) for i in range(3)]
    clock, log = ClockFake(), []

    def timer(settings: Path, compiled: Path) -> float:  # FAKE proof: the default fails after 40 s
        log.append(settings.name)
        clock.now += 40.0
        raise ProvingError("proving failed: out of memory")

    records = [c.to_json() for c in candidates]
    chosen, timing = tuner.timing.timed_choice(
        [built[1], built[2]], built[0], candidates, records, timer, 50.0, lambda _: None, clock
    )
    assert log == ["settings-0"] and chosen is built[1] and "no timing succeeded" in timing["decision"]
    assert "out of memory" in records[0]["timing_note"] and "not started" in records[2]["timing_note"]


def test_call_estimates_come_from_the_measured_wall_times() -> None:
    """A first call scales the largest measured first call by the modelled cost (generously: 2^dlogrows up,
    2^(0.75 dlogrows) down); a repeat (no setup) costs its first call times the repeat/first ratio measured
    on another layout."""
    costs = {0: (15, 2), 1: (15, 1), 2: (14, 4), 3: (16, 2)}
    assert tuner.timing.call_estimate(0, costs, {0: [], 1: []}) is None  # nothing measured: the first call runs
    walls = {0: [30.0], 1: [], 2: [], 3: []}
    assert tuner.timing.call_estimate(1, costs, walls) == pytest.approx(30.0 * 2 / 3)
    assert tuner.timing.call_estimate(2, costs, walls) == pytest.approx(30.0 * 2**-0.75 * 5 / 3)  # down: overheads
    assert tuner.timing.call_estimate(3, costs, walls) == pytest.approx(60.0)
    assert tuner.timing.call_estimate(0, costs, walls) == pytest.approx(30.0)  # no repeat measured: setup counted
    walls[1] = [20.0, 8.0]
    assert tuner.timing.call_estimate(0, costs, walls) == pytest.approx(12.0)  # 30 s x 8/20
    assert tuner.timing.call_estimate(1, costs, walls) == pytest.approx(8.0)


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


class CalibrationClockFake:
    """A FAKE wall clock for the calibration search: each accuracy measurement (one per calibrated
    candidate) takes ``step`` seconds on it, as a large model's calibration would."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def measure(self, settings: Path, compiled: Path) -> float:
        self.now += self.step
        return 0.001


@pytest.mark.parametrize(("step", "cut"), [(1_000.0, True), (10.0, False)])
def test_the_calibration_search_stops_at_its_budget_once_a_layout_is_accurate_and_still_measures_the_default(
    tmp_path: Path, tiny: tuple[Path, Path], step: float, cut: bool
) -> None:
    clock = CalibrationClockFake(step)
    chosen = tuner.tune(
        tmp_path,
        tiny[0],
        tiny[1],
        VISIBILITY,
        max_logrows=16,
        tolerance=0.05,
        measure=clock.measure,
        candidates=(DEFAULT, ONE_COL, FOUR_COLS),  # calibrated cheapest first: 1, then 2 (the default), then 4 columns
        knobs=False,
        calibration_budget_s=300,
        clock=lambda: clock.now,
    )
    tried = {t["label"]: t for t in chosen.tried}
    assert "max_abs_error" in tried[ONE_COL.label]  # the first one always runs: nothing is accurate yet
    assert "max_abs_error" in tried[DEFAULT.label] and chosen.default_error == 0.001  # the reference is kept
    four = tried[FOUR_COLS.label]
    if cut:
        assert "calibration budget (300 s) was spent after 1000 s" in four["skipped"] and "max_abs_error" not in four
    else:
        assert "max_abs_error" in four and "skipped" not in four
    assert chosen.candidate == ONE_COL


@pytest.mark.slow  # builds and proves a circuit of its own: about 25 s
def test_the_build_keeps_the_keys_the_timing_stage_made_instead_of_a_second_setup(
    settings: ngx.Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setup is deterministic: the chosen layout's timing setup gives the circuit's keys (lenet_5 spent 116 s
    of its 564 s build making them again). Every EZKL setup the build runs is a timed layout's, and the kept
    keys prove, verify, and are what a fresh setup makes (the vk a provider regenerates matches the manifest)."""
    setups: list[Path] = []
    real_setup = _ezkl.setup

    def counting_setup(error: type[NgxZkError], compiled: Path, *args: Any) -> None:
        setups.append(compiled)
        real_setup(error, compiled, *args)

    monkeypatch.setattr(_ezkl, "setup", counting_setup)
    model = tmp_path / "lin"
    model.mkdir()
    onnx_factory.linear(model / "network.onnx", 4, 2)
    circuit = ngx.build_circuit(model, settings)
    timed = [t for t in circuit.manifest.tuning["tried"] if "timing_wall_s" in t]
    assert timed and len(setups) == len(timed) and all(p.parent.name.startswith(".lin.building-") for p in setups)
    data = inputs.parse({"input_data": [[0.5, -0.25, 1.0, 0.0]]}, circuit.manifest)
    proof = ngx.prove(circuit, ngx.commit(circuit.manifest, data)[1], tmp_path / "p.json", settings)
    ngx.verify(proof.path, circuit, settings)
    monkeypatch.setattr(_ezkl, "setup", real_setup)
    fresh = ngx.load_settings({"NGX_ZK_HOME": str(tmp_path), "NGX_ZK_CACHE_DIR": str(tmp_path / "cache")})
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "srs").symlink_to(settings.cache_dir / "srs")  # a test SRS cannot be made again identically
    assert keys.proving_key(fresh, circuit, srs.test_srs(settings, circuit.manifest.logrows)[0]).is_file()
