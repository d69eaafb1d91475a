"""Chain faults on a real anvil: stuck transactions, reorgs, and RPC failures with failover.

Only the transport faults come from a fake (:class:`FlakyRpcProxyFake`, a proxy in front of anvil);
the node errors ("nonce too low", "transaction already imported", "replacement transaction
underpriced", a risen base fee) and the reorgs are anvil's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk.chain import devnet
from ngx_zk.chain.heads import CONNECT_TIMEOUT_S, NewHeads, ws_url_for
from ngx_zk.chain.market import JobStatus, Marketplace
from ngx_zk.chain.tx import Chain
from ngx_zk.chain.types import JobClaimed, JobPosted, JobSettled
from ngx_zk.consumer import JobRecord, deliver_input, post_job
from ngx_zk.errors import NgxZkError, RpcError, TransactionError, WrongChainError
from ngx_zk.worker.journal import Step
from ngx_zk.worker.standing import GONE
from ngx_zk.worker.worker import Worker, WorkerOptions

from .chain_fixtures import NGX, Net, free_port, market_on, ngx_zk
from .conftest import MODELS
from .polling import background, until
from .rpc_fakes import FlakyRpcProxyFake

pytestmark = pytest.mark.chain

RECIPIENT = devnet.dev_address("auditor")


def transfers_to(net: Net, address: str, from_block: int) -> int:
    """NGX transfers to ``address`` from ``from_block`` on (the token's own ERC-20 event: no record of ngx-zk's reads it)."""
    return len(net.market.token.events.Transfer().get_logs(from_block=from_block, argument_filters={"to": address}))


@pytest.fixture
def manual_mining(chain_snapshot: Net) -> Iterator[Net]:
    """Automine off: a sent transaction stays pending until the test mines a block."""
    chain_snapshot.rpc("evm_setAutomine", [False])
    try:
        yield chain_snapshot
    finally:
        chain_snapshot.rpc("evm_setAutomine", [True])


# --- stuck transactions (issue 6, item 6) --------------------------------------------------------
def test_stuck_transaction_is_replaced_with_the_same_nonce_and_a_higher_fee_and_mined_once(manual_mining: Net) -> None:
    net = manual_mining
    market = market_on(net, [net.url], replace_after_s=0.2, max_replacements=1)
    start, before = net.market.chain.block_number(), net.market.balance(RECIPIENT)
    pending: list[dict[str, Any]] = []

    def on_sent(tx_hash: str) -> None:
        pending.append({**market.chain.w3.eth.get_transaction(tx_hash), "hash": tx_hash})  # type: ignore[arg-type]

    sending = background(
        lambda: market.chain.send(
            market.token.functions.transfer(RECIPIENT, 7), net.signer("consumer"), what="transfer", on_sent=on_sent
        )
    )
    until(lambda: len(pending) == 2, what="a replacement")
    net.rpc("evm_mine")
    receipt = sending.result(timeout=20)

    first, second = pending
    assert receipt.tx == second["hash"], "the replacement is what got mined"
    assert second["nonce"] == first["nonce"]
    assert second["maxFeePerGas"] * 4 >= first["maxFeePerGas"] * 5
    assert second["maxPriorityFeePerGas"] * 4 >= first["maxPriorityFeePerGas"] * 5
    assert market.chain.receipt(first["hash"]) is None, "the replaced transaction is never mined"
    assert net.market.balance(RECIPIENT) - before == 7
    assert transfers_to(net, RECIPIENT, start + 1) == 1


def test_a_fee_below_a_risen_base_fee_is_raised_until_the_node_takes_it(chain_snapshot: Net) -> None:
    net = chain_snapshot
    w3 = net.market.chain.w3
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    first_fee = 2 * base + int(w3.eth.max_priority_fee)
    market = market_on(net, [net.url], max_fee_per_gas=50 * first_fee)
    net.rpc("anvil_setNextBlockBaseFeePerGas", [hex(3 * first_fee)])
    before, sent = net.market.balance(RECIPIENT), []
    try:
        receipt = market.chain.send(
            market.token.functions.transfer(RECIPIENT, 3), net.signer("consumer"), what="transfer", on_sent=sent.append
        )
    finally:
        net.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)])  # evm_revert does not reset anvil's fee market

    assert sent == [receipt.tx], "the refused first try was never reported as sent"
    assert int(w3.eth.get_transaction(receipt.tx)["maxFeePerGas"]) >= 3 * first_fee  # type: ignore[arg-type]
    assert net.market.balance(RECIPIENT) - before == 3


@pytest.mark.parametrize("automine", [True, False], ids=["nonce-too-low", "already-known"])
def test_a_lost_send_answer_is_settled_by_the_receipt_not_by_sending_again(chain_snapshot: Net, automine: bool) -> None:
    """The node takes the transaction but its answer is lost; the transport re-sends the same bytes and the
    node says "nonce too low" (already mined) or "transaction already imported" (pending)."""
    net = chain_snapshot
    before, sent = net.market.balance(RECIPIENT), []
    with FlakyRpcProxyFake(net.url) as proxy:
        market = market_on(net, [proxy.url])
        proxy.fail("drop-after-forward", method="eth_sendRawTransaction")
        net.rpc("evm_setAutomine", [automine])
        try:
            sending = background(
                lambda: market.chain.send(
                    market.token.functions.transfer(RECIPIENT, 5), net.signer("consumer"), what="transfer", on_sent=sent.append
                )
            )
            if not automine:
                until(lambda: sent, what="the send")
                net.rpc("evm_mine")
            receipt = sending.result(timeout=20)
        finally:
            net.rpc("evm_setAutomine", [True])
        assert proxy.count("eth_sendRawTransaction") == 2, "one lost answer, one repeat of the same bytes"
    assert sent == [receipt.tx]
    assert net.market.balance(RECIPIENT) - before == 5


def test_a_receipt_served_after_the_nonce_counts_is_still_ours(chain_snapshot: Net) -> None:
    """Seen on anvil under load (4 of 12 proof submissions): the sender's nonce is counted as used a moment
    before the node serves the receipt. That is our transaction, not a rival's."""
    net = chain_snapshot
    before = net.market.balance(RECIPIENT)
    with FlakyRpcProxyFake(net.url) as proxy:
        market = market_on(net, [proxy.url])
        proxy.fail("null-result", times=4, method="eth_getTransactionReceipt")
        receipt = market.chain.send(market.token.functions.transfer(RECIPIENT, 4), net.signer("consumer"), what="transfer")
        assert proxy.count("eth_getTransactionReceipt") >= 5, "the lagging receipt was asked for again"
    assert receipt.ok
    assert net.market.balance(RECIPIENT) - before == 4


