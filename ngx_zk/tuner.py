"""The circuit tuner: search the EZKL settings that calibration leaves alone, then time the finalists.

EZKL's ``calibrate_settings`` picks scales and lookup ranges but keeps the rest of the layout at
its defaults: a range-check decomposition of 16384**2 (whose 2^14-row table alone forces
logrows >= 15), two inner columns per operation, and a rescale after every multiplication. Each
:class:`Candidate` sets these knobs:

* ``decomp_base`` x ``decomp_legs``: the range-check decomposition. A smaller base shrinks the
  table (a 512-row table fits in 2^10 rows), more legs add rows.
* ``num_inner_cols``: columns per operation. Fewer columns mean less work per row but more rows.
* ``scale_rebase_multiplier``: how far the fixed-point scale may grow before a rescale; 2 skips
  every other rescale (each costs a decomposition), so the model needs fewer rows, but values
  grow and need a lower scale to stay inside the decomposition's range.
* ``scale``: the input/param scale tried, or None for EZKL's own choice among 11..13. Lower scales
  shrink lookup tables (a sigmoid's table halves per bit) at the cost of accuracy.
* EZKL 23's switches, tried only where they change this model's circuit *and* are sound for its
  visibility (:func:`knob_rule`; the reasoning is below).

Every candidate keeps a range-check range ``decomp_base ** decomp_legs`` of at least
2^(SALT_ELEMENT_BITS + 2), so EZKL's witness generation accepts every salt (see the first knob).

**The switches and why each is (un)sound.** Read in EZKL 23.0.4/23.0.5's source and checked here.

* ``ignore_range_check_inputs_outputs``: drops the range check (decomposition) EZKL lays out on
  the model's inputs and on *public* outputs (the ``Output`` op; hashed and private outputs never
  get one). A *hashed* input is never range-checked in the real circuit anyway: the Poseidon chip
  assigns the input cells and EZKL's ``Input`` op skips cells that are already assigned. Only the
  uncalibrated row count (the dummy layout) and the honest prover's witness generation apply the
  check. Shown by ``tests/test_tuner_knobs.py``: a proof whose salt element is 2^40 verifies with
  the verification key of the default, "range-checked" circuit. Binding does not need the check:
  Poseidon fixes the exact field elements the consumer committed to, salt slots included, and
  nothing else touches the salt slots. So with ``hashed`` inputs and ``hashed``/``private``
  outputs the switch removes no constraint from the real circuit; it only corrects the row count
  (and makes EZKL decompose constants, which adds constraints). With *public* outputs it removes a
  real constraint: the output cells and the public instances are then only tied by equality, and
  whether every EZKL operator pins its result without that final range check is not established
  here (division and lookups do range-check their own claimed results; not every operator was
  read), while the contract and the auditor decode the instances as bounded fixed-point values.
  Public inputs lose the bound on values the verifier supplies, private inputs the only bound on
  what the prover may choose. **Used only for hashed inputs with hashed or private outputs.**
* ``disable_freivalds``: EZKL checks eligible einsums (batched matrix products, e.g. attention's
  ``Q @ K^T``) with Freivalds' argument, a random-challenge check of the product (soundness error
  about n/|F| ~ 2^-240 through the Fiat-Shamir transcript), or, with the switch, with plain
  multiply-add constraints. Both are sound for every visibility; they trade rows (and verifier size)
  for prover work, so the tuner tries both where the model has an eligible einsum.
* ``bounded_log_lookup``: ``Ln`` becomes a claimed base-2 logarithm that is range-checked and
  bracketed by power-of-two lookups, instead of one lookup table over the whole input range. Both
  constrain the result; only the approximation differs, and the accuracy check judges that. Sound
  for every visibility; tried where the model has a ``Log``.

**Search.** ``gen_settings`` (no calibration, fast) gives each layout's row count, so every
candidate has a lower bound on its logrows: the rows and the range-check table must fit
(:mod:`ngx_zk.sizing`). A model whose EZKL default layout needs more rows than the cap is refused
before any calibration, and with the build's memory limit a candidate whose setup and proof are
estimated to need more memory than the build may use (:func:`ngx_zk.limits.estimate_mb`) is not
calibrated.
Candidates are calibrated in order of their lower-bound modelled cost ``(logrows, num_inner_cols)``
(every column is committed to and evaluated over the whole 2^logrows domain, used or not), and a
calibrated candidate is accepted only if its witness succeeds on every calibration sample with
outputs within the accuracy tolerance of the float model. The search keeps the most accurate
candidate of each cost class (:data:`Class`: the modelled cost and the switches on, which change
columns the model does not count) and stops calibrating candidates that cannot reach one of the
:data:`FINALISTS` cheapest classes found so far, or only the class of one at a scale as fine.
EZKL's default is calibrated and measured too: it is the reference for speed and accuracy (the
manifest reports the chosen circuit's error against it).

**Choice rule.** The modelled cost ranks, measurement decides: logrows alone is a poor guide
(4 inner columns at logrows 14 proved no faster than EZKL's 2 at logrows 15). With a ``timer``
each finalist and EZKL's default are set up and prove the calibration sample
:data:`TIMING_ROUNDS` times, interleaved, within :data:`TIMING_BUDGET_S`; the fastest proof of
each counts. A finalist that the model says is more than twice as slow as the cheapest one is
not timed (``_slowdown_bound``). A finalist is eligible only if it proves at least
:data:`SPEEDUP_MARGIN` faster than EZKL's default; when none is, the default is kept. Among the
eligible ones, those within :data:`SIMILAR_COST` of the fastest count as the same cost and the
most accurate of them wins. Without a timer the cheapest class by the model wins. Everything tried
(or skipped, and why) and every measurement is recorded.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import _ezkl, defaults, limits, sizing
from .errors import CircuitError, LogrowsCapError, NgxZkError

Measure = Callable[[Path, Path], float]
"""(settings, compiled circuit) -> max absolute output error over the calibration samples."""

Timer = Callable[[Path, Path], float]
"""(settings, compiled circuit) -> seconds one witness + proof of the calibration sample costs.

