"""The calibration runs: calibrate candidates, cheapest first, and keep the most accurate of each cost class.

``gen_settings`` (no calibration, fast) gives each layout's row count, so every candidate has a lower
bound on its logrows: the rows and the range-check table must fit (:mod:`ngx_zk.sizing`). With the
build's memory limit a candidate whose setup and proof are estimated to need more memory than the
build may use (:func:`ngx_zk.limits.estimate_mb`) is not calibrated.
Candidates are calibrated in order of their lower-bound modelled cost ``(logrows, num_inner_cols)``
(every column is committed to and evaluated over the whole 2^logrows domain, used or not), and a
calibrated candidate is accepted only if its witness succeeds on every calibration sample with
outputs within the accuracy tolerance of the float model. The search keeps the most accurate
candidate of each cost class (:data:`~.candidates.Class`: the modelled cost and the switches on,
which change columns the model does not count) and stops calibrating candidates that cannot reach
one of the :data:`FINALISTS` cheapest classes found so far, or only the class of one at a scale as
fine. EZKL's default is calibrated and measured too (:meth:`Search.default_reference`): it is the
reference for speed and accuracy (the manifest reports the chosen circuit's error against it).

The search has a wall-time budget (:data:`CALIBRATION_BUDGET_S`): once it is spent and at least one
accurate candidate is in hand, no further candidate is calibrated (its record says so); EZKL's default
is still calibrated as the reference, one more run. Without an accurate candidate the search goes on
(the build's own time limit bounds it).

Every candidate's fate (calibrated, rejected, skipped and why, its logrows and error) is written into
its record, a dict the manifest keeps (:class:`~.report.Tuning`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _ezkl, defaults, limits
from ..errors import CircuitError
from .candidates import EZKL_DEFAULT, Candidate, Class, Cost, cost_class, finer

Measure = Callable[[Path, Path], float]
"""(settings, compiled circuit) -> max absolute output error over the calibration samples."""

FINALISTS = 3
"""Cost classes kept for timing, besides EZKL's default."""

CALIBRATION_BUDGET_S = 300.0
"""Wall seconds after which the search calibrates no new candidate, once one is accurate. A large model's
calibration takes minutes per candidate: the cheapest candidates go first, so what the budget cuts is
the dearer tail."""


@dataclass
class Built:
    """A calibrated, compiled, accurate candidate."""

    index: int
    settings: Path
    compiled: Path
    logrows: int
    error: float

    def cost(self, candidates: Sequence[Candidate]) -> Cost:
        return (self.logrows, candidates[self.index].num_inner_cols)

    def key(self, candidates: Sequence[Candidate]) -> Class:
        return cost_class(self.logrows, candidates[self.index])