def test_a_nonce_taken_by_another_transaction_fails_clearly_and_spends_nothing(manual_mining: Net) -> None:
    net = manual_mining
    consumer = net.signer("consumer")
    market = market_on(net, [net.url], replace_after_s=0.2, max_replacements=3)
    before, pending = net.market.balance(RECIPIENT), []

    def on_sent(tx_hash: str) -> None:
        pending.append(market.chain.w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]

    sending = background(
        lambda: market.chain.send(market.token.functions.transfer(RECIPIENT, 9), consumer, what="transfer", on_sent=on_sent)
    )
    ours = until(lambda: pending, what="the send")[0]
    rival = consumer.sign_transaction(
        {
            "to": consumer.address,
            "value": 0,
            "nonce": ours["nonce"],
            "gas": 21_000,
            "chainId": 31337,
            "maxFeePerGas": 20 * ours["maxFeePerGas"],
            "maxPriorityFeePerGas": 20 * ours["maxPriorityFeePerGas"],
        }
    )
    net.market.chain.w3.eth.send_raw_transaction(rival)
    net.rpc("evm_mine")

    with pytest.raises(TransactionError, match=rf"nonce {ours['nonce']} of .* was used by another transaction; none of ours"):
        sending.result(timeout=20)
    assert net.market.balance(RECIPIENT) == before


