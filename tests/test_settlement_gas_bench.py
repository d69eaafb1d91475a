"""``make bench`` part i (issue #24): settlement gas per job of eager single, eager batched and optimistic
batched settlement, from receipts on a real anvil with real EZKL proofs, printed side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks import market, settlement_gas


def _row(mode: str, n: int, per_job: float, **extra: float) -> dict[str, Any]:
    return {"mode": mode, "n": n, "settlement_per_job": per_job, **extra}


def test_markdown_puts_the_three_modes_side_by_side() -> None:
    rows = [
        _row("eager_single", 4, 716_665),
        _row("eager_batched", 4, 640_110),
        _row("optimistic", 4, 160_624, submit_per_job=43_774, finalize_per_job=116_850, all_in_per_job=465_189),
        _row("gasless_batched", 4, 160_624, fill_per_job=250_000, fill_order_per_job=270_000, all_in_per_job=410_624),
    ]
    text = "\n".join(settlement_gas.markdown({"rows": rows, "model": "mlp", "consumers": 4}))
    assert "| 4 | 716,665 | 640,110 | **160,624** (43,774 + 116,850) | 465,189 | 250,000 (270,000) | **410,624** |" in text
    assert "## i. Settlement gas per job" in text


@pytest.mark.chain
@pytest.mark.slow
def test_batched_settlement_is_cheaper_per_job_on_a_devnet(tmp_path: Path) -> None:
    with market.local_market(tmp_path / "net", tmp_path / "cache", lambda _: None) as net:
        result = settlement_gas.run(net, tmp_path / "runs", lambda _: None, sizes=(1, 4))
    per_job = {(r["mode"], r["n"]): r["settlement_per_job"] for r in result["rows"]}
    assert set(per_job) == {(m, n) for m in settlement_gas.MODES for n in (1, 4)}
    assert per_job["eager_batched", 4] < per_job["eager_single", 4]
    assert per_job["optimistic", 4] < per_job["optimistic", 1] < per_job["eager_single", 1]
    optimistic = next(r for r in result["rows"] if r["mode"] == "optimistic" and r["n"] == 4)
    assert optimistic["all_in_per_job"] > optimistic["settlement_per_job"] + optimistic["post_per_job"]
    gasless = next(r for r in result["rows"] if r["mode"] == "gasless_batched" and r["n"] == 4)
    assert gasless["fill_per_job"] < gasless["fill_order_per_job"], "one fillOrders costs less per job than a fillOrder each"
    assert gasless["all_in_per_job"] < optimistic["all_in_per_job"], "no post, no claim, no deliverInput of its own"