ngx-zk's timer counts CPU seconds (all threads), which other load on a shared machine disturbs far
less than wall time. The first call for a circuit may run its setup; only the proof counts."""

Cost = tuple[int, int]
"""(logrows, num_inner_cols): the modelled cost; smaller is cheaper (see the module docstring)."""

Class = tuple[int, int, tuple[str, ...]]
"""A cost class: the modelled cost and the switches on (they change columns the cost does not count)."""

EZKL_SCALES = "11-13"
"""What EZKL's calibration tries when no scale is given (input <= param scale, each in 11..13)."""

MIN_SALT_RANGE = 1 << (defaults.SALT_ELEMENT_BITS + 2)

FINALISTS = 3
"""Cost classes kept for timing, besides EZKL's default."""

TIMING_ROUNDS = 2
"""Proofs per finalist (interleaved); the fastest counts, which is the least disturbed by load."""

TIMING_BUDGET_S = 90.0
"""Wall-clock budget of the timing stage (setups included). The default and the cheapest finalist
are always timed once; later proofs are skipped when the budget is spent."""

SPEEDUP_MARGIN = 0.10
"""A finalist must prove this much faster than EZKL's default to replace it."""

SIMILAR_COST = 0.20
"""Finalists proving within this fraction of the fastest count as the same cost: the most accurate
of them wins (sub-second proofs vary by about 10 % between runs on a shared machine)."""

DOMINATED = 0.5
"""A finalist whose modelled prove time is at least 1/DOMINATED times the cheapest's is not timed."""

KNOBS = ("disable_freivalds", "bounded_log_lookup", "ignore_range_check_inputs_outputs")
"""EZKL 23's switches the tuner may turn on (all off is EZKL's default)."""