@dataclass
class Search:
    """One model's calibration runs over ``candidates`` (their ``records`` filled in as they go)."""

    workdir: Path
    circuit_onnx: Path
    calibration: Path
    base_args: dict[str, Any]
    candidates: Sequence[Candidate]
    records: list[dict[str, Any]]
    max_logrows: int
    tolerance: float
    measure: Measure
    memory_mb: int | None
    progress: Callable[[str], None]
    budget_s: float = CALIBRATION_BUDGET_S
    clock: Callable[[], float] = time.perf_counter

    def __post_init__(self) -> None:
        self.budget = None if self.memory_mb is None else limits.memory_budget_mb(self.memory_mb)
        self.classes: dict[Class, Built] = {}
        """The most accurate accurate candidate of each cost class."""
        self.accurate: dict[int, Built] = {}

    def run(self, bounds: dict[int, int]) -> None:
        """Calibrate the sized candidates (index -> lower-bound logrows) in order of their lower-bound cost."""
        candidates, records = self.candidates, self.records
        order = sorted(bounds, key=lambda i: (bounds[i], candidates[i].num_inner_cols, i))
        started = self.clock()
        for step, i in enumerate(order):
            cand, record = candidates[i], records[i]
            if bounds[i] > self.max_logrows:
                record["rejected"] = f"needs logrows >= {bounds[i]}, above the cap {self.max_logrows}"
                continue
            if self.over_memory(bounds[i], i):
                continue
            floor = cost_class(bounds[i], cand)
            if not self.worth(floor):
                record["skipped"] = f"cannot beat the {FINALISTS} cheapest accurate classes (the last {self.kth()})"
                continue
            if (held := self.classes.get(floor)) is not None and finer(candidates[held.index], cand):
                # at best the same class as one calibrated at a scale at least as fine: not more accurate
                record["not_finalist"] = f"same cost at best as {candidates[held.index].label}, not a finer scale"
                continue
            if self.classes and (spent := self.clock() - started) > self.budget_s:
                record["skipped"] = (
                    f"the calibration budget ({self.budget_s:.0f} s) was spent after {spent:.0f} s, "
                    f"with {len(self.classes)} accurate layout(s) in hand"
                )
                continue
            self.progress(f"calibrating {cand.label} ({step + 1}/{len(order)})")
            built = self.build(i)
            if built is None:
                continue
            self.accurate[i] = built
            key = built.key(candidates)
            held = self.classes.get(key)
            if held is None or built.error < held.error:
                if held is not None:
                    records[held.index]["not_finalist"] = f"same cost as the more accurate {cand.label}"
                self.classes[key] = built
            else:
                record["not_finalist"] = f"same cost as the more accurate {candidates[held.index].label}"

    def finalists(self) -> list[Built]:
        """The :data:`FINALISTS` cheapest classes' candidates, cheapest first (the others' records say why not)."""
        ranked = sorted(self.classes)
        for key in ranked[FINALISTS:]:
            self.records[self.classes[key].index]["not_finalist"] = f"cost class {key} is not among the {FINALISTS} cheapest"
        return [self.classes[c] for c in ranked[:FINALISTS]]

    def kth(self) -> Class | None:
        return sorted(self.classes)[FINALISTS - 1] if len(self.classes) >= FINALISTS else None

    def worth(self, key: Class) -> bool:
        """Could a candidate of this class still be a finalist: is it cheaper than the last of the cheapest?"""
        limit = self.kth()
        return limit is None or key < limit

    def over_memory(self, logrows: int, i: int) -> bool:
        """Record and say whether candidate i at ``logrows`` would need more memory than the build may use."""
        need = limits.estimate_mb(logrows, self.candidates[i].num_inner_cols)
        if self.budget is None or need <= self.budget:
            return False
        self.records[i]["memory_mb"] = need
        self.records[i]["rejected"] = (
            f"needs about {need:,} MB to set up and prove at logrows {logrows}, "
            f"above {self.budget:,} MB of the {self.memory_mb:,} MB build limit"
        )
        return True

    def build(self, i: int, reference: bool = False) -> Built | None:
        """Calibrate, compile and measure candidate i; None (reason recorded) when it does not qualify.
        A ``reference`` build (EZKL's default) is measured whatever its cost."""
        cand, record = self.candidates[i], self.records[i]
        settings = self.workdir / f"settings-{cand.tag}.json"
        try:
            _ezkl.gen_settings(CircuitError, self.circuit_onnx, settings, _ezkl.run_args(**self.base_args, **cand.run_args()))
            _ezkl.calibrate(
                CircuitError,
                self.calibration,
                self.circuit_onnx,
                settings,
                margin=defaults.LOOKUP_SAFETY_MARGIN,
                max_logrows=self.max_logrows,
                scales=None if cand.scale is None else [cand.scale],
                rebase=[cand.scale_rebase_multiplier],
            )
        except CircuitError as exc:
            record["rejected"] = exc.message
            return None
        data = json.loads(settings.read_text())
        logrows = int(data["run_args"]["logrows"])
        record.update(
            logrows=logrows,
            rows=int(data.get("num_rows", 0)),
            input_scale=int(data["run_args"]["input_scale"]),
            param_scale=int(data["run_args"]["param_scale"]),
        )
        if logrows > self.max_logrows:
            record["rejected"] = f"logrows {logrows} above the cap {self.max_logrows}"
            return None
        if self.over_memory(logrows, i):
            return None
        if not reference and not self.worth(cost_class(logrows, cand)):
            record["skipped"] = f"logrows {logrows} cannot beat the {FINALISTS} cheapest accurate classes"
            return None
        self.progress(f"checking accuracy of {cand.label} (logrows {logrows})")
        compiled = settings.with_suffix(".compiled")
        try:
            _ezkl.compile_circuit(CircuitError, self.circuit_onnx, compiled, settings)
            error = self.measure(settings, compiled)
        except CircuitError as exc:
            record["rejected"] = exc.message
            return None
        record["max_abs_error"] = error
        if error > self.tolerance:
            record["rejected"] = f"max output error {error:.4g} above tolerance {self.tolerance:.4g}"
            return None
        return Built(i, settings, compiled, logrows, error)

    def default_reference(self) -> Built | None:
        """EZKL's default, calibrated and measured even when the search skipped it (None if not a candidate)."""
        if EZKL_DEFAULT not in self.candidates:
            return None
        i = list(self.candidates).index(EZKL_DEFAULT)
        record = self.records[i]
        if i in self.accurate or "rejected" in record:
            return self.accurate.get(i)
        record.pop("skipped", None)
        self.progress(f"calibrating EZKL's default for reference ({EZKL_DEFAULT.label})")
        built = self.build(i, True)
        if built is not None:
            record["reference"] = "EZKL's default: the speed and accuracy reference"
        return built