# --- reorgs (issue 6, item 7) --------------------------------------------------------------------
@pytest.fixture
def worker_log() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def worker(chain_snapshot: Net, tmp_path: Path, worker_log: list[dict[str, Any]]) -> Iterator[Worker]:
    """The provider's worker as a library object on the session chain (tests drive ``work`` or one poll)."""
    net = chain_snapshot
    settings = ngx.load_settings(
        {
            "NGX_ZK_HOME": str(net.home),
            "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
            "NGX_ZK_STATE_DIR": str(tmp_path / "worker"),
        }
    )
    w = Worker(
        settings,
        net.market,
        net.signer("provider"),
        [net.circuit],
        WorkerOptions(poll_s=0.05),
        log=lambda event, level="info", **fields: worker_log.append({"event": event, "level": level, **fields}),
    )
    try:
        yield w
    finally:
        w.request_stop()
        w.request_stop()
        w.close()


def post(net: Net, tmp_path: Path) -> JobRecord:
    settings = ngx.load_settings(
        {
            "NGX_ZK_HOME": str(net.home),
            "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
            "NGX_ZK_STATE_DIR": str(tmp_path / "consumer"),
        }
    )
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    return post_job(
        settings,
        net.market,
        net.signer("consumer"),
        net.circuit,
        data,
        price=10 * NGX,
        claim_window=600,
        prove_window=600,
        min_reputation=0,
    )


def steps(worker: Worker, job_id: int) -> list[str]:
    return [step for step, _, _ in worker.journal.history(job_id)]


def reorg_from(net: Net, block: int, txs: list[list[Any]] | None = None) -> None:
    """Replace every block from ``block`` to the head (same height), re-including ``txs`` as [raw, offset]."""
    depth = net.market.chain.block_number() - block + 1
    answer = net.rpc("anvil_reorg", [depth, txs or []])
    assert "error" not in answer, answer


@pytest.mark.parametrize("window", [5, 0], ids=["rescanned", "window-0-misses-it"])
def test_an_event_reincluded_below_the_cursor_is_found_by_the_rescan_window(
    chain_snapshot: Net, worker: Worker, window: int
) -> None:
    """A JobPosted the worker never saw becomes canonical below its cursor (a fork won); with window 0 it is skipped."""
    net, m = chain_snapshot, worker.market
    signer = net.signer("consumer")
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    commitment, _ = ngx.commit(net.circuit.manifest, data, new_salt=True)
    m.ensure_allowance(signer, m.market.address, 10 * NGX)
    for _ in range(3):
        net.rpc("evm_mine")
    worker.monitor.reorg_window = window
    worker.monitor.scan()  # the cursor passes the head
    fn = m.market.functions.postJob(net.model_id, list(commitment.values), 10 * NGX, 600, 600, 0)
    tx = fn.build_transaction(
        {
            "from": signer.address,
            "nonce": m.chain.w3.eth.get_transaction_count(signer.address),  # type: ignore[arg-type]
            "chainId": devnet.DEV_CHAIN_ID,
        }
    )
    reorg_from(net, m.chain.block_number() - 2, [["0x" + signer.sign_transaction(dict(tx)).hex(), 0]])
    posted = m.logs(JobPosted, m.deployment.block)[-1]
    assert posted.meta.block_number < worker.journal.cursor("posted", 0), "the event landed below the cursor"

    worker.monitor.scan()

    entry = worker.journal.get(posted.event.job_id)
    if window:
        assert entry is not None and entry.step is Step.SEEN
    else:
        assert entry is None, "without a rescan window the re-included event is skipped"