def knob_rule(knob: str, input_visibility: str, output_visibility: str) -> str | None:
    """Why ``knob`` is unsound for these visibilities, or None when it is sound (module docstring)."""
    if knob not in KNOBS:
        raise ValueError(f"unknown knob {knob!r}")
    if knob != "ignore_range_check_inputs_outputs":
        return None
    if input_visibility == "polycommit":
        return "polycommit inputs keep their range check (the switch is argued sound only for hashed inputs)"
    if input_visibility != "hashed":
        return (
            f"{input_visibility} inputs are range-checked in the circuit; the check bounds "
            f"{'values the verifier supplies' if input_visibility == 'public' else 'what the prover may choose'}"
        )
    if output_visibility not in ("hashed", "private"):
        return f"{output_visibility} outputs would lose the range check that ties them to the instances"
    return None


@dataclass(frozen=True)
class Candidate:
    decomp_base: int
    decomp_legs: int
    num_inner_cols: int = 2
    scale_rebase_multiplier: int = 1
    scale: int | None = None
    """Input and param scale to calibrate with; None lets EZKL choose (see EZKL_SCALES)."""
    disable_freivalds: bool = False
    bounded_log_lookup: bool = False
    ignore_range_check_inputs_outputs: bool = False

    @property
    def knobs(self) -> tuple[str, ...]:
        return tuple(k for k in KNOBS if getattr(self, k))

    @property
    def label(self) -> str:
        scales = EZKL_SCALES if self.scale is None else str(self.scale)
        cols = "col" if self.num_inner_cols == 1 else "cols"
        names = {
            "disable_freivalds": "no freivalds",
            "bounded_log_lookup": "bounded log",
            "ignore_range_check_inputs_outputs": "no io range check",
        }
        return (
            f"decomp {self.decomp_base}x{self.decomp_legs}, {self.num_inner_cols} {cols}, "
            f"rebase x{self.scale_rebase_multiplier}, scale {scales}" + "".join(f", {names[k]}" for k in self.knobs)
        )

    @property
    def tag(self) -> str:
        """A file-name-safe id."""
        scale = "auto" if self.scale is None else str(self.scale)
        flags = "".join(f"-{''.join(w[0] for w in k.split('_'))}" for k in self.knobs)
        return f"d{self.decomp_base}x{self.decomp_legs}-c{self.num_inner_cols}-m{self.scale_rebase_multiplier}-s{scale}{flags}"

    @property
    def range_size(self) -> int:
        """Values the range-check decomposition accepts on each side of zero."""
        return int(self.decomp_base**self.decomp_legs)

    @property
    def layout(self) -> tuple[int | bool, ...]:
        """The knobs that set the row count (the scale does not)."""
        return (
            self.decomp_base,
            self.decomp_legs,
            self.num_inner_cols,
            self.scale_rebase_multiplier,
            *(getattr(self, k) for k in KNOBS),
        )

    def run_args(self) -> dict[str, int | bool]:
        return {
            "decomp_base": self.decomp_base,
            "decomp_legs": self.decomp_legs,
            "num_inner_cols": self.num_inner_cols,
            "scale_rebase_multiplier": self.scale_rebase_multiplier,
            **{k: getattr(self, k) for k in KNOBS},
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "decomp_base": self.decomp_base,
            "decomp_legs": self.decomp_legs,
            "num_inner_cols": self.num_inner_cols,
            "scale_rebase_multiplier": self.scale_rebase_multiplier,
            "scale": EZKL_SCALES if self.scale is None else self.scale,
            **{k: getattr(self, k) for k in KNOBS},
        }


EZKL_DEFAULT = Candidate(16384, 2)
"""EZKL's own settings: decomposition 16384x2, 2 inner columns, no rebase multiplier, its scales."""

DECOMPOSITIONS = ((16384, 2), (1024, 3), (512, 2), (256, 4))
INNER_COLS = (2, 1, 4)
REBASE_MULTIPLIERS = (1, 2)
SCALES: tuple[int | None, ...] = (None, 10, 8)

