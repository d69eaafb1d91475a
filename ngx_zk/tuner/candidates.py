"""The layouts the tuner tries: the EZKL settings that calibration leaves alone, and which switches are sound.

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
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import _ezkl, defaults
from ..errors import CircuitError

Cost = tuple[int, int]
"""(logrows, num_inner_cols): the modelled cost; smaller is cheaper (see :mod:`.calibration`)."""

Class = tuple[int, int, tuple[str, ...]]
"""A cost class: the modelled cost and the switches on (they change columns the cost does not count)."""

EZKL_SCALES = "11-13"
"""What EZKL's calibration tries when no scale is given (input <= param scale, each in 11..13)."""

MIN_SALT_RANGE = 1 << (defaults.SALT_ELEMENT_BITS + 2)

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
at least 2^(SALT_ELEMENT_BITS + 2), so salt slots stay valid. :func:`ngx_zk.tuner.tune` adds the switch
variants (:data:`KNOBS`) that are sound and change the model's circuit (:func:`with_knob_variants`)."""

assert CANDIDATES[0] == EZKL_DEFAULT
assert all(c.range_size >= MIN_SALT_RANGE for c in CANDIDATES)


def cost_class(logrows: int, cand: Candidate) -> Class:
    return (logrows, cand.num_inner_cols, cand.knobs)


def finer(a: Candidate, b: Candidate) -> bool:
    """Is ``a``'s scale at least as fine as ``b``'s (None, EZKL's own 11..13, is the finest)?"""
    return a.scale is None or (b.scale is not None and a.scale >= b.scale)


def check_candidates(candidates: Sequence[Candidate], vis_in: str, vis_out: str) -> None:
    """Refuse (ValueError, a caller's bug) a candidate that could reject a salt or turns on an unsound switch."""
    for cand in candidates:
        if cand.range_size < MIN_SALT_RANGE:
            raise ValueError(f"{cand.label}: range {cand.range_size} below 2^{defaults.SALT_ELEMENT_BITS + 2}")
        for knob in cand.knobs:
            if (why := knob_rule(knob, vis_in, vis_out)) is not None:
                raise ValueError(f"{cand.label}: {knob} is unsound for {vis_in} inputs / {vis_out} outputs: {why}")


def with_knob_variants(
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