def test_a_reorg_dropping_the_claim_sends_the_worker_back_to_claiming(
    chain_snapshot: Net, worker: Worker, tmp_path: Path
) -> None:
    net, m = chain_snapshot, worker.market
    record = post(net, tmp_path)
    start = m.chain.block_number()
    running = background(lambda: worker.work(max_jobs=1))
    claimed = until(
        lambda: (e := worker.journal.get(record.job_id)) is not None and e.step is Step.CLAIMED and e, what="the claim"
    )
    assert m.job(record.job_id).provider == devnet.dev_address("provider")

    reorg_from(net, int(claimed.claim_block))  # drops the claim, keeps the JobPosted

    until(lambda: steps(worker, record.job_id).count("claimed") == 2, what="a second claim")
    job = m.job(record.job_id)
    assert job.status is JobStatus.CLAIMED
    deliver_input(m, net.signer("consumer"), record, job)
    assert running.result(timeout=90) is True
    assert m.job(record.job_id).status is JobStatus.SETTLED
    assert len(m.logs(JobClaimed, start, job_id=record.job_id)) == 1
    assert len(m.logs(JobSettled, start, job_id=record.job_id)) == 1
    history = steps(worker, record.job_id)
    first_claim = history.index("claimed")
    back = history.index("seen", first_claim)
    assert "claimed" in history[back:], "after the reorg the worker claimed again"
    assert history[-1] == "done" and "lost" not in history
    notes = [note for _, _, note in worker.journal.history(record.job_id)]
    assert "a reorg dropped our claim; claiming again" in notes


def test_a_reorg_dropping_a_claimed_jobs_post_marks_it_lost_without_a_crash(
    chain_snapshot: Net, worker: Worker, tmp_path: Path
) -> None:
    net, m = chain_snapshot, worker.market
    record = post(net, tmp_path)
    posted_block = m.posted(record.job_id).meta.block_number
    running = background(lambda: worker.work(burst=True, max_jobs=1))
    until(lambda: (e := worker.journal.get(record.job_id)) is not None and e.step is Step.CLAIMED, what="the claim")

    reorg_from(net, posted_block)  # drops the JobPosted and the claim

    assert running.result(timeout=30) is False, "the burst worker ends once the job is gone"
    entry = worker.journal.get(record.job_id)
    assert entry is not None and entry.step is Step.LOST
    assert worker.journal.history(record.job_id)[-1][2] == GONE
    assert m.job_count() == record.job_id - 1 and worker.stats.lost == 1


def test_a_seen_job_whose_post_a_reorg_drops_is_lost_and_its_reused_id_is_seen_again(
    chain_snapshot: Net, worker: Worker, tmp_path: Path
) -> None:
    net, m = chain_snapshot, worker.market
    first = post(net, tmp_path)
    worker.monitor.scan()
    assert (entry := worker.journal.get(first.job_id)) is not None and entry.step is Step.SEEN

    reorg_from(net, m.posted(first.job_id).meta.block_number)
    worker.monitor.scan()
    entry = worker.journal.get(first.job_id)
    assert entry is not None and entry.step is Step.LOST and worker.journal.history(first.job_id)[-1][2] == GONE

    second = post(net, tmp_path)  # the consumer posts again: the id is free, so it is re-used
    assert second.job_id == first.job_id
    worker.monitor.scan()
    entry = worker.journal.get(second.job_id)
    assert entry is not None and entry.step is Step.SEEN
    assert list(entry.commitments) == list(m.posted(second.job_id).event.input_commitments)


def settle_once(net: Net, worker: Worker, tmp_path: Path) -> tuple[JobRecord, int]:
    """A job posted, claimed, delivered and settled by the worker (``max_jobs=1``); its settling block."""
    m = worker.market
    record = post(net, tmp_path)
    running = background(lambda: worker.work(max_jobs=1))
    until(lambda: (e := worker.journal.get(record.job_id)) is not None and e.step is Step.CLAIMED, what="the claim")
    deliver_input(m, net.signer("consumer"), record, m.job(record.job_id))
    assert running.result(timeout=90) is True
    done = worker.journal.get(record.job_id)
    assert done is not None and done.step is Step.DONE and done.settled_block is not None
    return record, done.settled_block


