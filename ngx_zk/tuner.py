"""The circuit tuner: search the EZKL settings that calibration leaves alone.

EZKL's ``calibrate_settings`` picks scales and lookup ranges but keeps the rest of the layout at
its defaults: a range-check decomposition of 16384**2 (whose 2^14-row table alone forces
logrows >= 15), two inner columns per operation, and a rescale after every multiplication. Each
:class:`Candidate` sets four knobs:

* ``decomp_base`` x ``decomp_legs``: the range-check decomposition. A smaller base shrinks the
  table (a 512-row table fits in 2^10 rows), more legs add rows.
* ``num_inner_cols``: columns per operation. Fewer columns mean less work per row but more rows.
* ``scale_rebase_multiplier``: how far the fixed-point scale may grow before a rescale; 2 skips
  every other rescale (each costs a decomposition), so the model needs fewer rows, but values
  grow and need a lower scale to stay inside the decomposition's range.
* ``scale``: the input/param scale tried, or None for EZKL's own choice among 11..13. Lower scales
  shrink lookup tables (a sigmoid's table halves per bit) at the cost of accuracy.

Every candidate keeps a range-check range ``decomp_base ** decomp_legs`` of at least
2^(SALT_ELEMENT_BITS + 2): EZKL range-checks the inputs, salt slots included, so a salt element
(up to 2^16 - 1 whatever the scale) must always fit.

**Choice rule.** Proving time is roughly (columns) x 2^logrows: every column is committed to and
evaluated over the whole 2^logrows domain, used or not. So the cost of a candidate is the pair
``(logrows, num_inner_cols)``: logrows first (one more doubles every column, the Poseidon hash's and
the lookup tables' included, which costs more than any saving of model columns), then fewer inner
columns (the model's advice and lookup columns scale with them). Rows used below 2^logrows cost
next to nothing and do not count. Among candidates of equal cost the earlier one in
:data:`CANDIDATES` wins: higher scales (more accurate) come first, then the smaller multiplier.

**Search.** ``gen_settings`` (no calibration, fast) gives each layout's row count, so every
candidate has a lower bound on its logrows: the rows and the range-check table must fit. Candidates
are calibrated in order of their lower-bound cost, and a candidate whose lower bound cannot beat
the best accurate circuit found so far is skipped without calibrating it. A calibrated candidate
is accepted only if its witness succeeds on every calibration sample with outputs within the
accuracy tolerance of the float model. Everything tried (or skipped, and why) is recorded.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _ezkl, defaults
from .errors import CircuitError, LogrowsCapError

Measure = Callable[[Path, Path], float]
"""(settings, compiled circuit) -> max absolute output error over the calibration samples."""

Cost = tuple[int, int]
"""(logrows, num_inner_cols): smaller is faster to prove; see the module docstring."""

EZKL_SCALES = "11-13"
"""What EZKL's calibration tries when no scale is given (input <= param scale, each in 11..13)."""

MIN_SALT_RANGE = 1 << (defaults.SALT_ELEMENT_BITS + 2)


