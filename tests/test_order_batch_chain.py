"""Sixteen gasless orders filled in one ``fillOrders`` transaction by a real worker (its own process, ``--fill-batch``), on
anvil with the compiled contracts and EZKL proofs: sixteen consumers with NGX and no ETH each order an optimistic mlp
job; the worker holds their offers while the guardian's pause lasts, then fills all of them, plus a seventeenth order
whose consumer cancels its nonce in the same block, just before the fill (a higher tip).

One order per consumer, signed by hand here, each with a permit of its own price (one consumer's concurrent orders
through the consumer's order book are tests/test_gasless_consumer.py's). The batch lands, the cancelled
order is skipped and refused with the market's reason, and its consumer loses nothing; the sixteen jobs are settled
in one ``submitResults`` (``--settle-batch 16``), finalized after the (60 s) window, and every consumer's wait ends
with its proof checked.
"""

from __future__ import annotations

import functools
import json
import secrets
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

import ngx_zk as ngx
from ngx_zk.chain.orders import Order, SignedOrder
from ngx_zk.chain.settlement_types import BatchFinalized, JobSubmitted
from ngx_zk.chain.signer import Signer, from_key
from ngx_zk.chain.types import JobStatus, JobTerms, OrderFilled, OrderSkipped
from ngx_zk.config import Secret
from ngx_zk.consumer import Consumer, JobRecord, JobResult, offer, post_job

from .chain_fixtures import NGX, Net, free_port, market_on, start_worker
from .optimistic_fixtures import WINDOW, settings_for, short
from .paths import MODELS
from .polling import waiting

pytestmark = [pytest.mark.chain]
__all__ = ["short"]  # fixtures

CONSUMERS = 16
AT_ONCE = 4
"""Consumers offering at the same time (the endpoint reads 8 offer bodies at once and answers 503 beyond)."""
PRICE = 10 * NGX
GWEI = 10**9


def fresh() -> tuple[Signer, str]:
    key = "0x" + secrets.token_hex(32)
    return from_key(Secret(key)), key


def logged(state: Path, event: str) -> list[dict[str, Any]]:
    path = state / "worker.log"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [e for e in (json.loads(line) for line in lines if line.startswith("{")) if e["event"] == event]


def pay(price: int) -> int:
    """The provider's share: the 2.5 % fee and the model owner's 1 % royalty off."""
    return price - price * 250 // 10_000 - price * 100 // 10_000


