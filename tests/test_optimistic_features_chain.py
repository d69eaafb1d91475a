"""Every existing job feature in optimistic mode, on anvil with the real contracts, EZKL proofs and one real worker
(its own process, serving its endpoint with --listen and three models): an auction, a gasless order, a batch job, a
private job (hashed output) and a job reopened for a second prover after the first one's missed deadline. Each
consumer follows its job with ``ngx-zk job wait`` (delivering its input, checking the served proof); each job ends
Settled after its (60 s, governed minimum) challenge window, which the test moves anvil's clock past, with the
payments eager mode makes, and ``ngx-zk verify --job`` finds it valid from the proof the provider serves.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_utils.address import to_checksum_address

import ngx_zk as ngx
from ngx_zk import crypto, inputs
from ngx_zk.artifacts import Circuit
from ngx_zk.chain.settlement_types import BatchFinalized, ChallengeAnswered, JobSubmitted, ResultsSubmitted
from ngx_zk.chain.signer import from_key
from ngx_zk.chain.types import FLAG_OPTIMISTIC, InputDelivered, JobStatus
from ngx_zk.config import Secret
from ngx_zk.consumer import JobRecord, deliver_input, post_job
from ngx_zk.publish import publish
from ngx_zk.worker import Step, Worker, WorkerOptions
from ngx_zk.worker.policy import ClaimPolicy

from .chain_fixtures import NGX, Net, finish, free_port, start_cli, start_worker
from .optimistic_fixtures import WINDOW, settings_for, short
from .paths import MODELS
from .polling import waiting

pytestmark = [pytest.mark.chain, pytest.mark.slow]
__all__ = ["short"]  # fixtures

GASLESS_KEY = "0x" + "5e" * 32
"""A consumer with NGX and no ETH (a throwaway key of this test, never a funded account's)."""


def pay(price: int, royalty_bps: int = 100) -> int:
    """The provider's share of a job's price: the 2.5 % fee and the owner's royalty off, as in eager mode."""
    return price - price * 250 // 10_000 - price * royalty_bps // 10_000


def serve(net: Net, state: Path) -> subprocess.Popen[str]:
    """The provider's worker for three models, with its endpoint registered on chain, once it is up."""
    port = free_port()
    signer = net.signer("provider")
    key = crypto.public_bytes(crypto.derive_key(signer.encryption_key_material()))
    net.market.update_provider(signer, key, f"http://127.0.0.1:{port}")
    worker = start_worker(
        net, state, "--model", "mlp_b4", "--model", "mlp_private", "--listen", f"127.0.0.1:{port}",
        "--settle-batch", "4", "--settle-wait", "2", "--max-fresh-jobs", "8",
    )  # fmt: skip
    log = state / "worker.log"
    waiting("the worker's start", lambda: log.is_file() and '"worker.start"' in log.read_text(), timeout=90)
    assert worker.poll() is None
    return worker


def test_every_job_feature_settles_optimistically_after_its_window(
    short: Net, mlp_b4: Circuit, private_circuit: Circuit, tmp_path: Path
) -> None:
    net, m = short, short.market
    w3 = m.chain.w3
    publish(net.settings, m, net.signer("deployer"), mlp_b4, royalty_bps=100)
    provider, provider2 = net.signer("provider"), net.signer("provider2")
    consumer = net.signer("consumer")
    gasless = from_key(Secret(GASLESS_KEY))
    m.transfer(consumer, gasless.address, 50 * NGX)
    earned, refunds, staked2 = m.claimable(provider.address), m.claimable(consumer.address), m.provider(provider2.address).staked
    state = tmp_path / "consumer"
    one = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)

    def post(circuit: Circuit, data: ngx.InputData, **terms: Any) -> JobRecord:
        terms = {"price": 10 * NGX, "claim_window": 600, "prove_window": 1200, "min_reputation": 0} | terms
        return post_job(settings_for(net, state), m, consumer, circuit, data, optimistic=True, **terms)

    # a job the first provider claims and abandons (its endpoint is down): before the worker is there to claim it
    m.update_provider(provider2, m.provider(provider2.address).encryption_pub_key, f"http://127.0.0.1:{free_port()}")
    reopened = post(net.circuit, one, prove_window=120)
    m.claim(provider2, reopened.job_id)
    collateral = m.job(reopened.job_id).collateral

    worker = serve(net, tmp_path / "worker")
    records: dict[str, JobRecord] = {}
    waits: list[subprocess.Popen[str]] = []

    def follow(name: str, record: JobRecord, where: Path = state, **env: str) -> None:
        """The consumer's side from here on: ``job wait`` delivers the input to whoever claims and checks the proof."""
        records[name] = record
        account = () if env else ("--account", "consumer")
        waits.append(start_cli(net, where, "job", "wait", str(record.job_id), *account, "--json", "--timeout", "240", **env))

    try:
        follow("reopened", reopened)
        follow("gasless", post_job(
            settings_for(net, tmp_path / "gasless"), m, gasless, net.circuit, one,
            price=10 * NGX, claim_window=600, prove_window=1200, min_reputation=0,
            gasless=True, offer_to=provider.address, optimistic=True,
        ), tmp_path / "gasless", NGX_ZK_PRIVATE_KEY=GASLESS_KEY)  # fmt: skip
        follow("auction", post(net.circuit, one, min_price=2 * NGX, ramp=600))
        follow("batch", post(mlp_b4, inputs.parse_batch(inputs.read_lines(MODELS / "mlp" / "batch4.jsonl"), mlp_b4.manifest)))
        follow("private", post(private_circuit, ngx.load_input(MODELS / "mlp" / "input.json", private_circuit.manifest)))
        assert all(m.job(r.job_id).flags & FLAG_OPTIMISTIC for r in records.values())
        auction = records["auction"]
        waiting("the auction's claim", lambda: m.job(auction.job_id).status is not JobStatus.OPEN)
        net.travel(121)  # past the abandoned claim's prove deadline: it is expired, reopened and claimed by the worker
        committed = {JobStatus.SUBMITTED, JobStatus.SETTLED}  # the travel above may have closed the first windows
        waiting("every result", lambda: all(m.job(r.job_id).status in committed for r in records.values()))
        net.travel(WINDOW + 1)
        ended = {name: finish(proc) for name, proc in zip(records, waits, strict=True)}

        audits = {
            name: start_cli(net, tmp_path / "auditor", "verify", "--job", str(r.job_id), "--json") for name, r in records.items()
        }
        verdicts = {name: finish(proc, timeout=120) for name, proc in audits.items()}
    finally:
        for proc in waits:
            if proc.poll() is None:
                proc.kill()
        worker.terminate()  # a warm stop: it waits for its optimistic results to finalize (done, unless this failed)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=30)

    for name, result in ended.items():
        assert (result["status"], result["proof_valid"], result["settlement"], result["finalized"]) == (
            "Settled",
            True,
            "optimistic",
            True,
        ), name
        assert verdicts[name]["valid"] is True, (name, verdicts[name])
    assert len(ended["batch"]["outputs"]) == 4 and len(verdicts["batch"]["outputs"]) == 4, "one output per input"
    assert ended["private"]["outputs"], "the private output reached its consumer"

    jobs = {name: m.job(r.job_id) for name, r in records.items()}
    assert all(job.status is JobStatus.SETTLED and job.provider == provider.address for job in jobs.values())
    assert jobs["reopened"].reopened
    price = jobs["auction"].price
    assert 2 * NGX <= price < 10 * NGX and not jobs["auction"].auction, "the claim locked the auction's price"
    ids = {r.job_id for r in records.values()}
    finalized = m.logs(BatchFinalized, m.deployment.block)
    assert sum(e.event.settled for e in finalized) == 5 and not m.logs(ChallengeAnswered, m.deployment.block)
    deadlines = {e.event.batch_id: e.event.challenge_deadline for e in m.logs(ResultsSubmitted, m.deployment.block)}
    for e in finalized:  # nothing paid inside a challenge window
        assert w3.eth.get_block(e.meta.block_number)["timestamp"] >= deadlines[e.event.batch_id]
    assert {e.event.job_id for e in m.logs(JobSubmitted, m.deployment.block)} == ids, "each result committed once"

    bounty = collateral // 4  # the second prover's, out of the first one's slash; mlp_private has no royalty
    assert m.claimable(provider.address) - earned == pay(price) + 3 * pay(10 * NGX) + pay(10 * NGX, 0) + bounty, (
        "paid as eager mode pays"
    )
    assert m.provider(provider2.address).staked == staked2 - collateral // 2, "the first provider lost the slash"
    assert m.claimable(consumer.address) - refunds == 10 * NGX - price, "only the auction's unlocked escrow came back"
    assert m.balance(gasless.address) == 40 * NGX and w3.eth.get_transaction_count(to_checksum_address(gasless.address)) == 0, (
        "no gas, no tx"
    )


