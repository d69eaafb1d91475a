"""The tuner's answer: the chosen circuit and the evidence for it (:class:`Tuning`), or why nothing fits.

:meth:`Tuning.to_json` is what the manifest records: the chosen layout and scales, its error against
the float model and against EZKL's default, the rule that chose it, every candidate's record and the
timing stage. :func:`no_choice` turns the records of a search that kept nothing into one error that
names the limit to raise.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import limits
from ..errors import CircuitError, LogrowsCapError
from .calibration import FINALISTS
from .candidates import Candidate
from .timing import SIMILAR_COST, SPEEDUP_MARGIN


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


def no_choice(records: list[dict[str, Any]], max_logrows: int, memory_mb: int | None = None) -> CircuitError:
    """Why no candidate was kept, as the one error the build reports (the limit to raise, when one would help)."""
    rejected = [r for r in records if "rejected" in r]
    over_cap = [r for r in rejected if "above the cap" in str(r["rejected"])]
    over_memory = [r for r in rejected if "memory_mb" in r]
    if rejected and len(over_cap) == len(rejected):
        return LogrowsCapError(min(int(r.get("logrows", r.get("bound_logrows", 0))) for r in over_cap), max_logrows)
    if over_memory and memory_mb is not None:
        need = min(int(r["memory_mb"]) for r in over_memory)
        share = f"{limits.MEMORY_SHARE:.0%} of the {memory_mb:,} MB limit may be planned"
        failed = [r for r in rejected if r not in over_cap and r not in over_memory]
        why = (
            "every circuit layout of this model is estimated to need more memory than the build may use"
            if not failed
            # the layouts that fit failed for a reason of their own (multihead_attention at --max-logrows 21: EZKL's
            # calibration found no parameters for the 4-column ones); the others wait on the memory limit
            else f"the {len(failed)} circuit layout(s) of this model that fit the build's memory failed "
            f"({str(failed[0]['rejected']).rstrip('.')}); the others are estimated to need more memory than the build may use"
        )
        return CircuitError(
            f"{why} (the smallest about {need:,} MB, {share})",
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
