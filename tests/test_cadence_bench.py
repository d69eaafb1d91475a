"""`make bench` part l (benchmarks/cadence.py): one plain job per block cadence, side by side, on real anvils."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import cadence

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def test_the_cadence_bench_reports_each_cadence_with_its_steps_in_order(tmp_path: Path, cache_dir: Path) -> None:
    rows = cadence.run(tmp_path, cache_dir, lambda _: None, [(None, 1), (1, 1)])

    assert [r["cadence"] for r in rows] == ["instant", "1 s blocks"]
    for row in rows:
        (job,) = row["jobs"]
        times = [job[step] for step in cadence.STEPS]
        assert all(t > 0 for t in times) and times == sorted(times), f"post < claimed < settled < verified < audited: {job}"
        assert 1 <= job["claim_blocks"] < job["settle_blocks"], job
    assert rows[1]["post_s"] > rows[0]["post_s"], "on a timer the post waits for its block"
    table = "\n".join(cadence.markdown(rows))
    assert "| instant | 1 |" in table and "| 1 s blocks | 1 |" in table