CANDIDATES: tuple[Candidate, ...] = tuple(
    Candidate(base, legs, cols, mult, scale)
    for scale in SCALES
    for mult in REBASE_MULTIPLIERS
    for base, legs in DECOMPOSITIONS
    for cols in INNER_COLS
)
"""In order of preference among equal cost (EZKL's default first). Every candidate keeps a range of
at least 2^(SALT_ELEMENT_BITS + 2), so salt slots stay valid. :func:`tune` adds the switch variants
(:data:`KNOBS`) that are sound and change the model's circuit."""

assert CANDIDATES[0] == EZKL_DEFAULT
assert all(c.range_size >= MIN_SALT_RANGE for c in CANDIDATES)


@dataclass
class Tuning:
    """The chosen settings and the evidence for the choice (recorded in the manifest)."""

    candidate: Candidate
    settings: Path
    compiled: Path
    logrows: int
    max_abs_error: float
    tolerance: float
    tried: list[dict[str, Any]] = field(default_factory=list)
    default_error: float | None = None
    """EZKL's default circuit's max output error on the same samples (None: not built)."""
    timing: dict[str, Any] | None = None
    """The timing stage: finalists, seconds, budget, margin and the decision (None: no timer)."""

    def to_json(self) -> dict[str, Any]:
        chosen = json.loads(self.settings.read_text())["run_args"]
        record: dict[str, Any] = {
            **self.candidate.to_json(),
            "input_scale": int(chosen["input_scale"]),
            "param_scale": int(chosen["param_scale"]),
            "max_abs_error": self.max_abs_error,
            "tolerance": self.tolerance,
            "default_max_abs_error": self.default_error,
            "error_vs_default": (self.max_abs_error / self.default_error) if self.default_error else None,
            "rule": (
                f"the {FINALISTS} cheapest (logrows, num_inner_cols) classes within tolerance and EZKL's default "
                f"prove the calibration sample; the fastest that beats the default by {SPEEDUP_MARGIN:.0%} wins "
                f"(within {SIMILAR_COST:.0%} of it, the most accurate), else the default"
                if self.timing is not None
                else "smallest (logrows, num_inner_cols) within tolerance; the most accurate of that class"
            ),
            "tried": self.tried,
        }
        if self.timing is not None:
            record["timing"] = self.timing
        return record


@dataclass
class _Built:
    """A calibrated, compiled, accurate candidate."""

    index: int
    settings: Path
    compiled: Path
    logrows: int
    error: float

    def cost(self, candidates: Sequence[Candidate]) -> Cost:
        return (self.logrows, candidates[self.index].num_inner_cols)

    def key(self, candidates: Sequence[Candidate]) -> Class:
        return _class(self.logrows, candidates[self.index])


def _class(logrows: int, cand: Candidate) -> Class:
    return (logrows, cand.num_inner_cols, cand.knobs)


