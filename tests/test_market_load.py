"""The market under load, small: two providers (separate worker processes and keys), two consumers
posting at once, every outcome (settled, declined, cancelled, expired); every job ends once, nobody
is paid twice, NGX is conserved. `make bench` runs the bigger version (benchmarks/load.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.load import OUTCOMES, Market, run_load

from .chain_fixtures import Net

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def test_market_under_load_every_job_ends_once_nobody_paid_twice_ngx_conserved(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    m = Market(net.home, net.url, net.settings, net.market, net.circuit, net.model_id)

    result = run_load(
        m, tmp_path, providers=2, consumers=2, jobs_per_consumer=4, mix=dict.fromkeys(OUTCOMES, 1), timeout_s=300, log=print
    )
    print(result)

    assert result["outcomes"] == dict.fromkeys(OUTCOMES, 2)
    assert result["violations"] == []
    assert result["failures"] == []
    assert result["settled_per_min"] > 0 and result["latency_s"]["p50"] > 0
    lag = result["indexer_lag"]  # the explorer's indexer followed the whole run and caught up with the head
    assert lag["events"] >= 4 * 8 and lag["syncs"] > 1 and lag["catch_up_s"] < 60
