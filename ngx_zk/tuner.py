"""The circuit tuner: search the EZKL settings that calibration leaves alone.

EZKL's ``calibrate_settings`` picks scales and lookup ranges but keeps the range-check
decomposition (``decomp_base`` ** ``decomp_legs``) at its default of 16384**2, whose 2^14-row
table alone forces logrows >= 15. A smaller base often fits the model in far fewer rows. For each
candidate the tuner calibrates against the model's calibration data, keeps the ones that fit
under the logrows cap, and then accepts the smallest whose witness succeeds on every calibration
sample with outputs within the accuracy tolerance of the float model.
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


@dataclass(frozen=True)
class Candidate:
    decomp_base: int
    decomp_legs: int

    @property
    def label(self) -> str:
        return f"decomp {self.decomp_base}x{self.decomp_legs}"


EZKL_DEFAULT = Candidate(16384, 2)
CANDIDATES: tuple[Candidate, ...] = (EZKL_DEFAULT, Candidate(1024, 3), Candidate(256, 4))
"""Every candidate keeps a range of at least 2^(SALT_ELEMENT_BITS + 2), so salt slots stay valid."""


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
        return {
            "decomp_base": self.candidate.decomp_base,
            "decomp_legs": self.candidate.decomp_legs,
            "max_abs_error": self.max_abs_error,
            "tolerance": self.tolerance,
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
    """Calibrate each candidate; return the smallest accurate one. Raises if none fits."""
    scored: list[tuple[int, int, Candidate, Path]] = []
    tried: list[dict[str, Any]] = []
    for i, cand in enumerate(candidates):
        progress(f"calibrating {cand.label} ({i + 1}/{len(candidates)})")
        settings = workdir / f"settings-{cand.decomp_base}x{cand.decomp_legs}.json"
        record: dict[str, Any] = {"decomp_base": cand.decomp_base, "decomp_legs": cand.decomp_legs}
        tried.append(record)
        try:
            _ezkl.gen_settings(CircuitError, circuit_onnx, settings, _ezkl.run_args(**base_args, **_decomp(cand)))
            _ezkl.calibrate(
                CircuitError,
                calibration,
                circuit_onnx,
                settings,
                margin=defaults.LOOKUP_SAFETY_MARGIN,
                max_logrows=max_logrows,
            )
        except CircuitError as exc:
            record["rejected"] = exc.message
            continue
        data = json.loads(settings.read_text())
        logrows = int(data["run_args"]["logrows"])
        record.update(logrows=logrows, rows=int(data.get("num_rows", 0)))
        if logrows > max_logrows:
            record["rejected"] = f"logrows {logrows} above the cap {max_logrows}"
            continue
        scored.append((logrows, int(data.get("num_rows", 0)), cand, settings))
    if not scored:
        reasons = "; ".join(f"{r['decomp_base']}x{r['decomp_legs']}: {r.get('rejected')}" for r in tried)
        if all("above the cap" in str(r.get("rejected", "")) for r in tried):
            raise LogrowsCapError(min(int(r["logrows"]) for r in tried), max_logrows)
        raise CircuitError(
            f"no circuit settings fit this model ({reasons})", "check the calibration data and the model's operators"
        )

    for logrows, _rows, cand, settings in sorted(scored, key=lambda s: (s[0], s[1])):
        progress(f"checking accuracy of {cand.label} (logrows {logrows})")
        compiled = settings.with_suffix(".compiled")
        record = next(r for r in tried if r["decomp_base"] == cand.decomp_base and r["decomp_legs"] == cand.decomp_legs)
        try:
            _ezkl.compile_circuit(CircuitError, circuit_onnx, compiled, settings)
            error = measure(settings, compiled)
        except CircuitError as exc:
            record["rejected"] = exc.message
            continue
        record["max_abs_error"] = error
        if error <= tolerance:
            return Tuning(cand, settings, compiled, logrows, error, tolerance, tried)
        record["rejected"] = f"max output error {error:.4g} above tolerance {tolerance:.4g}"
    raise CircuitError(
        "no candidate circuit met the accuracy tolerance on the calibration data",
        f"tried {len(tried)} settings; pass a looser --tolerance or check the model",
    )


def _decomp(cand: Candidate) -> dict[str, int]:
    return {"decomp_base": cand.decomp_base, "decomp_legs": cand.decomp_legs}


def copy_choice(tuning: Tuning, settings_out: Path, compiled_out: Path) -> None:
    shutil.copyfile(tuning.settings, settings_out)
    shutil.copyfile(tuning.compiled, compiled_out)