def tune(
    workdir: Path,
    circuit_onnx: Path,
    calibration: Path,
    base_args: dict[str, Any],
    *,
    max_logrows: int,
    tolerance: float,
    measure: Measure,
    candidates: Sequence[Candidate] = CANDIDATES,
    timer: Timer | None = None,
    knobs: bool = True,
    budget_s: float = TIMING_BUDGET_S,
    memory_mb: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Tuning:
    """Return the chosen candidate (see the module docstring). Raises if none fits.

    ``knobs`` adds the sound switch variants that change this model's circuit; ``timer`` turns on
    the timing stage (without it the modelled cost decides). With ``memory_mb`` (the build's memory
    limit), a layout whose setup and proof are estimated to need more than the build may use
    (:func:`ngx_zk.limits.estimate_mb`) is rejected before it is calibrated, and again at its
    calibrated logrows, so neither the timing stage nor the final setup runs out of memory."""
    vis_in, vis_out = str(base_args.get("input_visibility", "hashed")), str(base_args.get("output_visibility", "public"))
    for cand in candidates:
        if cand.range_size < MIN_SALT_RANGE:
            raise ValueError(f"{cand.label}: range {cand.range_size} below 2^{defaults.SALT_ELEMENT_BITS + 2}")
        for knob in cand.knobs:
            if (why := knob_rule(knob, vis_in, vis_out)) is not None:
                raise ValueError(f"{cand.label}: {knob} is unsound for {vis_in} inputs / {vis_out} outputs: {why}")
    if (
        over := sizing.over_cap_before_tuning(workdir, circuit_onnx, base_args, candidates, EZKL_DEFAULT, max_logrows)
    ) is not None:
        raise over
    notes: dict[str, str] = {}
    if knobs:
        candidates = _with_knob_variants(workdir, circuit_onnx, base_args, list(candidates), vis_in, vis_out, notes)
    records = [cand.to_json() for cand in candidates]
    progress(f"calibrating: sizing {len(candidates)} candidate settings")
    bounds = sizing.lower_bounds(workdir, circuit_onnx, base_args, candidates, records)
    order = sorted((i for i in range(len(candidates)) if i in bounds), key=lambda i: (bounds[i], candidates[i].num_inner_cols, i))
    budget = None if memory_mb is None else limits.memory_budget_mb(memory_mb)

    def over_memory(logrows: int, i: int) -> bool:
        """Record and say whether candidate i at ``logrows`` would need more memory than the build may use."""
        need = limits.estimate_mb(logrows, candidates[i].num_inner_cols)
        if budget is None or need <= budget:
            return False
        records[i]["memory_mb"] = need
        records[i]["rejected"] = (
            f"needs about {need:,} MB to set up and prove at logrows {logrows}, above {budget:,} MB of the {memory_mb:,} MB build limit"
        )
        return True

    def build(i: int, reference: bool = False) -> _Built | None:
        """Calibrate, compile and measure candidate i; None (reason recorded) when it does not qualify.
        A ``reference`` build (EZKL's default) is measured whatever its cost."""
        cand, record = candidates[i], records[i]
        settings = workdir / f"settings-{cand.tag}.json"
        try:
            _ezkl.gen_settings(CircuitError, circuit_onnx, settings, _ezkl.run_args(**base_args, **cand.run_args()))
            _ezkl.calibrate(
                CircuitError,
                calibration,
                circuit_onnx,
                settings,
                margin=defaults.LOOKUP_SAFETY_MARGIN,
                max_logrows=max_logrows,
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
        if logrows > max_logrows:
            record["rejected"] = f"logrows {logrows} above the cap {max_logrows}"
            return None
        if over_memory(logrows, i):
            return None
        if not reference and not worth(_class(logrows, cand)):
            record["skipped"] = f"logrows {logrows} cannot beat the {FINALISTS} cheapest accurate classes"
            return None
        progress(f"checking accuracy of {cand.label} (logrows {logrows})")
        compiled = settings.with_suffix(".compiled")
        try:
            _ezkl.compile_circuit(CircuitError, circuit_onnx, compiled, settings)
            error = measure(settings, compiled)
        except CircuitError as exc:
            record["rejected"] = exc.message
            return None
        record["max_abs_error"] = error
        if error > tolerance:
            record["rejected"] = f"max output error {error:.4g} above tolerance {tolerance:.4g}"
            return None
        return _Built(i, settings, compiled, logrows, error)

    classes: dict[Class, _Built] = {}  # the most accurate accurate candidate of each cost class
    accurate: dict[int, _Built] = {}

    def kth() -> Class | None:
        return sorted(classes)[FINALISTS - 1] if len(classes) >= FINALISTS else None

    def worth(key: Class) -> bool:
        """Could a candidate of this class still be a finalist: is it cheaper than the last of the cheapest?"""
        limit = kth()
        return limit is None or key < limit

    for step, i in enumerate(order):
        cand, record = candidates[i], records[i]
        if bounds[i] > max_logrows:
            record["rejected"] = f"needs logrows >= {bounds[i]}, above the cap {max_logrows}"
            continue
        if over_memory(bounds[i], i):
            continue
        floor = _class(bounds[i], cand)
        if not worth(floor):
            record["skipped"] = f"cannot beat the {FINALISTS} cheapest accurate classes (the last {kth()})"
            continue
        if (held := classes.get(floor)) is not None and _finer(candidates[held.index], cand):
            # at best the same class as one calibrated at a scale at least as fine: not more accurate
            record["not_finalist"] = f"same cost at best as {candidates[held.index].label}, not a finer scale"
            continue
        progress(f"calibrating {cand.label} ({step + 1}/{len(order)})")
        built = build(i)
        if built is None:
            continue
        accurate[i] = built
        key = built.key(candidates)
        held = classes.get(key)
        if held is None or built.error < held.error:
            if held is not None:
                records[held.index]["not_finalist"] = f"same cost as the more accurate {cand.label}"
            classes[key] = built
        else:
            record["not_finalist"] = f"same cost as the more accurate {candidates[held.index].label}"

    default = _default_reference(candidates, records, accurate, build, progress)
    finalists = [classes[c] for c in sorted(classes)[:FINALISTS]]
    for key in sorted(classes)[FINALISTS:]:
        records[classes[key].index]["not_finalist"] = f"cost class {key} is not among the {FINALISTS} cheapest"
    if not finalists and default is None:
        raise _no_choice(records, max_logrows, memory_mb)
    if timer is None:
        chosen = finalists[0] if finalists else default
        timing = None
    else:
        chosen, timing = _timed_choice(finalists, default, candidates, records, timer, budget_s, progress)
    assert chosen is not None
    records[chosen.index]["chosen"] = True
    for i, cand in enumerate(candidates):
        for knob in cand.knobs:
            if knob in notes:
                records[i].setdefault("knob_note", notes[knob])
    return Tuning(
        candidates[chosen.index],
        chosen.settings,
        chosen.compiled,
        chosen.logrows,
        chosen.error,
        tolerance,
        records,
        default.error if default else None,
        timing,
    )


def _default_reference(
    candidates: Sequence[Candidate],
    records: list[dict[str, Any]],
    accurate: dict[int, _Built],
    build: Callable[[int, bool], _Built | None],
    progress: Callable[[str], None],
) -> _Built | None:
    """EZKL's default, calibrated and measured even when the search skipped it (None if not a candidate)."""
    if EZKL_DEFAULT not in candidates:
        return None
    i = candidates.index(EZKL_DEFAULT)
    record = records[i]
    if i in accurate or "rejected" in record:
        return accurate.get(i)
    record.pop("skipped", None)
    progress(f"calibrating EZKL's default for reference ({EZKL_DEFAULT.label})")
    built = build(i, True)
    if built is not None:
        record["reference"] = "EZKL's default: the speed and accuracy reference"
    return built


def _finer(a: Candidate, b: Candidate) -> bool:
    """Is ``a``'s scale at least as fine as ``b``'s (None, EZKL's own 11..13, is the finest)?"""
    return a.scale is None or (b.scale is not None and a.scale >= b.scale)


def _slowdown_bound(cost: Cost, cheapest: Cost) -> float:
    """A modelled lower bound on prove_time(cost) / prove_time(cheapest): 2^(0.75 dlogrows) x min(1, column ratio).

    Prove time is about 2^logrows x (a + b x num_inner_cols) plus fixed overheads that make small
    circuits slower than their size says (2^5 more rows proved 22x slower here), hence the 0.75."""
    return float(2.0 ** (0.75 * (cost[0] - cheapest[0])) * min(1.0, cost[1] / cheapest[1]))


def _timed_choice(
    finalists: list[_Built],
    default: _Built | None,
    candidates: Sequence[Candidate],
    records: list[dict[str, Any]],
    timer: Timer,
    budget_s: float,
    progress: Callable[[str], None],
) -> tuple[_Built, dict[str, Any]]:
    """Time the finalists and the default; choose by the rule in the module docstring."""
    pool = list(finalists)
    if default is not None and all(b.index != default.index for b in pool):
        pool.insert(0, default)
    cheapest = min((b.cost(candidates) for b in pool), default=(0, 1))
    timed: list[_Built] = []
    for b in pool:
        bound = _slowdown_bound(b.cost(candidates), cheapest)
        if bound >= 1 / DOMINATED:
            records[b.index]["not_timed"] = f"modelled at least {bound:.1f}x slower than logrows {cheapest[0]}"
        else:
            timed.append(b)
    runs: dict[int, list[float]] = {b.index: [] for b in timed}
    failed: set[int] = set()
    first_rival = next((b for b in timed if b is not default), None)
    started = time.perf_counter()
    for rnd in range(TIMING_ROUNDS):
        if rnd:  # later rounds only for those whose ranking is still in doubt (and the default)
            lead = min((min(r) for r in runs.values() if r), default=0.0)
            timed = [b for b in timed if b is default or (runs[b.index] and min(runs[b.index]) <= lead * (1 + 2 * SIMILAR_COST))]
        for b in timed if rnd % 2 == 0 else reversed(timed):
            if b.index in failed:
                continue
            must = rnd == 0 and (b is default or b is first_rival)
            if time.perf_counter() - started > budget_s and not must:
                records[b.index].setdefault("timing_note", f"budget of {budget_s:.0f}s spent after {len(runs[b.index])} proofs")
                continue
            progress(f"timing a proof of {candidates[b.index].label} (logrows {b.logrows}, round {rnd + 1})")
            try:
                runs[b.index].append(timer(b.settings, b.compiled))
            except NgxZkError as exc:  # not a candidate any more: it could not prove the calibration sample
                records[b.index]["timing_note"] = f"proving failed: {exc.message}"
                failed.add(b.index)
    best: dict[int, float] = {i: min(r) for i, r in runs.items() if r and i not in failed}
    for i, r in runs.items():
        if r:
            records[i]["prove_s"] = [round(s, 4) for s in r]
    base = best.get(default.index) if default is not None else None
    rivals = [b for b in finalists if b.index in best and (default is None or b.index != default.index)]
    # without a measured default (not built, or modelled far slower than the cheapest), all rivals qualify
    eligible = rivals if base is None else [b for b in rivals if best[b.index] <= base * (1 - SPEEDUP_MARGIN)]
    if eligible:
        fastest = min(best[b.index] for b in eligible)
        similar = [b for b in eligible if best[b.index] <= fastest * (1 + SIMILAR_COST)]
        chosen = min(similar, key=lambda b: (b.error, best[b.index]))
        why = "fastest" if best[chosen.index] == fastest else f"most accurate within {SIMILAR_COST:.0%} of the fastest"
        why += "" if base is None else f", {base / best[chosen.index]:.2f}x faster than EZKL's default"
    elif default is not None:
        chosen, why = default, f"no finalist proved {SPEEDUP_MARGIN:.0%} faster than EZKL's default"
    else:
        chosen, why = finalists[0], "no timing succeeded; the cheapest modelled class"
    timing = {
        "rounds": TIMING_ROUNDS,
        "budget_s": budget_s,
        "spent_s": round(time.perf_counter() - started, 2),
        "margin": SPEEDUP_MARGIN,
        "similar": SIMILAR_COST,
        "default_prove_s": base,
        "chosen_prove_s": best.get(chosen.index),
        "speedup_vs_default": (base / best[chosen.index]) if base and chosen.index in best else None,
        "finalists": [
            {
                "label": candidates[b.index].label,
                "logrows": b.logrows,
                "max_abs_error": b.error,
                "prove_s": best.get(b.index),
                "default": default is not None and b.index == default.index,
            }
            for b in pool
        ],
        "decision": why,
    }
    return chosen, timing


def _with_knob_variants(
    workdir: Path,
    circuit_onnx: Path,
    base_args: dict[str, Any],
    candidates: list[Candidate],
    vis_in: str,
    vis_out: str,
    notes: dict[str, str],
) -> list[Candidate]:
    """The candidates plus, for each sound switch that changes this model's circuit, a variant of
    each candidate with it on. Whether a switch changes the circuit is read from uncalibrated
    settings of EZKL's default layout with and without it."""
    if not candidates or any(c.knobs for c in candidates):
        return candidates
    probe = candidates[0]
    try:
        plain = _signature(workdir, circuit_onnx, base_args, probe)
    except CircuitError:
        return candidates
    relevant = []
    for knob in KNOBS:
        why = knob_rule(knob, vis_in, vis_out)
        if why is not None:
            continue
        try:
            changed = _signature(workdir, circuit_onnx, base_args, replace(probe, **{knob: True})) != plain
        except CircuitError as exc:
            notes[knob] = f"not tried: {exc.message}"
            continue
        if changed:
            relevant.append(knob)
    out = list(candidates)
    for knob in relevant:
        out += [replace(c, **{knob: True}) for c in out]
    return out


def _signature(workdir: Path, circuit_onnx: Path, base_args: dict[str, Any], cand: Candidate) -> tuple[Any, ...]:
    """What an uncalibrated layout commits to: rows, lookups, range checks, einsum columns."""
    path = workdir / f"probe-{cand.tag}.json"
    _ezkl.gen_settings(CircuitError, circuit_onnx, path, _ezkl.run_args(**base_args, **cand.run_args()))
    data = json.loads(path.read_text())
    return (
        data.get("num_rows"),
        data.get("total_assignments"),
        data.get("total_const_size"),
        sorted(json.dumps(x, sort_keys=True) for x in data.get("required_lookups", [])),
        sorted(json.dumps(x) for x in data.get("required_range_checks", [])),
        (data.get("einsum_params") or {}).get("total_einsum_col_size"),
        data.get("total_dynamic_col_size"),
        data.get("total_shuffle_col_size"),
    )


def _no_choice(records: list[dict[str, Any]], max_logrows: int, memory_mb: int | None = None) -> CircuitError:
    rejected = [r for r in records if "rejected" in r]
    over_cap = [r for r in rejected if "above the cap" in str(r["rejected"])]
    over_memory = [r for r in rejected if "memory_mb" in r]
    if rejected and len(over_cap) == len(rejected):
        return LogrowsCapError(min(int(r.get("logrows", r.get("bound_logrows", 0))) for r in over_cap), max_logrows)
    if over_memory and memory_mb is not None and len(over_cap) + len(over_memory) == len(rejected):
        need = min(int(r["memory_mb"]) for r in over_memory)
        return CircuitError(
            f"every circuit layout of this model is estimated to need more memory than the build may use "
            f"(the smallest about {need:,} MB, {limits.MEMORY_SHARE:.0%} of the {memory_mb:,} MB limit may be planned)",
            f"raise NGX_ZK_BUILD_MEMORY_MB to at least {math.ceil(need / limits.MEMORY_SHARE):,}",
        )
    if not any("logrows" in r for r in records):
        reasons = "; ".join(dict.fromkeys(str(r.get("rejected")) for r in rejected))
        return CircuitError(
            f"no circuit settings fit this model ({reasons})", "check the calibration data and the model's operators"
        )
    return CircuitError(
        "no candidate circuit met the accuracy tolerance on the calibration data",
        f"tried {sum('logrows' in r for r in records)} settings; pass a looser --tolerance or check the model",
    )


def copy_choice(tuning: Tuning, settings_out: Path, compiled_out: Path) -> None:
    shutil.copyfile(tuning.settings, settings_out)
    shutil.copyfile(tuning.compiled, compiled_out)
