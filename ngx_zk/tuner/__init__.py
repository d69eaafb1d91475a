"""The circuit tuner: search the EZKL settings that calibration leaves alone, then time the finalists.

Read in this order, as one model's layouts flow through :func:`tune`:

* :mod:`.candidates`: the layouts tried (:class:`Candidate`: decomposition, inner columns, rescale
  multiplier, scale, EZKL 23's switches), which switches are sound for which visibility
  (:func:`knob_rule`, with the argument for each), and the switch variants that change this model's circuit.
* :mod:`ngx_zk.sizing` (outside the package, shared with the build): each layout's rows before
  calibration, hence a lower bound on its logrows, and a model refused at once when EZKL's default
  layout is over the logrows cap.
* :mod:`.calibration`: the calibration runs, cheapest lower bound first, each kept only if its
  outputs stay within the tolerance; the most accurate of each cost class, and EZKL's default as the
  reference.
* :mod:`.timing`: the finalists and the default prove the calibration sample; the fastest that beats
  the default by a margin wins (among similar times, the most accurate).
* :mod:`.report`: the answer (:class:`Tuning`, what the manifest records) or the one error saying why
  no layout fits.

Without a ``timer`` the cheapest class by the modelled cost wins. Everything tried (or skipped, and
why) and every measurement is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import sizing
from .calibration import CALIBRATION_BUDGET_S, FINALISTS, Measure, Search
from .candidates import (
    CANDIDATES,
    DECOMPOSITIONS,
    EZKL_DEFAULT,
    EZKL_SCALES,
    INNER_COLS,
    KNOBS,
    MIN_SALT_RANGE,
    REBASE_MULTIPLIERS,
    SCALES,
    Candidate,
    Class,
    Cost,
    check_candidates,
    knob_rule,
    with_knob_variants,
)
from .report import Tuning, copy_choice, no_choice
from .timing import DOMINATED, SIMILAR_COST, SPEEDUP_MARGIN, TIMING_BUDGET_S, TIMING_ROUNDS, Timer, timed_choice


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
    calibration_budget_s: float = CALIBRATION_BUDGET_S,
    memory_mb: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
    clock: Callable[[], float] = time.perf_counter,
) -> Tuning:
    """Return the chosen candidate (see the module docstring). Raises if none fits.

    ``knobs`` adds the sound switch variants that change this model's circuit; ``timer`` turns on
    the timing stage (without it the modelled cost decides), within ``budget_s`` wall seconds read from
    ``clock`` (:data:`TIMING_BUDGET_S`'s rule); the calibration search stops starting candidates after
    ``calibration_budget_s`` on the same clock once one is accurate (:data:`CALIBRATION_BUDGET_S`). With ``memory_mb`` (the build's memory
    limit), a layout whose setup and proof are estimated to need more than the build may use
    (:func:`ngx_zk.limits.estimate_mb`) is rejected before it is calibrated, and again at its
    calibrated logrows, so neither the timing stage nor the final setup runs out of memory."""
    vis_in, vis_out = str(base_args.get("input_visibility", "hashed")), str(base_args.get("output_visibility", "public"))
    check_candidates(candidates, vis_in, vis_out)
    if (
        over := sizing.over_cap_before_tuning(workdir, circuit_onnx, base_args, candidates, EZKL_DEFAULT, max_logrows)
    ) is not None:
        raise over
    notes: dict[str, str] = {}
    if knobs:
        candidates = with_knob_variants(workdir, circuit_onnx, base_args, list(candidates), vis_in, vis_out, notes)
    records = [cand.to_json() for cand in candidates]
    progress(f"calibrating: sizing {len(candidates)} candidate settings")
    bounds = sizing.lower_bounds(workdir, circuit_onnx, base_args, candidates, records)
    search = Search(
        workdir,
        circuit_onnx,
        calibration,
        base_args,
        candidates,
        records,
        max_logrows,
        tolerance,
        measure,
        memory_mb,
        progress,
        calibration_budget_s,
        clock,
    )
    search.run(bounds)
    default = search.default_reference()
    finalists = search.finalists()
    if not finalists and default is None:
        raise no_choice(records, max_logrows, memory_mb)
    if timer is None:
        chosen = finalists[0] if finalists else default
        stage = None
    else:
        chosen, stage = timed_choice(finalists, default, candidates, records, timer, budget_s, progress, clock)
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
        stage,
    )


__all__ = [
    "CALIBRATION_BUDGET_S",
    "CANDIDATES",
    "DECOMPOSITIONS",
    "DOMINATED",
    "EZKL_DEFAULT",
    "EZKL_SCALES",
    "FINALISTS",
    "INNER_COLS",
    "KNOBS",
    "MIN_SALT_RANGE",
    "REBASE_MULTIPLIERS",
    "SCALES",
    "SIMILAR_COST",
    "SPEEDUP_MARGIN",
    "TIMING_BUDGET_S",
    "TIMING_ROUNDS",
    "Candidate",
    "Class",
    "Cost",
    "Measure",
    "Timer",
    "Tuning",
    "copy_choice",
    "knob_rule",
    "tune",
]
