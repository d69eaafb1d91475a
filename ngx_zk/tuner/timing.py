"""Timing and choice: the finalists and EZKL's default prove the calibration sample; measurement decides.

**Choice rule.** The modelled cost ranks, measurement decides: logrows alone is a poor guide
(4 inner columns at logrows 14 proved no faster than EZKL's 2 at logrows 15). With a ``timer``
each finalist and EZKL's default are set up and prove the calibration sample
:data:`TIMING_ROUNDS` times, interleaved, within :data:`TIMING_BUDGET_S`; the fastest proof of
each counts. A finalist that the model says is more than twice as slow as the cheapest one is
not timed (:func:`slowdown_bound`), and no call starts that its estimate puts past the budget
(:data:`TIMING_BUDGET_S`): the best measured so far is chosen from what was timed. A finalist is
eligible only if it proves at least :data:`SPEEDUP_MARGIN` faster than EZKL's default; when none is,
the default is kept. Without a measured default (modelled far slower, or it failed to prove) every
timed finalist is eligible, and when none was timed either the cheapest modelled one that did not fail
wins. Among the eligible ones, those within :data:`SIMILAR_COST` of the fastest count as the same cost
and the most accurate of them wins. Without a timer the cheapest class by the model wins
(:func:`ngx_zk.tuner.tune`). Every measurement is recorded, and every call not started says why.
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
"""Wall-clock budget of the timing stage (setups included). **Budget rule.** The first call (the
default's setup and proof, or the cheapest finalist's when the default is not timed) always runs:
nothing has been measured yet. Every later call starts only if its estimate (:func:`call_estimate`,
from the wall times measured so far) fits in what is left, so the stage overruns its budget only by
what a call takes beyond its estimate."""

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


def modelled_ratio(cost: Cost, ref: Cost) -> float:
    """An estimate (not a bound) of seconds(cost) / seconds(ref) for a setup and proof, generous both ways:
    it sizes calls against the budget, where too high is safe.

    Up (more logrows than ``ref``): 2^dlogrows, though fixed overheads make the larger circuit cheaper than
    its size says. Down: 2^(0.75 dlogrows), those overheads (:func:`slowdown_bound`). Columns: the
    (1 + cols) ratio, though a column costs less than a row of every column."""
    rows = cost[0] - ref[0]
    return float(2.0 ** (rows if rows > 0 else 0.75 * rows) * (1 + cost[1]) / (1 + ref[1]))


def call_estimate(index: int, costs: dict[int, Cost], walls: dict[int, list[float]]) -> float | None:
    """Wall seconds the next timer call for finalist ``index`` is expected to take, from the calls measured
    so far (``walls``: wall seconds of each call per finalist, the first one with its setup); None when
    nothing is measured yet.

    A repeat costs what its own last repeat did, else its first call times the largest repeat/first ratio
    measured (1 until one is: a repeat has no setup, so this is high). A first call costs the largest
    measured first call scaled by :func:`modelled_ratio`."""
    own = walls.get(index) or []
    if len(own) > 1:
        return own[-1]
    if own:
        ratios = [w[-1] / w[0] for w in walls.values() if len(w) > 1 and w[0] > 0]
        return own[0] * min(1.0, max(ratios, default=1.0))
    firsts = [(costs[i], w[0]) for i, w in walls.items() if w]
    if not firsts:
        return None
    return max(seconds * modelled_ratio(costs[index], ref) for ref, seconds in firsts)


def timed_choice(
    finalists: list[Built],
    default: Built | None,
    candidates: Sequence[Candidate],
    records: list[dict[str, Any]],
    timer: Timer,
    budget_s: float,
    progress: Callable[[str], None],
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[Built, dict[str, Any]]:
    """Time the finalists and the default within ``budget_s`` (:data:`TIMING_BUDGET_S`'s rule, wall
    seconds read from ``clock``); choose by the rule in the module docstring."""
    # the default first: the first call always runs (TIMING_BUDGET_S), so the reference is measured
    pool = ([default] if default is not None else []) + [b for b in finalists if default is None or b.index != default.index]
    cheapest = min((b.cost(candidates) for b in pool), default=(0, 1))
    timed: list[Built] = []
    for b in pool:
        bound = slowdown_bound(b.cost(candidates), cheapest)
        if bound >= 1 / DOMINATED:
            records[b.index]["not_timed"] = f"modelled at least {bound:.1f}x slower than logrows {cheapest[0]}"
        else:
            timed.append(b)
    runs: dict[int, list[float]] = {b.index: [] for b in timed}
    walls: dict[int, list[float]] = {b.index: [] for b in timed}
    costs = {b.index: b.cost(candidates) for b in pool}
    failed: set[int] = set()
    started = clock()
    for rnd in range(TIMING_ROUNDS):
        if rnd:  # later rounds only for those whose ranking is still in doubt (and the default)
            lead = min((min(r) for r in runs.values() if r), default=0.0)
            timed = [b for b in timed if b is default or (runs[b.index] and min(runs[b.index]) <= lead * (1 + 2 * SIMILAR_COST))]
        for b in timed if rnd % 2 == 0 else reversed(timed):
            if b.index in failed:
                continue
            left = budget_s - (clock() - started)
            estimate = call_estimate(b.index, costs, walls)
            if estimate is not None and estimate > left:
                records[b.index].setdefault(
                    "timing_note",
                    f"not started after {len(runs[b.index])} proofs: estimated {estimate:.1f}s from the timings measured, "
                    f"{max(left, 0.0):.1f}s of the {budget_s:.0f}s budget left",
                )
                continue
            progress(f"timing a proof of {candidates[b.index].label} (logrows {b.logrows}, round {rnd + 1})")
            called = clock()
            try:
                runs[b.index].append(timer(b.settings, b.compiled))
            except NgxZkError as exc:  # not a candidate any more: it could not prove the calibration sample
                records[b.index]["timing_note"] = f"proving failed: {exc.message}"
                failed.add(b.index)
            finally:
                walls[b.index].append(clock() - called)
    best: dict[int, float] = {i: min(r) for i, r in runs.items() if r and i not in failed}
    for i, r in runs.items():
        if r:
            records[i]["prove_s"] = [round(s, 4) for s in r]
        if walls[i]:
            records[i]["timing_wall_s"] = [round(s, 2) for s in walls[i]]
    base = best.get(default.index) if default is not None else None
    rivals = [b for b in finalists if b.index in best and (default is None or b.index != default.index)]
    # without a measured default (modelled far slower, or it failed to prove), every timed rival qualifies
    eligible = rivals if base is None else [b for b in rivals if best[b.index] <= base * (1 - SPEEDUP_MARGIN)]
    chosen: Built
    if eligible:
        fastest = min(best[b.index] for b in eligible)
        similar = [b for b in eligible if best[b.index] <= fastest * (1 + SIMILAR_COST)]
        chosen = min(similar, key=lambda b: (b.error, best[b.index]))
        why = "fastest" if best[chosen.index] == fastest else f"most accurate within {SIMILAR_COST:.0%} of the fastest"
        why += "" if base is None else f", {base / best[chosen.index]:.2f}x faster than EZKL's default"
    elif default is not None and base is not None and rivals:
        chosen, why = default, f"no finalist proved {SPEEDUP_MARGIN:.0%} faster than EZKL's default"
    elif default is not None and base is not None:
        chosen, why = default, "no finalist was timed within the budget (see each one's timing_note); EZKL's default is kept"
    else:  # nothing measured: the cheapest modelled layout that did not fail to prove (finalists are cheapest first)
        modelled = [*finalists, *([default] if default is not None else [])]  # never empty: tune() raises first
        chosen = ([b for b in modelled if b.index not in failed] or modelled)[0]
        why = "no timing succeeded; the cheapest modelled class"
    timing = {
        "rounds": TIMING_ROUNDS,
        "budget_s": budget_s,
        "spent_s": round(clock() - started, 2),
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