@pytest.mark.parametrize("fork", ["dropped", "reincluded"])
def test_a_reorg_dropping_our_settlement_is_noticed_and_the_job_paid_once(
    chain_snapshot: Net, worker: Worker, tmp_path: Path, fork: str
) -> None:
    """Issue 25: the block with the worker's submitResult is reorged away after the worker saw its receipt.
    Dropped: the job is Claimed by us again; the worker notices on its next poll and submits the kept proof
    again. Re-included by the fork: nothing is sent. Either way the provider is credited exactly once."""
    net, m = chain_snapshot, worker.market
    provider = devnet.dev_address("provider")
    start = m.chain.block_number()
    record, block = settle_once(net, worker, tmp_path)
    paid = m.claimable(provider)
    settled = m.logs(JobSettled, start, job_id=record.job_id)
    assert [s.meta.block_number for s in settled] == [block]
    raw = m.chain.w3.eth.get_raw_transaction(settled[0].meta.tx_hash).to_0x_hex()  # type: ignore[arg-type]

    reorg_from(net, block, [[raw, 0]] if fork == "reincluded" else [])
    expected = JobStatus.SETTLED if fork == "reincluded" else JobStatus.CLAIMED
    assert m.job(record.job_id).status is expected
    assert (m.claimable(provider) == paid) is (fork == "reincluded")

    assert background(lambda: worker.work(max_jobs=1)).result(timeout=60) is True
    assert m.job(record.job_id).status is JobStatus.SETTLED
    assert len(m.logs(JobSettled, start, job_id=record.job_id)) == 1, "one settlement on the canonical chain"
    assert m.claimable(provider) == paid, "credited once: not twice, not lost"
    history = steps(worker, record.job_id)
    notes = [note for _, _, note in worker.journal.history(record.job_id)]
    if fork == "dropped":
        again = history[history.index("done") + 1 :]
        assert again[0] == "proved" and again[-1] == "done" and "submitting" in again, history
        assert "a reorg dropped our settlement; submitting again" in notes
    else:
        assert history.count("done") == 1 and history.count("proved") == 1, "nothing sent again"


def test_a_reorg_dropping_our_claim_and_settlement_claims_again_and_settles_once(
    chain_snapshot: Net, worker: Worker, tmp_path: Path
) -> None:
    """The fork drops the claim too: the job is open again; the worker claims it again, the consumer delivers
    again, and the job settles once."""
    net, m = chain_snapshot, worker.market
    provider = devnet.dev_address("provider")
    start = m.chain.block_number()
    record, _ = settle_once(net, worker, tmp_path)
    paid = m.claimable(provider)
    reorg_from(net, m.logs(JobClaimed, start, job_id=record.job_id)[0].meta.block_number)
    assert m.job(record.job_id).status is JobStatus.OPEN

    running = background(lambda: worker.work(max_jobs=1))
    until(lambda: steps(worker, record.job_id).count("claimed") == 2, what="a second claim")
    deliver_input(m, net.signer("consumer"), record, m.job(record.job_id))
    assert running.result(timeout=90) is True
    assert m.job(record.job_id).status is JobStatus.SETTLED
    assert len(m.logs(JobSettled, start, job_id=record.job_id)) == 1
    assert m.claimable(provider) == paid
    notes = [note for _, _, note in worker.journal.history(record.job_id)]
    assert "a reorg dropped our claim and settlement; claiming again" in notes


