"""Timing and choice: the finalists and EZKL's default prove the calibration sample; measurement decides.

**Choice rule.** The modelled cost ranks, measurement decides: logrows alone is a poor guide
(4 inner columns at logrows 14 proved no faster than EZKL's 2 at logrows 15). With a ``timer``
each finalist and EZKL's default are set up and prove the calibration sample
:data:`TIMING_ROUNDS` times, interleaved, within :data:`TIMING_BUDGET_S`; the fastest proof of
each counts. A finalist that the model says is more than twice as slow as the cheapest one is
not timed (:func:`slowdown_bound`). A finalist is eligible only if it proves at least
:data:`SPEEDUP_MARGIN` faster than EZKL's default; when none is, the default is kept. Among the
eligible ones, those within :data:`SIMILAR_COST` of the fastest count as the same cost and the
most accurate of them wins. Without a timer the cheapest class by the model wins
(:func:`ngx_zk.tuner.tune`). Every measurement is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import NgxZkError
from .calibration import Built
from .candidates import Candidate, Cost

Timer = Callable[[Path, Path], float]
"""(settings, compiled circuit) -> seconds one witness + proof of the calibration sample costs.

ngx-zk's timer counts CPU seconds (all threads), which other load on a shared machine disturbs far
less than wall time. The first call for a circuit may run its setup; only the proof counts."""

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


def slowdown_bound(cost: Cost, cheapest: Cost) -> float:
    """A modelled lower bound on prove_time(cost) / prove_time(cheapest): 2^(0.75 dlogrows) x min(1, column ratio).

    Prove time is about 2^logrows x (a + b x num_inner_cols) plus fixed overheads that make small
    circuits slower than their size says (2^5 more rows proved 22x slower here), hence the 0.75."""
    return float(2.0 ** (0.75 * (cost[0] - cheapest[0])) * min(1.0, cost[1] / cheapest[1]))


def timed_choice(
    finalists: list[Built],
    default: Built | None,
    candidates: Sequence[Candidate],
    records: list[dict[str, Any]],
    timer: Timer,
    budget_s: float,
    progress: Callable[[str], None],
) -> tuple[Built, dict[str, Any]]:
    """Time the finalists and the default; choose by the rule in the module docstring."""
    pool = list(finalists)
    if default is not None and all(b.index != default.index for b in pool):
        pool.insert(0, default)
    cheapest = min((b.cost(candidates) for b in pool), default=(0, 1))
    timed: list[Built] = []
    for b in pool:
        bound = slowdown_bound(b.cost(candidates), cheapest)
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