def test_one_transaction_fills_sixteen_gasless_orders_and_skips_one_cancelled_meanwhile(short: Net, tmp_path: Path) -> None:
    net, m = short, short.market
    w3 = m.chain.w3
    provider, guardian = net.signer("provider"), net.signer("guardian")
    consumers = [fresh()[0] for _ in range(CONSUMERS)]
    canceller, canceller_key = fresh()
    for who in [*consumers, canceller]:
        m.transfer(net.signer("consumer"), who.address, PRICE)
    net.rpc("anvil_setBalance", [canceller.address, hex(10**18)])  # the canceller pays for its cancelOrder
    earned = m.claimable(provider.address)
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)

    port = free_port()
    m.update_provider(provider, m.provider(provider.address).encryption_pub_key, f"http://127.0.0.1:{port}")
    state = tmp_path / "worker"
    worker = start_worker(
        net, state, "--listen", f"127.0.0.1:{port}", "--fill-batch", "17", "--settle-batch", "16", "--settle-wait", "120",
        "--max-fresh-jobs", "17", "--concurrency", "2",
    )  # fmt: skip
    records: dict[str, JobRecord | BaseException] = {}
    results: dict[str, JobResult | BaseException] = {}

    def place(signer: Signer, name: str) -> None:
        """A consumer's order: sign it and its permit, offer them with the input, wait for the fill (no transaction)."""
        try:
            records[name] = post_job(
                settings_for(net, tmp_path / name), market_on(net), signer, net.circuit, data, price=PRICE,
                claim_window=600, prove_window=1200, min_reputation=0, gasless=True, offer_to=provider.address,
                optimistic=True,
            )  # fmt: skip
        except BaseException as exc:  # reported by the assertion below
            records[name] = exc

    def follow(signer: Signer, name: str) -> None:
        """The rest of its flow: follow the job to the end and check the proof its provider serves."""
        record = records[name]
        try:
            assert isinstance(record, JobRecord), record
            settings, market = settings_for(net, tmp_path / name), market_on(net)
            results[name] = Consumer(settings, market, signer).wait(net.circuit, record, timeout_s=240)
        except BaseException as exc:  # reported by the assertion below
            results[name] = exc

    threads: list[threading.Thread] = []
    try:
        waiting("the worker's start", lambda: bool(logged(state, "worker.start")), timeout=90)
        # the worker holds what it is offered while the market is paused (orders are timed from this block on)
        m.chain.send(m.market.functions.pause(), guardian, what="pause the market")
        for i, signer in enumerate(consumers):
            threads.append(threading.Thread(target=place, args=(signer, f"c{i}"), daemon=True))
            threads[-1].start()
            if i % AT_ONCE == AT_ONCE - 1:
                arrived = functools.partial(lambda n: len(logged(state, "dataplane.offer")) > n, i)
                waiting(f"offers {i - AT_ONCE + 1}-{i}", arrived, timeout=60)

        commitment, salted = ngx.commit(net.circuit.manifest, data, new_salt=True)
        now = m.chain.timestamp()
        terms = JobTerms(net.model_id, PRICE, PRICE, 600, 1200, 0, settlement=1)
        order = Order(canceller.address, terms, tuple(commitment.values), provider.address, 7, now, now + 600)
        signed = SignedOrder.sign(
            canceller, order, m.sign_permit(canceller, PRICE, now + 600), m.chain.chain_id, m.market.address
        )
        assert offer(m, canceller, net.model_id, commitment.values, salted, provider.address, order=signed.to_wire())
        waiting("all 17 orders held", lambda: any(e["orders"] == 17 for e in logged(state, "orders.waiting")), timeout=60)

        sent = w3.eth.get_transaction_count(provider.address)
        net.rpc("evm_setAutomine", [False])
        try:
            net.rpc("anvil_impersonateAccount", [guardian.address])
            w3.eth.send_transaction(m.market.functions.unpause().build_transaction({"from": guardian.address, "gas": 100_000}))
            net.rpc("anvil_stopImpersonatingAccount", [guardian.address])
            net.rpc("evm_mine")  # unpaused: the worker judges the orders (nonce 7 unused) and sends its batch
            cancel = m.market.functions.cancelOrder(7).build_transaction(
                {  # type: ignore[arg-type]
                    "from": canceller.address,
                    "nonce": 0,
                    "gas": 100_000,
                    "maxPriorityFeePerGas": 100 * GWEI,
                    "maxFeePerGas": 1_000 * GWEI,
                }
            )
            cancel_hash = w3.eth.send_raw_transaction(Account.sign_transaction(cancel, canceller_key).raw_transaction)
            waiting("the batch sent", lambda: w3.eth.get_transaction_count(provider.address, "pending") > sent, timeout=60)
            net.rpc("evm_mine")  # the cancel (higher tip) first, then the fill, in one block
        finally:
            net.rpc("evm_setAutomine", [True])

        for thread in threads:
            thread.join(timeout=60)  # each consumer saw its order filled
        # the consumers follow their jobs once the results are committed: a provider holding an offered input is sent it
        # again 5 s after its claim if the job is still open, and sixteen consumers behind one address are more than the
        # endpoint answers at once (a gasless consumer has no gas for the on-chain fallback)
        waiting("16 results committed", lambda: len(m.logs(JobSubmitted, m.deployment.block)) == 16, timeout=240)
        follows = [threading.Thread(target=follow, args=(c, f"c{i}"), daemon=True) for i, c in enumerate(consumers)]
        for thread in follows:
            thread.start()
        net.travel(WINDOW + 1)
        for thread in follows:
            thread.join(timeout=180)
    finally:
        worker.terminate()  # a warm stop: it may wait for challenge windows; a failed run must not leave it behind
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    filled = m.logs(OrderFilled, m.deployment.block)
    assert len(filled) == 16 and len({e.meta.tx_hash for e in filled}) == 1, "one receipt holds the 16 OrderFilled"
    fill_hash = filled[0].meta.tx_hash
    fill = w3.eth.get_transaction(fill_hash)  # type: ignore[arg-type]
    fn, args = m.market.decode_function_input(fill["input"])
    assert fn.fn_name == "fillOrders" and len(args["orders"]) == 17
    assert fill["from"] == provider.address and w3.eth.get_transaction_count(provider.address) == sent + 3, (
        "the fill, one submitResults and one finalizeBatch"
    )
    cancelled = w3.eth.get_transaction_receipt(cancel_hash)
    assert cancelled["blockNumber"] == fill["blockNumber"] and cancelled["transactionIndex"] < fill["transactionIndex"]
    skipped = m.logs(OrderSkipped, m.deployment.block)
    assert [(e.event.consumer, e.event.nonce, e.event.reason, e.meta.tx_hash) for e in skipped] == [
        (canceller.address, 7, 5, fill_hash)
    ]
    refused = [e["reason"] for e in logged(state, "order.refused")]
    assert refused == ["the market skipped the order: its nonce was filled or cancelled already (NonceUsed)"]
    assert m.balance(canceller.address) == PRICE, "the cancelled order's consumer lost nothing"

    assert all(isinstance(r, JobRecord) for r in records.values()), records
    failed = {name: r for name, r in results.items() if not isinstance(r, JobResult)}
    assert len(results) == 16 and not failed, failed
    done = [r for r in results.values() if isinstance(r, JobResult)]
    assert all(r.status is JobStatus.SETTLED and r.finalized and r.proof_valid and r.outputs for r in done)
    jobs = {e.event.job_id for e in filled}
    assert {r.job_id for r in done} == jobs and all(m.job(j).status is JobStatus.SETTLED for j in jobs)
    submitted = m.logs(JobSubmitted, m.deployment.block)
    assert {e.event.job_id for e in submitted} == jobs and len({e.meta.tx_hash for e in submitted}) == 1, (
        "one submitResults for the 16"
    )
    assert sum(e.event.settled for e in m.logs(BatchFinalized, m.deployment.block)) == 16
    assert m.claimable(provider.address) - earned == 16 * pay(PRICE)
    for signer in consumers:
        assert m.balance(signer.address) == 0 and w3.eth.get_transaction_count(signer.address) == 0, "no gas, no tx"  # type: ignore[arg-type]
