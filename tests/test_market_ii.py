"""Market II on anvil with the real contracts, worker and CLI: a contract consumer called back with the
verified output, an auction claimed by the cheaper of two workers, and a job a second worker finishes
after the first one died with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

import ngx_zk as ngx
from ngx_zk.chain.market import JobStatus, JobTerms
from ngx_zk.chain.types import InputDelivered
from ngx_zk.consumer import adopt_as_deliverer, deliver_input, post_job
from ngx_zk.errors import NgxZkError
from ngx_zk.worker import Step, Worker, WorkerOptions
from ngx_zk.worker.policy import ClaimPolicy

from .chain_fixtures import NGX, Net, ngx_zk, start_worker
from .paths import MODELS, REPO

pytestmark = [pytest.mark.chain, pytest.mark.slow]
T = TypeVar("T")


def _settings(net: Net, state: Path) -> ngx.Settings:
    return ngx.load_settings(
        {"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir), "NGX_ZK_STATE_DIR": str(state)}
    )


@pytest.fixture
def two_workers(chain_snapshot: Net, tmp_path: Path) -> Iterator[tuple[Worker, Worker]]:
    """An expensive worker and a cheap one (in process, driven round by round)."""
    net = chain_snapshot
    pricey = Worker(
        _settings(net, tmp_path / "a"),
        net.market,
        net.signer("provider"),
        [net.circuit],
        WorkerOptions(poll_s=0.05, policy=ClaimPolicy(min_price=8 * NGX)),
    )
    cheap = Worker(
        _settings(net, tmp_path / "b"),
        net.market,
        net.signer("provider2"),
        [net.circuit],
        WorkerOptions(poll_s=0.05, policy=ClaimPolicy(min_price=4 * NGX)),
    )
    yield pricey, cheap
    pricey.close()
    cheap.close()


def rounds(workers: tuple[Worker, ...], until: Callable[[], T], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while not (value := until()):
        assert time.monotonic() < deadline, [[(r.job_id, r.step.value, r.reason) for r in w.journal.all()] for w in workers]
        for w in workers:
            w.monitor.scan()
            w._advance()
        time.sleep(0.05)
    return value


def test_an_auction_is_claimed_by_the_cheaper_worker_at_its_floor(
    chain_snapshot: Net, two_workers: tuple[Worker, Worker]
) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    pricey, cheap = two_workers
    consumer = net.signer("consumer")
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    before = m.balance(consumer.address)
    record = post_job(
        _settings(net, net.home / "consumer"),
        m,
        consumer,
        net.circuit,
        data,
        price=10 * NGX,
        claim_window=300,
        prove_window=120,
        min_reputation=0,
        min_price=2 * NGX,
        ramp=200,
    )
    assert m.job(record.job_id).auction and m.balance(consumer.address) == before - 10 * NGX, "the maximum is escrowed"
    rounds((pricey, cheap), lambda: all(w.journal.get(record.job_id) for w in (pricey, cheap)))
    for _ in range(10):
        rounds((pricey, cheap), lambda: True)
    assert m.job(record.job_id).status is JobStatus.OPEN, "at 2 NGX it is below both floors: both wait"
    assert {w.journal.get(record.job_id).step for w in (pricey, cheap)} == {Step.SEEN}  # type: ignore[union-attr]

    net.travel(60)  # 2 + 8 * 60/200 = 4.4 NGX: above the cheap worker's floor (4), below the other's (8)
    rounds((pricey, cheap), lambda: m.job(record.job_id).status is JobStatus.CLAIMED, timeout=30)
    job = m.job(record.job_id)
    assert job.provider == net.signer("provider2").address, "the cheaper worker claimed"
    assert 4 * NGX <= job.price < 5 * NGX and not job.auction, f"price locked near its floor: {job.price / NGX} NGX"
    assert m.claimable(consumer.address) == 10 * NGX - job.price, "the escrow above the locked price came back"
    rounds((pricey, cheap), lambda: pricey.journal.get(record.job_id).step is Step.SKIPPED)  # type: ignore[union-attr]


def test_a_second_worker_finishes_a_job_whose_first_provider_died(chain_snapshot: Net, tmp_path: Path) -> None:
    """The first worker claims and dies (no decline); at the prove deadline prove-job expires the claim, the
    job reopens, a second worker claims it and earns price + bounty; the consumer gets its output, no refund."""
    net, m = chain_snapshot, chain_snapshot.market
    first, second = net.signer("provider").address, net.signer("provider2").address
    stake = m.provider(first).staked
    dying = start_worker(net, tmp_path / "first", NGX_ZK_FAULT_CRASH_AT="claimed")
    consumer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ngx_zk",
            "prove-job",
            "mlp",
            "--input",
            str(MODELS / "mlp" / "input.json"),
            "--price",
            "10",
            "--prove-window",
            "60",
            "--claim-window",
            "120",
            "--account",
            "consumer",
            "--timeout",
            "240",
            "--poll",
            "0.2",
        ],
        env=net.env(tmp_path / "consumer"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert dying.wait(timeout=120) == 137, "the fault injection killed the first worker right after its claim"
        job = m.job(1)
        assert job.status is JobStatus.CLAIMED and job.provider == first
        collateral = job.collateral
        second_worker = start_worker(net, tmp_path / "second", "--account", "provider2", "--max-jobs", "1")
        deadline = time.monotonic() + 60
        while not m.logs(InputDelivered, m.deployment.block, job_id=1):  # the first provider got its input, then died
            assert time.monotonic() < deadline and consumer.poll() is None, "prove-job delivered nothing"
            time.sleep(0.2)
        net.travel(61)  # past the prove deadline: prove-job expires the claim and the job reopens
        out, err = consumer.communicate(timeout=240)
        assert consumer.returncode == 0, err
        assert "reopened for a second prover" in err
        assert second_worker.wait(timeout=60) == 0
    finally:
        for proc in (dying, consumer):
            if proc.poll() is None:
                proc.kill()
    job = m.job(1)
    assert job.status is JobStatus.SETTLED and job.provider == second
    bounty = collateral // 2 // 2
    pay = 10 * NGX - 10 * NGX * 250 // 10_000 - 10 * NGX * 100 // 10_000
    assert m.claimable(second) == pay + bounty, "the second prover earns the price and the bounty"
    assert m.provider(first).staked == stake - collateral // 2, "the first provider lost the slash"
    assert m.claimable(net.signer("consumer").address) == 0, "the consumer got its output, not a refund or a slash share"
    assert "settled" in out and "provider " + second in out


def test_a_worker_expires_an_overdue_claim_and_finishes_the_job_for_the_bounty(chain_snapshot: Net, tmp_path: Path) -> None:
    """Nobody watches the job (the consumer posted with --no-wait, the claimant is gone): a worker serving the
    model expires the overdue claim itself, claims the reopened job and earns price + bounty."""
    net, m = chain_snapshot, chain_snapshot.market
    consumer = net.signer("consumer")
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    record = post_job(
        _settings(net, tmp_path / "consumer"),
        m,
        consumer,
        net.circuit,
        data,
        price=10 * NGX,
        claim_window=300,
        prove_window=60,
        min_reputation=0,
    )
    m.claim(net.signer("provider"), record.job_id)  # and then nothing: a dead provider
    collateral = m.job(record.job_id).collateral
    hunter = Worker(_settings(net, tmp_path / "hunter"), m, net.signer("provider2"), [net.circuit], WorkerOptions(poll_s=0.05))
    try:
        rounds(
            (hunter,),
            lambda: hunter.journal.get(record.job_id) is not None and hunter.journal.get(record.job_id).step is Step.SKIPPED,
        )  # type: ignore[union-attr]
        assert hunter.monitor.overdue == {record.job_id: m.job(record.job_id).prove_deadline}, "it watches the other's claim"
        net.travel(61)
        rounds((hunter,), lambda: m.job(record.job_id).provider == hunter.signer.address)
        assert m.job(record.job_id).reopened
        deliver_input(m, consumer, record, m.job(record.job_id))  # the consumer comes back and hands over its input
        rounds((hunter,), lambda: m.job(record.job_id).status is JobStatus.SETTLED, timeout=120)
    finally:
        hunter.close()
    pay = 10 * NGX - 10 * NGX * 250 // 10_000 - 10 * NGX * 100 // 10_000
    assert m.claimable(hunter.signer.address) == pay + collateral // 4, "price share plus the bounty"


def test_a_contract_consumer_gets_its_callback_through_the_real_worker(chain_snapshot: Net, tmp_path: Path) -> None:
    """examples/loan_gate.py as written: a LoanGate posts the job, the borrower delivers the input, the market
    calls the gate back with the verified output, and the gate decides on it."""
    net, m = chain_snapshot, chain_snapshot.market
    worker = start_worker(net, tmp_path / "worker", "--max-jobs", "1")
    try:
        run = subprocess.run(
            [
                sys.executable,
                str(REPO / "examples" / "loan_gate.py"),
                "--model",
                "mlp",
                "--input",
                str(MODELS / "mlp" / "input.json"),
                "--threshold",
                "0",
                "--json",
                "--timeout",
                "180",
            ],
            env=net.env(tmp_path / "borrower"),
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    decision = json.loads(run.stdout)
    assert decision["callback_ok"], "the market called the gate back"
    scale = net.circuit.manifest.outputs[0].scale
    assert abs(decision["score"] - decision["outputs"][0] * 2**scale) <= 1, "the gate saw the verified output"
    assert decision["approved"] == (decision["score"] < 0) == decision["approved_on_chain"]
    job = m.job(decision["job_id"])
    assert job.status is JobStatus.SETTLED and job.consumer == decision["gate"] and job.callback_gas_limit == 200_000
    assert m.job_extras(decision["job_id"]).deliverer == decision["borrower"]


def test_job_deliver_refuses_a_stranger_and_a_wrong_input_before_sending_anything(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    consumer, borrower = net.signer("consumer"), net.signer("consumer2")
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    commitment, salted = ngx.commit(net.circuit.manifest, data, new_salt=True)
    terms = JobTerms(net.model_id, 10 * NGX, 10 * NGX, 300, 600, deliverer=borrower.address)
    job_id, _ = m.post_job_with_terms(consumer, terms, commitment.values)
    settings = _settings(net, tmp_path)
    with pytest.raises(NgxZkError, match="does not name"):
        adopt_as_deliverer(settings, m, net.signer("provider2"), net.circuit, job_id, salted)
    _, other = ngx.commit(net.circuit.manifest, data, new_salt=True)
    with pytest.raises(NgxZkError, match="does not open job"):
        adopt_as_deliverer(settings, m, borrower, net.circuit, job_id, other)
    path = tmp_path / "salted.json"
    path.write_text(json.dumps(other.to_json()))
    cli = ngx_zk(net, tmp_path, "job", "deliver", str(job_id), "--input", str(path), "--model", "mlp", "--account", "consumer2")
    assert cli.returncode == 1 and "does not open job" in cli.stderr and "Traceback" not in cli.stderr
    assert m.job(job_id).status is JobStatus.OPEN


def test_an_auction_on_an_idle_chain_is_claimed_when_wall_time_brings_it_to_the_floor(
    chain_snapshot: Net, two_workers: tuple[Worker, Worker]
) -> None:
    """A chain that mines only on demand (anvil) keeps its latest timestamp while nobody sends a
    transaction; the price still rises for the block that will include a claim. No block is mined here
    between the post and the claim (the demo's auction once waited forever at its start price)."""
    net, m = chain_snapshot, chain_snapshot.market
    pricey, cheap = two_workers
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    record = post_job(
        _settings(net, net.home / "consumer"), m, net.signer("consumer"), net.circuit, data,
        price=10 * NGX, claim_window=300, prove_window=120, min_reputation=0, min_price=2 * NGX, ramp=20,
    )  # fmt: skip
    posted_block = m.chain.block_number()
    rounds((pricey, cheap), lambda: m.job(record.job_id).status is JobStatus.CLAIMED, timeout=40)
    job = m.job(record.job_id)
    assert m.chain.block_number() == posted_block + 1, "the claim is the first block after the post"
    assert job.provider == net.signer("provider2").address and 4 * NGX <= job.price < 8 * NGX, job.price / NGX


def test_prove_job_auction_options_are_checked_before_any_escrow(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    inp = str(MODELS / "mlp" / "input.json")
    cases = {
        ("--min-price", "2", "--max-price", "10"): "needs all of --min-price, --max-price and --ramp",
        ("--min-price", "12", "--max-price", "10", "--ramp", "60"): "the price must rise",
        ("--price", "5", "--min-price", "2", "--max-price", "10", "--ramp", "60"): "not both",
        ("--min-price", "2", "--max-price", "10", "--ramp", "400"): "must end within the claim window",
    }
    for args, message in cases.items():
        cli = ngx_zk(net, tmp_path, "prove-job", "mlp", "--input", inp, "--account", "consumer", *args)
        assert cli.returncode == 2 and message in cli.stderr and "Traceback" not in cli.stderr, (args, cli.stderr)
    assert m.job_count() == 0


def test_the_explorer_folds_a_reopened_auction_job() -> None:
    """The explorer's job row follows a reopening (open again, no provider) and an auction's locked price."""
    from ngx_zk.explorer.indexer import fold_job

    def ev(name: str, t: int, **args: object) -> dict[str, object]:
        return {"name": name, "args": json.dumps(args), "time": t, "block_number": t}

    a, b = "0x" + "aa" * 20, "0x" + "bb" * 20
    events = [
        ev("JobPosted", 1, consumer="0x" + "cc" * 20, modelId=1, price=10, inputCommitments=[5]),
        ev("JobPriceLocked", 2, price=4, refund=6),
        ev("JobClaimed", 2, provider=a),
        ev("JobReopened", 3, missedBy=a, slashed=2, bounty=1, claimDeadline=9),
    ]
    row = fold_job(1, events)
    assert row is not None and (row["status"], row["outcome"], row["provider"], row["price"]) == ("Open", "reopened", None, "4")
    row = fold_job(1, [*events, ev("JobClaimed", 4, provider=b), ev("JobSettled", 5, provider=b, providerPay=4)])
    assert row is not None and (row["status"], row["provider"], row["price"]) == ("Settled", b, "4")


def test_a_classifier_market_is_resolved_by_a_verified_inference_through_the_cli(chain_snapshot: Net, tmp_path: Path) -> None:
    """The second example consumer end to end: bets on four outcomes, the resolver posts the job through the
    contract and hands over the input with `ngx-zk job deliver`, the real worker proves, the market's callback
    resolves to the argmax of the verified outputs, and the winner takes the pot."""
    net, m = chain_snapshot, chain_snapshot.market
    chain = m.chain
    alice, bob, resolver = net.signer("consumer"), net.signer("provider2"), net.signer("consumer2")
    outcomes = sum(spec.size for spec in net.circuit.manifest.outputs)
    terms = JobTerms(net.model_id, 10 * NGX, 10 * NGX, 300, 600, callback_gas_limit=300_000)
    now = chain.timestamp()
    address = chain.deploy(
        "ClassifierMarket",
        alice,
        m.market.address,
        m.token.address,
        resolver.address,
        terms.as_tuple(),
        outcomes,
        now + 30,
        now + 3600,
    )
    cm = chain.contract("ClassifierMarket", address)
    stakes = {alice: {k: (k + 1) * NGX for k in range(0, outcomes, 2)}, bob: {k: (k + 2) * NGX for k in range(1, outcomes, 2)}}
    for who, bets in stakes.items():
        chain.send(m.token.functions.approve(address, sum(bets.values())), who, what="approve the market")
        for outcome, amount in bets.items():
            chain.send(cm.functions.bet(outcome, amount), who, what="bet")
    pot = sum(sum(b.values()) for b in stakes.values())
    net.travel(31)  # betting closed

    salted = tmp_path / "salted.json"
    commit = ngx_zk(net, tmp_path, "commit", str(MODELS / "mlp" / "input.json"), "--model", "mlp", "--out", str(salted), "--json")
    assert commit.returncode == 0, commit.stderr
    commitments = [int(c, 16) for c in json.loads(commit.stdout)["commitments"]]
    chain.send(m.token.functions.approve(address, 10 * NGX), resolver, what="approve the job's price")
    receipt = chain.send(cm.functions.resolve(commitments), resolver, what="resolve")
    job_id = int(chain.events_in(receipt, cm, "ResolutionRequested")[0]["jobId"])

    worker = start_worker(net, tmp_path / "worker", "--max-jobs", "1")
    try:
        deliver = ngx_zk(
            net,
            tmp_path,
            "job",
            "deliver",
            str(job_id),
            "--input",
            str(salted),
            "--model",
            "mlp",
            "--account",
            "consumer2",
            "--json",
            "--timeout",
            "180",
            timeout=240,
        )
        assert deliver.returncode == 0, deliver.stderr
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    outputs = json.loads(deliver.stdout)["outputs"]
    winner = max(range(outcomes), key=lambda k: (outputs[k], -k))
    assert tuple(chain.call(cm.functions.result())) == (winner, True), "resolved by the callback to the verified argmax"
    backer = alice if winner in stakes[alice] else bob
    before = m.balance(backer.address)
    chain.send(cm.functions.claim(), backer, what="claim")
    assert m.balance(backer.address) - before == pot, "the only backer of the winner takes the whole pot"