@dataclass(frozen=True)
class Candidate:
    decomp_base: int
    decomp_legs: int
    num_inner_cols: int = 2
    scale_rebase_multiplier: int = 1
    scale: int | None = None
    """Input and param scale to calibrate with; None lets EZKL choose (see EZKL_SCALES)."""

    @property
    def label(self) -> str:
        scales = EZKL_SCALES if self.scale is None else str(self.scale)
        cols = "col" if self.num_inner_cols == 1 else "cols"
        return (
            f"decomp {self.decomp_base}x{self.decomp_legs}, {self.num_inner_cols} {cols}, "
            f"rebase x{self.scale_rebase_multiplier}, scale {scales}"
        )

    @property
    def tag(self) -> str:
        """A file-name-safe id."""
        scale = "auto" if self.scale is None else str(self.scale)
        return f"d{self.decomp_base}x{self.decomp_legs}-c{self.num_inner_cols}-m{self.scale_rebase_multiplier}-s{scale}"

    @property
    def range_size(self) -> int:
        """Values the range-check decomposition accepts on each side of zero."""
        return int(self.decomp_base**self.decomp_legs)

    @property
    def layout(self) -> tuple[int, int, int, int]:
        """The knobs that set the row count (the scale does not)."""
        return (self.decomp_base, self.decomp_legs, self.num_inner_cols, self.scale_rebase_multiplier)

    def run_args(self) -> dict[str, int]:
        return {
            "decomp_base": self.decomp_base,
            "decomp_legs": self.decomp_legs,
            "num_inner_cols": self.num_inner_cols,
            "scale_rebase_multiplier": self.scale_rebase_multiplier,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "decomp_base": self.decomp_base,
            "decomp_legs": self.decomp_legs,
            "num_inner_cols": self.num_inner_cols,
            "scale_rebase_multiplier": self.scale_rebase_multiplier,
            "scale": EZKL_SCALES if self.scale is None else self.scale,
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
at least 2^(SALT_ELEMENT_BITS + 2), so salt slots stay valid."""

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

    def to_json(self) -> dict[str, Any]:
        chosen = json.loads(self.settings.read_text())["run_args"]
        return {
            **self.candidate.to_json(),
            "input_scale": int(chosen["input_scale"]),
            "param_scale": int(chosen["param_scale"]),
            "max_abs_error": self.max_abs_error,
            "tolerance": self.tolerance,
            "rule": "smallest (logrows, num_inner_cols) within tolerance; ties go to the earlier candidate",
            "tried": self.tried,
        }


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
    progress: Callable[[str], None] = lambda _: None,
) -> Tuning:
    """Return the cheapest accurate candidate (see the module docstring). Raises if none fits."""
    for cand in candidates:
        if cand.range_size < MIN_SALT_RANGE:
            raise ValueError(f"{cand.label}: range {cand.range_size} below 2^{defaults.SALT_ELEMENT_BITS + 2}")
    records = [cand.to_json() for cand in candidates]
    progress(f"calibrating: sizing {len(candidates)} candidate settings")
    bounds = _lower_bounds(workdir, circuit_onnx, base_args, candidates, records)
    order = sorted((i for i in range(len(candidates)) if i in bounds), key=lambda i: (bounds[i], candidates[i].num_inner_cols, i))

    best: tuple[Cost, Tuning] | None = None
    for step, i in enumerate(order):
        cand, record = candidates[i], records[i]
        floor = (bounds[i], cand.num_inner_cols)
        if bounds[i] > max_logrows:
            record["rejected"] = f"needs logrows >= {bounds[i]}, above the cap {max_logrows}"
            continue
        if best is not None and floor >= best[0]:
            record["skipped"] = f"cannot beat {best[1].candidate.label}"
            continue
        progress(f"calibrating {cand.label} ({step + 1}/{len(order)})")
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
            continue
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
            continue
        cost = (logrows, cand.num_inner_cols)
        if best is not None and cost >= best[0]:
            record["skipped"] = f"logrows {logrows} cannot beat {best[1].candidate.label}"
            continue
        progress(f"checking accuracy of {cand.label} (logrows {logrows})")
        compiled = settings.with_suffix(".compiled")
        try:
            _ezkl.compile_circuit(CircuitError, circuit_onnx, compiled, settings)
            error = measure(settings, compiled)
        except CircuitError as exc:
            record["rejected"] = exc.message
            continue
        record["max_abs_error"] = error
        if error > tolerance:
            record["rejected"] = f"max output error {error:.4g} above tolerance {tolerance:.4g}"
            continue
        best = (cost, Tuning(cand, settings, compiled, logrows, error, tolerance, records))
    if best is not None:
        best[1].tried[candidates.index(best[1].candidate)]["chosen"] = True
        return best[1]
    raise _no_choice(records, max_logrows)


def _lower_bounds(
    workdir: Path,
    circuit_onnx: Path,
    base_args: dict[str, Any],
    candidates: Sequence[Candidate],
    records: list[dict[str, Any]],
) -> dict[int, int]:
    """Index -> the smallest logrows the candidate could calibrate to (rows and range table must fit).

    Uncalibrated settings (one ``gen_settings`` per layout) give the row count; calibration keeps it
    and may only add lookup tables, so the bound holds. Candidates whose settings fail are rejected.
    """
    rows: dict[tuple[int, int, int, int], int | str] = {}
    bounds: dict[int, int] = {}
    for i, cand in enumerate(candidates):
        if cand.layout not in rows:
            sized = workdir / f"size-{cand.tag}.json"
            try:
                _ezkl.gen_settings(CircuitError, circuit_onnx, sized, _ezkl.run_args(**base_args, **cand.run_args()))
                rows[cand.layout] = int(json.loads(sized.read_text()).get("num_rows", 0))
            except CircuitError as exc:
                rows[cand.layout] = exc.message
        found = rows[cand.layout]
        if isinstance(found, str):
            records[i]["rejected"] = found
            continue
        # at least one row is reserved (blinding), so n used rows (or table rows) need 2^k > n
        bounds[i] = max(_ceil_log2(found + 1), _ceil_log2(cand.decomp_base + 1))
        records[i]["bound_logrows"] = bounds[i]
    return bounds


def _ceil_log2(n: int) -> int:
    return max(n - 1, 1).bit_length()


def _no_choice(records: list[dict[str, Any]], max_logrows: int) -> CircuitError:
    rejected = [r for r in records if "rejected" in r]
    over_cap = [r for r in rejected if "above the cap" in str(r["rejected"])]
    if rejected and len(over_cap) == len(rejected):
        return LogrowsCapError(min(int(r.get("logrows", r.get("bound_logrows", 0))) for r in over_cap), max_logrows)
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
