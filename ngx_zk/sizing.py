"""What a circuit layout needs before it is calibrated: rows, logrows, and the refusals they justify.

``gen_settings`` without calibration lays the model out once per layout in seconds; its row count
holds through calibration (which only adds lookup tables), so it bounds every candidate's logrows
and tells at once when EZKL's own layout is over the cap (:mod:`ngx_zk.tuner` uses both).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from . import _ezkl
from .errors import CircuitError, LogrowsCapError


class Candidate(Protocol):
    """What sizing reads of a tuner candidate (:class:`ngx_zk.tuner.Candidate`): its layout and run args."""

    @property
    def decomp_base(self) -> int: ...
    @property
    def tag(self) -> str: ...
    @property
    def layout(self) -> tuple[int | bool, ...]: ...
    def run_args(self) -> dict[str, int | bool]: ...


def lower_bounds(
    workdir: Path,
    circuit_onnx: Path,
    base_args: dict[str, Any],
    candidates: Sequence[Candidate],
    records: list[dict[str, Any]],
) -> dict[int, int]:
    """Index -> the smallest logrows the candidate could calibrate to (rows and range table must fit).

    Uncalibrated settings (one ``gen_settings`` per layout) give the row count; calibration keeps it
    and may only add lookup tables, so the bound holds. Each record gets ``rows`` and
    ``rows_logrows``, what the layout needs without wrapping into more columns (EZKL's own rule:
    the rows plus its reserved blinding rows, the Poseidon module's rows, the instances, the dynamic
    lookups). Candidates whose settings fail are rejected.
    """
    by_layout: dict[tuple[int | bool, ...], tuple[int, int] | str] = {}
    bounds: dict[int, int] = {}
    for i, cand in enumerate(candidates):
        if cand.layout not in by_layout:
            try:
                data = sized(workdir, circuit_onnx, base_args, cand)
                by_layout[cand.layout] = (int(data.get("num_rows", 0)), rows_logrows(data))
            except CircuitError as exc:
                by_layout[cand.layout] = exc.message
        found = by_layout[cand.layout]
        if isinstance(found, str):
            records[i]["rejected"] = found
            continue
        records[i]["rows"], records[i]["rows_logrows"] = found
        bounds[i] = max(found[1], ceil_log2(cand.decomp_base + 1))
        records[i]["bound_logrows"] = bounds[i]
    return bounds


RESERVED_ROWS_PAD = 3
"""EZKL reserves its blinding factors plus this many rows at the end of every column."""


def rows_logrows(settings: dict[str, Any]) -> int:
    """The logrows a layout's settings need before any lookup table: EZKL's hard minimum (the
    Poseidon module, the instances, the dynamic lookups) and its model rows with the reserved rows."""
    reserved = int(settings.get("num_blinding_factors") or 5) + RESERVED_ROWS_PAD
    modules = settings.get("module_sizes") or {}
    module_rows = max([int((modules.get(k) or [0])[0]) for k in ("poseidon", "polycommit") if modules.get(k)] or [0])
    instances = sum(math.prod(int(d) for d in shape) for shape in settings.get("model_instance_shapes") or [])
    dynamic = int(settings.get("total_dynamic_col_size") or 0) + int(settings.get("total_shuffle_col_size") or 0)
    return max(ceil_log2(int(settings.get("num_rows", 0)) + reserved), *(ceil_log2(n) for n in (module_rows, instances, dynamic)))


def sized(workdir: Path, circuit_onnx: Path, base_args: dict[str, Any], cand: Candidate) -> dict[str, Any]:
    """The uncalibrated settings of ``cand``'s layout (generated once per build folder)."""
    path = workdir / f"size-{cand.tag}.json"
    if not path.is_file():
        _ezkl.gen_settings(CircuitError, circuit_onnx, path, _ezkl.run_args(**base_args, **cand.run_args()))
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def over_cap_before_tuning(
    workdir: Path,
    circuit_onnx: Path,
    base_args: dict[str, Any],
    candidates: Sequence[Candidate],
    default: Candidate,
    max_logrows: int,
) -> LogrowsCapError | None:
    """Refuse at once when EZKL's own layout (``default``) needs more rows than the cap allows.

    At the cap its rows would wrap into more columns, and the tuner's narrower layouts of such a model
    (4 inner columns) calibrate, set up and prove for longer than a build may take
    (multihead_attention: 2^21 rows, past 900 s). The figure is the logrows bare EZKL's own
    calibration picks for this layout when nothing caps it. None when the default is not a candidate, fits, or cannot be sized (the search
    then reports why).
    """
    if default not in candidates:
        return None
    try:
        data = sized(workdir, circuit_onnx, base_args, default)
    except CircuitError:
        return None
    need = rows_logrows(data)
    if need <= max_logrows:
        return None
    return LogrowsCapError(
        need, max_logrows, f"EZKL's default layout of this model has {int(data.get('num_rows', 0)):,} rows; refused before tuning"
    )


def ceil_log2(n: int) -> int:
    return max(n - 1, 1).bit_length()