def test_prove_job_with_confirmations_reports_a_settlement_only_once_blocks_sit_on_it(
    chain_snapshot: Net, worker: Worker, tmp_path: Path
) -> None:
    """`prove-job --confirmations 3` on the devnet (instant mining: no block comes by itself): the worker
    settles, and the consumer's command still waits until three more blocks are mined on top."""
    net, m = chain_snapshot, worker.market
    running = background(lambda: worker.work(max_jobs=1))
    args = ["prove-job", "mlp", "--input", str(MODELS / "mlp" / "input.json"), "--account", "consumer", "--price", "10"]
    consumer = subprocess.Popen(
        [sys.executable, "-m", "ngx_zk", *args, "--confirmations", "3", "--json", "--timeout", "120"],
        env=net.env(tmp_path / "consumer"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert running.result(timeout=120) is True
        job_id = max(r.job_id for r in worker.journal.all())
        settled = m.logs(JobSettled, m.deployment.block, job_id=job_id)[-1].meta.block_number
        time.sleep(2)
        assert consumer.poll() is None, "settled but not yet 3 blocks deep: still waiting"
        for _ in range(3):
            net.rpc("evm_mine")
        out, err = consumer.communicate(timeout=60)
    finally:
        if consumer.poll() is None:
            consumer.kill()
    assert consumer.returncode == 0, out + err
    result = json.loads(out)
    assert result["status"] == "Settled" and result["job_id"] == job_id
    assert m.chain.block_number() - settled >= 3


# --- RPC faults (issue 6, item 8) ----------------------------------------------------------------
def test_http_5xx_and_429_are_retried_with_backoff(net: Net) -> None:
    with FlakyRpcProxyFake(net.url) as proxy:
        proxy.fail("500")
        proxy.fail("429")
        chain = Chain([proxy.url], expected_chain_id=devnet.DEV_CHAIN_ID, tries=3, backoff_s=0.01)
        assert proxy.count("eth_chainId") == 3
        proxy.fail("503", times=2, method="eth_blockNumber")
        assert chain.block_number() == net.market.chain.block_number()
        assert proxy.count("eth_blockNumber") == 3


@pytest.mark.parametrize(
    "fault, words",
    [
        ("refused", "connection refused"),
        ("503", "HTTP 503"),
        ("429", "HTTP 429 (rate limited)"),
        ("hang", "no answer within 0.3s"),
        ("drop", "connection dropped"),
    ],
)
def test_a_node_that_stays_down_gives_a_one_line_rpc_error(net: Net, fault: str, words: str) -> None:
    with FlakyRpcProxyFake(net.url) as proxy:
        url = f"http://127.0.0.1:{free_port()}" if fault == "refused" else proxy.url
        if fault != "refused":
            proxy.fail(fault, times=None)
        started = time.monotonic()
        with pytest.raises(RpcError) as info:
            Chain([url], tries=2, backoff_s=0.01, timeout_s=0.3)
        assert time.monotonic() - started < 5
    message = str(info.value)
    assert "\n" not in message and url in message and words in message and "NGX_ZK_RPC_URL" in message


def test_the_cli_reports_an_unreachable_node_in_one_line(net: Net, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    done = ngx_zk(net, tmp_path, "jobs", "--rpc-url", dead, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "connection refused" in done.stderr and "Traceback" not in done.stderr


def test_failover_to_the_next_url_when_the_node_fails_mid_run(chain_snapshot: Net) -> None:
    net = chain_snapshot
    before = net.market.balance(RECIPIENT)
    with FlakyRpcProxyFake(net.url) as first:
        market = market_on(net, [first.url, net.url], tries=2)
        assert market.chain.url == first.url
        first.fail("drop", times=None)  # the node dies while in use

        market.transfer(net.signer("consumer"), RECIPIENT, 4)

        assert market.chain.url == net.url
        assert market.balance(RECIPIENT) - before == 4
        assert first.count("eth_sendRawTransaction") == 0


def test_failover_never_switches_to_a_node_of_another_chain(net: Net) -> None:
    with FlakyRpcProxyFake(net.url) as flaky, FlakyRpcProxyFake(net.url, chain_id=1) as other:
        chain = Chain([flaky.url, other.url, net.url], expected_chain_id=devnet.DEV_CHAIN_ID, tries=1)
        flaky.fail("503", times=None)
        assert chain.block_number() == net.market.chain.block_number()
        assert chain.url == net.url and other.count("eth_blockNumber") == 0

        flaky.heal()
        lonely = Chain([flaky.url, other.url], tries=1)
        flaky.fail("503", times=None)
        with pytest.raises(RpcError, match=r"serves chain id 1, expected 31337"):
            lonely.block_number()
        with pytest.raises(WrongChainError, match="serves chain id 1, expected 31337"):
            Chain([other.url, net.url], expected_chain_id=devnet.DEV_CHAIN_ID)  # at connect time: refused, as before


def test_the_worker_rides_out_a_node_outage(
    chain_snapshot: Net, worker: Worker, worker_log: list[dict[str, Any]], tmp_path: Path
) -> None:
    net = chain_snapshot
    with FlakyRpcProxyFake(net.url) as proxy:
        worker.monitor.market = Marketplace(Chain([proxy.url], tries=1), net.market.deployment)
        record = post(net, tmp_path)
        proxy.fail("503", times=None)
        worker.monitor.scan()
        assert worker.journal.get(record.job_id) is None
        assert any(e["event"] == "chain.error" and "HTTP 503" in e["error"] for e in worker_log)
        proxy.heal()
        worker.monitor.scan()
        assert (entry := worker.journal.get(record.job_id)) is not None and entry.step is Step.SEEN


def test_history_reads_go_in_batches_and_one_at_a_time_where_a_node_refuses_batches(chain_snapshot: Net) -> None:
    """The explorer's reads (blocks, logs, receipts, transactions) come typed, in one round trip per kind,
    and still come, request by request, from a node or proxy that refuses JSON-RPC batches."""
    net, m = chain_snapshot, chain_snapshot.market
    start = m.chain.block_number() + 1
    for amount in (1, 2, 3):
        m.transfer(net.signer("consumer"), RECIPIENT, amount)
    stop = m.chain.block_number()
    with FlakyRpcProxyFake(net.url) as proxy:
        chain = Chain([proxy.url], tries=1)
        token = chain.contract_events({"NGXToken": m.token.address})
        logs = chain.logs(start, stop, token.addresses)
        events = [token.decode(entry) for entry in logs]
        assert [(e.contract, e.name, e.args["value"]) for e in events if e is not None] == [
            ("NGXToken", "Transfer", a) for a in (1, 2, 3)
        ]
        hashes, numbers = [entry.tx_hash for entry in logs], [entry.block_number for entry in logs]
        blocks, receipts, sent = chain.blocks(numbers), chain.receipts(hashes), chain.transactions(hashes)
        assert proxy.count("batch") == 3 and proxy.count("eth_getBlockByNumber") == proxy.count("eth_getTransactionReceipt") == 0

        assert all(blocks[entry.block_number].hash == entry.block_hash for entry in logs)
        assert blocks[stop] == chain.block(stop) and chain.block(stop + 1_000) is None
        consumer = net.signer("consumer").address.lower()
        assert [(r.sender, r.status) for r in receipts.values()] == [(consumer, 1)] * 3 and all(
            r.gas_used > 0 for r in receipts.values()
        )
        assert all(sent[h].to == m.token.address.lower() for h in hashes)
        assert [token.decode_call(sent[h]) for h in hashes] == [("transfer", {"to": RECIPIENT, "value": a}) for a in (1, 2, 3)]

        proxy.fail("500", times=None, method="batch")
        assert chain.receipts(hashes) == receipts and chain.blocks(numbers) == blocks and chain.transactions(hashes) == sent
        assert proxy.count("batch") == 4  # refused once, never asked again
        assert proxy.count("eth_getTransactionReceipt") == proxy.count("eth_getTransactionByHash") == 3


# --- new-block notifications ---------------------------------------------------------------------
def test_new_heads_wake_the_waiter_and_an_unanswered_websocket_leaves_polling(net: Net) -> None:
    woken = threading.Event()
    with NewHeads(ws_url_for(net.url), woken.set) as heads:
        assert heads.available
        net.rpc("evm_mine")
        assert woken.wait(5), "a mined block woke the waiter"
    assert not heads.available
    started = time.monotonic()
    assert not NewHeads(ws_url_for(f"http://127.0.0.1:{free_port()}"), woken.set).available
    assert time.monotonic() - started < 2 * CONNECT_TIMEOUT_S + 1
    assert ws_url_for(net.url, "off") is None and ws_url_for("https://rpc.example", None) == "wss://rpc.example"
    with pytest.raises(NgxZkError, match="NGX_ZK_WS_URL"):
        ngx.load_settings({"NGX_ZK_WS_URL": "http://127.0.0.1:8545"})
