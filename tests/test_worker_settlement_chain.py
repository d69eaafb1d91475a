"""Settlement at market cost on anvil with the real contracts, real EZKL proofs of the mlp model and the real worker:
four eager jobs in one settleResults, four optimistic jobs in one batch finalized after the (devnet-short)
window and paid, a challenge of a valid result answered (the bond goes to the provider; also by a worker
killed mid-challenge and restarted from its journal), and the provider's endpoint serving the committed proof."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

import ngx_zk as ngx
from ngx_zk.chain.market import JobStatus
from ngx_zk.chain.settlement import Settlement
from ngx_zk.chain.settlement_types import BatchFinalized, ChallengeAnswered, JobSubmitted, ResultsSubmitted, proof_hash
from ngx_zk.chain.types import JobClaimed, JobSettled
from ngx_zk.consumer import JobRecord, deliver_input, post_job
from ngx_zk.worker import Step, Worker, WorkerOptions
from ngx_zk.worker.policy import ClaimPolicy

from .chain_fixtures import NGX, Net, free_port, start_worker
from .paths import MODELS

pytestmark = [pytest.mark.chain, pytest.mark.slow]
T = TypeVar("T")
WINDOW = 60
"""The devnet-short challenge and answer windows these tests set (the governed minimum)."""


def _settings(net: Net, state: Path) -> ngx.Settings:
    return ngx.load_settings(
        {"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir), "NGX_ZK_STATE_DIR": str(state)}
    )


def governed(net: Net, fn: Any) -> None:
    """Send a ProtocolConfig setter as its owner, the timelock (anvil impersonation; the snapshot reverts it)."""
    timelock = net.market.deployment.address("NGXTimelock")
    w3 = net.market.chain.w3
    net.rpc("anvil_impersonateAccount", [timelock])
    net.rpc("anvil_setBalance", [timelock, hex(10**18)])
    try:
        tx_hash = w3.eth.send_transaction(fn.build_transaction({"from": timelock, "gas": 300_000}))
        assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
    finally:
        net.rpc("anvil_stopImpersonatingAccount", [timelock])


@pytest.fixture
def short_windows(chain_snapshot: Net) -> Net:
    governed(chain_snapshot, chain_snapshot.market.config.functions.setChallengeWindows(WINDOW, WINDOW))
    return chain_snapshot


def until(what: str, check: Callable[[], T], tick: Callable[[], None] = lambda: None, timeout: float = 600) -> T:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        tick()
        time.sleep(0.05)
    return value


def worker_for(net: Net, state: Path, **options: Any) -> Worker:
    opts = WorkerOptions(poll_s=0.05, claim_spread=False, policy=ClaimPolicy(max_fresh_jobs=None), **options)
    return Worker(_settings(net, state), net.market, net.signer("provider"), [net.circuit], opts)


def post(
    net: Net, state: Path, n: int, optimistic: bool, consumers: tuple[str, ...] = ("consumer", "consumer2")
) -> list[JobRecord]:
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    return [
        post_job(
            _settings(net, state / consumers[i % len(consumers)]),
            net.market,
            net.signer(consumers[i % len(consumers)]),
            net.circuit,
            data,
            price=10 * NGX,
            claim_window=600,
            prove_window=1200,
            min_reputation=0,
            optimistic=optimistic,
        )
        for i in range(n)
    ]


def deliver_when_claimed(net: Net, records: list[JobRecord], delivered: set[int]) -> None:
    """The consumers' side: hand each job's input over (on chain: the provider has no endpoint) once it is claimed."""
    for record in records:
        job = net.market.job(record.job_id)
        if record.job_id not in delivered and job.status is JobStatus.CLAIMED:
            consumer = "consumer" if job.consumer == net.signer("consumer").address else "consumer2"
            deliver_input(net.market, net.signer(consumer), record, job)
            delivered.add(record.job_id)


def drive(worker: Worker, net: Net, records: list[JobRecord], done: Callable[[], bool], timeout: float = 900) -> None:
    delivered: set[int] = set()

    def tick() -> None:
        worker.monitor.scan()
        worker._advance()
        deliver_when_claimed(net, records, delivered)

    until("the worker", done, tick, timeout)


def test_four_eager_jobs_settle_in_one_transaction(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    provider = net.signer("provider").address
    before = m.claimable(provider)
    records = post(net, tmp_path, 4, optimistic=False)
    worker = worker_for(net, tmp_path / "worker", settle_batch=4, settle_wait=600)
    try:
        drive(worker, net, records, lambda: all(m.job(r.job_id).status is JobStatus.SETTLED for r in records))
        assert {worker.journal.get(r.job_id).step for r in records} == {Step.DONE}  # type: ignore[union-attr]
    finally:
        worker.close()
    settled = [m.logs(JobSettled, m.deployment.block, job_id=r.job_id) for r in records]
    assert all(len(s) == 1 for s in settled)
    assert len({s[0].meta.tx_hash for s in settled}) == 1, "one transaction settled the four"
    pay = 10 * NGX - 10 * NGX * 250 // 10_000 - 10 * NGX * 100 // 10_000
    assert m.claimable(provider) - before == 4 * pay, "each paid exactly as a lone submission pays"


def test_optimistic_jobs_are_submitted_in_one_batch_a_challenge_is_answered_and_the_rest_finalize_paid(
    short_windows: Net, tmp_path: Path
) -> None:
    """Four optimistic jobs of two consumers in one submitResults; the endpoint serves each committed proof; an
    auditor challenges one valid result and the worker answers it (the bond is the provider's); after the window
    the worker finalizes its batch and is paid for the other three."""
    net, m = short_windows, short_windows.market
    settlement = Settlement(m)
    provider, auditor = net.signer("provider").address, net.signer("auditor")
    bond = settlement.terms().challenge_bond
    m.transfer(net.signer("consumer"), auditor.address, bond)
    before = m.claimable(provider)
    records = post(net, tmp_path, 4, optimistic=True)
    worker = worker_for(net, tmp_path / "worker", settle_batch=4, settle_wait=600, listen=("127.0.0.1", 0))
    try:
        drive(worker, net, records, lambda: all(m.job(r.job_id).status is JobStatus.SUBMITTED for r in records))
        batches = m.logs(ResultsSubmitted, m.deployment.block)
        assert len(batches) == 1 and batches[0].event.count == 4, "one batch for the four"
        batch_id = batches[0].event.batch_id
        results = settlement.batch_results(batch_id)
        assert [r.job_id for r in results] == sorted(r.job_id for r in records)

        for result in results:  # the endpoint serves exactly what was committed
            with urllib.request.urlopen(f"{worker.endpoint}/v1/proofs/{result.job_id}", timeout=10) as reply:
                served = json.loads(reply.read())
            assert served["job_id"] == result.job_id and proof_hash(bytes.fromhex(served["proof"][2:])) == result.proof_hash
            instances = [int(v, 16) for v in served["instances"]]
            assert tuple(instances[len(instances) - len(result.outputs) :]) == result.outputs

        challenged = results[1].job_id
        settlement.challenge(auditor, batch_id, results, 1)
        assert m.job(challenged).status is JobStatus.CHALLENGED
        drive(worker, net, records, lambda: m.job(challenged).status is JobStatus.SETTLED, timeout=120)
        answered = m.logs(ChallengeAnswered, m.deployment.block, job_id=challenged)
        assert len(answered) == 1 and answered[0].event.bond == bond

        others = [r.job_id for r in results if r.job_id != challenged]
        assert all(m.job(j).status is JobStatus.SUBMITTED for j in others), "no finalization inside the window"
        net.travel(WINDOW + 1)
        drive(worker, net, records, lambda: all(m.job(j).status is JobStatus.SETTLED for j in others), timeout=120)
        assert {worker.journal.get(r.job_id).step for r in records} == {Step.DONE}  # type: ignore[union-attr]
    finally:
        worker.close()
    finalized = m.logs(BatchFinalized, m.deployment.block, batch_id=batch_id)
    assert len(finalized) == 1 and finalized[0].event.settled == 3
    pay = 10 * NGX - 10 * NGX * 250 // 10_000 - 10 * NGX * 100 // 10_000
    assert m.claimable(provider) - before == 4 * pay + bond, "paid for all four, plus the griefer's bond"


def test_a_worker_killed_mid_challenge_answers_it_after_its_restart(short_windows: Net, tmp_path: Path) -> None:
    """kill -9 (the fault injection's os._exit) right after the worker journaled ANSWERING, before the answer left:
    the restarted worker answers from its journal, once, without submitting the result again."""
    net, m = short_windows, short_windows.market
    settlement = Settlement(m)
    auditor = net.signer("auditor")
    m.transfer(net.signer("consumer"), auditor.address, settlement.terms().challenge_bond)
    worker_dir = tmp_path / "worker"
    # An endpoint serves the committed proof (a worker without one takes no optimistic job).
    dying = start_worker(net, worker_dir, "--listen", f"127.0.0.1:{free_port()}", NGX_ZK_FAULT_CRASH_AT="answering")
    try:
        (record,) = post(net, tmp_path, 1, optimistic=True)
        until("the claim", lambda: m.job(record.job_id).status is JobStatus.CLAIMED, timeout=120)
        deliver_input(m, net.signer("consumer"), record, m.job(record.job_id))
        until("the result", lambda: m.job(record.job_id).status is JobStatus.SUBMITTED, timeout=300)
        submitted = m.logs(JobSubmitted, m.deployment.block, job_id=record.job_id)[0].event
        settlement.challenge(auditor, submitted.batch_id, settlement.batch_results(submitted.batch_id), 0)
        assert dying.wait(timeout=120) == 137, "the fault injection killed the worker as it began to answer"
    finally:
        if dying.poll() is None:
            dying.kill()
    assert m.job(record.job_id).status is JobStatus.CHALLENGED, "killed before the answer left"

    restarted = start_worker(net, worker_dir, "--burst", "--listen", f"127.0.0.1:{free_port()}")
    assert restarted.wait(timeout=300) == 0, restarted.stderr.read() if restarted.stderr else ""
    assert m.job(record.job_id).status is JobStatus.SETTLED
    assert len(m.logs(ChallengeAnswered, m.deployment.block, job_id=record.job_id)) == 1
    assert len(m.logs(JobClaimed, m.deployment.block, job_id=record.job_id)) == 1
    assert len(m.logs(ResultsSubmitted, m.deployment.block)) == 1, "the result was not submitted twice"