def test_a_finalization_a_reorg_removed_is_sent_again_and_pays_once(short: Net, tmp_path: Path) -> None:
    """The worker finalizes its batch; a reorg (anvil_reorg) replaces the blocks from the window's end on with
    empty ones, so the finalization is gone and the job is Submitted again: the worker notices (its settlements are
    watched until they are reorg-window deep), sees it finalized again, and the provider is paid exactly once."""
    net, m = short, short.market
    provider = net.signer("provider")
    earned = m.claimable(provider.address)
    one = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    record = post_job(settings_for(net, tmp_path / "consumer"), m, net.signer("consumer"), net.circuit, one,
                      price=10 * NGX, claim_window=600, prove_window=1200, min_reputation=0, optimistic=True)  # fmt: skip
    opts = WorkerOptions(poll_s=0.05, claim_spread=False, policy=ClaimPolicy(max_fresh_jobs=None), listen=("127.0.0.1", 0))
    worker = Worker(settings_for(net, tmp_path / "worker"), m, provider, [net.circuit], opts)

    def drive(what: str, done: Callable[[], bool]) -> None:
        def step() -> bool:
            worker.monitor.scan()
            worker._advance()
            if m.job(record.job_id).status is JobStatus.CLAIMED and not m.logs(InputDelivered, m.deployment.block):
                deliver_input(m, net.signer("consumer"), record, m.job(record.job_id))
            return done()

        waiting(what, step, timeout=180)

    try:
        drive("the result", lambda: m.job(record.job_id).status is JobStatus.SUBMITTED)
        net.travel(WINDOW + 1)
        fork = m.chain.block_number()  # the travel's block: the window closed at it
        drive("the finalization", lambda: m.job(record.job_id).status is JobStatus.SETTLED)
        first = m.logs(BatchFinalized, m.deployment.block)
        assert len(first) == 1 and first[0].meta.block_number > fork
        depth = m.chain.block_number() - fork
        net.rpc("anvil_reorg", [depth, []])  # the same height, other (empty) blocks: the finalization is gone
        assert m.job(record.job_id).status is JobStatus.SUBMITTED and not m.logs(BatchFinalized, m.deployment.block)
        assert m.claimable(provider.address) == earned, "the reorg took the payment back"
        drive("the finalization sent again", lambda: m.job(record.job_id).status is JobStatus.SETTLED)
        for _ in range(20):  # and nothing more: no second finalization, no second payment
            worker.monitor.scan()
            worker._advance()
        assert worker.journal.get(record.job_id).step is Step.DONE  # type: ignore[union-attr]
        assert any("a reorg dropped our finalization" in note for _, _, note in worker.journal.history(record.job_id))
    finally:
        worker.close()
    # One finalization on the canonical chain. It may carry the first one's hash: the worker's re-send under the
    # rolled-back nonce signs the same bytes, and a node may re-include a dropped transaction by itself.
    again = m.logs(BatchFinalized, m.deployment.block)
    assert len(again) == 1 and again[0].meta.block_number > fork
    assert m.claimable(provider.address) - earned == pay(10 * NGX), "paid exactly once"
