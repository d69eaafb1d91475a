"""``make bench`` part h (issue #25): which claim-race runs the curve makes. The full bench reports 10, 100 and
1,000 providers; at 1,000 only with the claim spread on (off, every provider sends a claim per job), and the
report says why the other is missing. The runs themselves are tests/test_claim_spread_chain.py's."""

from __future__ import annotations

from benchmarks import providers
from benchmarks.providers import FULL, QUICK, RACE_MAX_PROVIDERS, Run, markdown, plan


def test_the_full_curve_reaches_a_thousand_providers_with_the_spread_on() -> None:
    runs = plan(**FULL)
    ran = {(r.providers, r.spread) for r in runs if not r.skipped}
    assert {(10, False), (10, True), (100, False), (100, True), (1000, True)} <= ran
    (skipped,) = [r for r in runs if r.skipped]
    assert (skipped.providers, skipped.spread) == (1000, False)
    assert f"above {RACE_MAX_PROVIDERS} providers" in skipped.skipped and "--providers 1000 --spread off" in skipped.skipped
    assert [r.jobs for r in runs if r.providers == 1] == [FULL["lone_jobs"]] * 2


def test_quick_stays_small_and_an_explicit_spread_off_runs() -> None:
    assert max(r.providers for r in plan(**QUICK)) <= RACE_MAX_PROVIDERS
    assert all(not r.skipped for r in plan(**QUICK))
    assert plan([1000], jobs=3, lone_jobs=1, spreads=(False,)) == [Run(1000, 3, False)], "asked for alone, it runs"


def test_a_skipped_run_is_a_row_of_the_table_saying_why() -> None:
    logged: list[str] = []  # the spread off asked for twice: both runs skipped, nothing simulated (no market needed)
    rows = providers.curve(None, None, providers=[1000], jobs=20, lone_jobs=10, spreads=(False,) * 2, log=logged.append)  # type: ignore[arg-type]
    assert (
        rows == [{"providers": 1000, "jobs": 20, "spread": False, "skipped": plan([1000], jobs=20, lone_jobs=10)[0].skipped}] * 2
    )
    assert len(logged) == 2 and "spread off skipped" in logged[0]
    table = [line for line in markdown(rows) if line.startswith("| 1000 ")]
    header = next(line for line in markdown(rows) if line.startswith("| providers "))
    assert len(table) == 2 and table[0].count("|") == header.count("|") and "spread off skipped" in table[0]
