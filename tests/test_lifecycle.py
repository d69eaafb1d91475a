"""The worker's job lifecycle, step by step, in milliseconds: an in-memory journal and a fake chain.

The fake (``MarketFake``) is an in-memory stand-in for the contracts' job table, so that recovery
from every journaled step, the declines and the bounded retries can be driven deterministically;
the same lifecycle runs against the real contracts on anvil in test_marketplace.py and
test_chain_faults.py (kill-at-each-step).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ngx_zk.chain.tx import Mined
from ngx_zk.chain.types import (
    FLAG_AUCTION,
    DeclineReason,
    InputDelivered,
    Job,
    JobExtras,
    JobStatus,
    Logged,
    LogMeta,
    ModelStatus,
    commitments_hash,
)
from ngx_zk.errors import ContractRevert, InputError
from ngx_zk.inputs import InputData
from ngx_zk.worker.eligibility import AUCTION_RECHECK_S
from ngx_zk.worker.endings import MAX_STEP_ERRORS
from ngx_zk.worker.jobfiles import InputRejected
from ngx_zk.worker.journal import IllegalTransition, Journal, Step
from ngx_zk.worker.lifecycle import Lifecycle
from ngx_zk.worker.market_view import MarketView
from ngx_zk.worker.observe import Metrics
from ngx_zk.worker.offers import OfferBook
from ngx_zk.worker.policy import ClaimPolicy
from ngx_zk.worker.proving import MAX_SUBMIT_SENDS

from .paths import REPO

ME, CONSUMER = "0x" + "11" * 20, "0x" + "22" * 20
NGX = 10**18
COMMITMENTS = (12345,)


@dataclass
class ChainFake:
    """The few chain reads the lifecycle makes: time, receipts, a dry run that may revert."""

    now: float = field(default_factory=lambda: time.time() + 10_000)
    revert_dry_run: str | None = None
    known_txs: set[str] = field(default_factory=set)

    def timestamp(self) -> int:
        return int(self.now)

    def block_number(self) -> int:
        return 1

    def call(self, fn: Any, *, sender: str | None = None) -> None:
        if self.revert_dry_run:
            raise ContractRevert(self.revert_dry_run, {})

    def estimate_gas(self, fn: Any, sender: str) -> int:
        return 800_000

    def receipt(self, tx_hash: str) -> Mined | None:
        return None

    def transaction_known(self, tx_hash: str) -> bool:
        return tx_hash in self.known_txs


@dataclass(frozen=True)
class DeploymentFake:
    block: int = 0


class MarketFake:
    """FAKE: an in-memory job table with the JobMarket's rules that the lifecycle relies on (the shape of
    ``MarketView``, which mypy checks where the rig hands it to the lifecycle)."""

    def __init__(self) -> None:
        self.chain = ChainFake()
        self.deployment = DeploymentFake()
        self.jobs: dict[int, Job] = {}
        self.claims: list[int] = []
        self.submits: list[int] = []
        self.declines: list[tuple[int, DeclineReason]] = []
        self.deliveries: dict[int, bytes] = {}
        self.model_status = ModelStatus.ACTIVE
        self.score = 100
        self.scores: dict[str, int] = {}
        """Scores of particular addresses (a deliverer's); everyone else scores ``score``."""
        self.weight = 0
        """Every consumer's ``settled_weight_milli`` (0: fresh, no rewarded settled job yet)."""
        self.revert_send: str | None = None
        self.ramp: JobExtras | None = None
        """An auction's ramp (``post(auction=True)``): the price rises from ``min_price`` to the job's price."""

    def post(self, job_id: int = 1, price: int = 10 * NGX, prove_window: int = 300, auction: bool = False) -> Job:
        job = Job(
            job_id,
            CONSUMER,
            JobStatus.OPEN,
            None,
            price,
            0,
            1,
            int(self.chain.now) + 300,
            0,
            prove_window,
            0,
            0,
            commitments_hash(COMMITMENTS),
            flags=FLAG_AUCTION if auction else 0,
        )
        if auction:
            self.ramp = JobExtras(2 * NGX, int(self.chain.now), 100, None, None, 0)
        self.jobs[job_id] = job
        return job

    def _set(self, job_id: int, **changes: Any) -> None:
        self.jobs[job_id] = Job(**{**self.jobs[job_id].__dict__, **changes})

    def job_count(self) -> int:
        return max(self.jobs, default=0)

    def job(self, job_id: int) -> Job:
        return self.jobs[job_id]

    def model(self, model_id: int) -> Any:
        return SimpleNamespace(status=self.model_status)

    def job_extras(self, job_id: int) -> JobExtras:
        return self.ramp or JobExtras(self.jobs[job_id].price, 0, 0, None, None, 0)

    def price_at(self, job_id: int, timestamp: int) -> int:
        """The contract's ramp: linear from ``min_price`` at ``ramp_start`` to the job's price ``ramp_length`` later."""
        job, ramp = self.jobs[job_id], self.ramp
        if ramp is None or not job.auction:
            return job.price
        elapsed = min(max(0, timestamp - ramp.ramp_start), ramp.ramp_length)
        return ramp.min_price + (job.price - ramp.min_price) * elapsed // ramp.ramp_length

    def consumer_score(self, address: str) -> int:
        return self.scores.get(address, self.score)

    def consumer_facts(self, address: str) -> dict[str, int]:
        return {"settled_weight_milli": self.weight, "harm_milli": 0}

    def nrs(self, address: str) -> tuple[int, tuple[int, int, int, int]]:
        return 50, (50, 50, 0, 50)

    def free_stake(self, address: str) -> int:
        return 10_000 * NGX

    def collateral_for(self, price: int, nrs: int) -> int:
        return price

    def claim(self, signer: Any, job_id: int, on_sent: Any = None) -> Mined:
        assert self.jobs[job_id].status is JobStatus.OPEN, "claimed twice"
        self.claims.append(job_id)
        self._set(
            job_id, status=JobStatus.CLAIMED, provider=ME, prove_deadline=int(self.chain.now) + self.jobs[job_id].prove_window
        )
        return mined(f"0xclaim{job_id}")

    def logs(self, kind: type[Any], from_block: int, to_block: int | None = None, **filters: Any) -> list[Logged[Any]]:
        assert kind is InputDelivered, "the lifecycle reads only deliveries"
        job_id = filters["job_id"]
        if job_id not in self.deliveries:
            return []
        delivered = InputDelivered(job_id, CONSUMER, filters["provider"], self.deliveries[job_id])
        return [Logged(delivered, LogMeta(7, "0xdeliver", 0))]

    def submit_fn(self, job_id: int, proof: bytes, instances: Sequence[int]) -> Any:
        return ("submit", job_id)

    def submit(
        self,
        signer: Any,
        job_id: int,
        proof: bytes,
        instances: Sequence[int],
        on_sent: Any = None,
        gas: int | None = None,
        dry_run: bool = True,
    ) -> Mined:
        self.submits.append(job_id)
        if self.revert_send:
            raise ContractRevert(self.revert_send, {})
        assert self.jobs[job_id].status is JobStatus.CLAIMED, "submitted twice"
        self._set(job_id, status=JobStatus.SETTLED)
        return mined(f"0xsubmit{job_id}")

    def decline(self, signer: Any, job_id: int, reason: DeclineReason, on_sent: Any = None) -> Mined:
        job = self.jobs[job_id]
        assert job.status is JobStatus.CLAIMED and self.chain.now < job.prove_deadline
        if reason is DeclineReason.INPUT_MISSING and self.chain.now < job.input_deadline:
            raise ContractRevert("JobMarket__InputDeadlineNotReached", {})
        self.declines.append((job_id, reason))
        self._set(job_id, status=JobStatus.CANCELLED)
        return mined(f"0xdecline{job_id}")


def mined(tx: str) -> Mined:
    """A receipt as the fake market's writes return it (block 7, success)."""
    return Mined(tx, block_number=7, gas_used=21_000, status=1, contract_address=None, raw={})


class OpenerFake:
    """FAKE: opens the payload b"good" as a valid salted input; anything else is refused."""

    def __init__(self, served: dict[int, Any]) -> None:
        self.served, self.home = served, Path("/nonexistent")
        self.discarded: list[int] = []

    def context(self, job_id: int, model_id: int, direction: str) -> Any:
        return None

    def open(self, payload: bytes, ctx: Any, model_id: int, commitments: Any) -> tuple[InputData, bytes]:
        if payload != b"good":
            raise InputRejected("input does not open the job's commitment")
        return InputData(((0.5,),)), b""

    def save_input(self, job_id: int, salted: InputData) -> Path:
        return Path(f"/inputs/{job_id}.json")

    def load_input(self, job_id: int, model_id: int, path: str) -> InputData:
        return InputData(((0.5,),))

    def proof_path(self, job_id: int) -> Path:
        return Path(f"/proofs/{job_id}.json")

    def discard(self, job_id: int) -> None:
        self.discarded.append(job_id)


class ProversFake:
    """FAKE: a proof that finishes at once (or fails with ``fail``)."""

    def __init__(self) -> None:
        self.runs = 0
        self.fail: Exception | None = None

    def submit(self, circuit: Any, salted: InputData, out: Path) -> Future[Any]:
        self.runs += 1
        future: Future[Any] = Future()
        if self.fail is not None:
            future.set_exception(self.fail)
        else:
            proof = SimpleNamespace(prove_seconds=0.5, output_felts=(1,))
            future.set_result(SimpleNamespace(proof=proof, path=out, inference_s=0.01, drift=0.0, runtime="cpu", node="local"))
        return future


@pytest.fixture()
def rig() -> SimpleNamespace:
    market = MarketFake()
    view: MarketView = market  # the fake must keep the shape of what the lifecycle asks of the real market
    journal = Journal(":memory:")
    circuit = SimpleNamespace(
        manifest=SimpleNamespace(logrows=10, visibility=SimpleNamespace(output="public"), polycommit=False, param_slice=(0, 0))
    )
    served = {1: SimpleNamespace(circuit=circuit)}
    opener, provers = OpenerFake(served), ProversFake()
    mailbox: dict[tuple[int, str], bytes] = {}
    wake = threading.Event()

    def discard(job_id: int) -> None:
        mailbox.pop((job_id, "input"), None)

    offers = OfferBook(opener, provers, journal, concurrency=1, log=lambda *a, **k: None, wake=wake)  # type: ignore[arg-type]
    life = Lifecycle(
        market=view,
        signer=SimpleNamespace(address=ME),  # type: ignore[arg-type]
        journal=journal,
        served=served,  # type: ignore[arg-type]
        opener=opener,  # type: ignore[arg-type]
        offers=offers,
        provers=provers,
        policy=ClaimPolicy(),
        wake=wake,
        mailbox=SimpleNamespace(
            get=lambda j, k: mailbox.get((j, k)),
            put=lambda j, k, d: mailbox.__setitem__((j, k), d),
            release_input=lambda j: mailbox.pop((j, "input"), None),
        ),
        log=lambda *a, **k: None,
        metrics=Metrics(),
        calldata=lambda path, points, params: (b"proof", [COMMITMENTS[0], 7]),
        discard_mail=discard,
    )
    return SimpleNamespace(market=market, journal=journal, life=life, mailbox=mailbox, provers=provers, opener=opener)


def run(rig: SimpleNamespace, rounds: int = 10) -> Step:
    """The worker's loop, without the chain scan: advance every unfinished job ``rounds`` times."""
    for _ in range(rounds):
        for record in rig.journal.unfinished():
            rig.life.advance(record)
    record = rig.journal.get(1)
    assert record is not None
    step: Step = record.step
    return step


def seen(rig: SimpleNamespace, **job: Any) -> None:
    rig.market.post(**job)
    rig.journal.record(1, 1, Step.SEEN, commitments=COMMITMENTS, price=10 * NGX, seen_block=1)


def test_a_job_with_a_good_input_settles_with_one_claim_one_proof_one_submission(rig: SimpleNamespace) -> None:
    seen(rig)
    rig.mailbox[(1, "input")] = b"good"
    assert run(rig) is Step.DONE
    assert rig.market.claims == [1] and rig.market.submits == [1] and rig.provers.runs == 1
    assert [s for s, _, _ in rig.journal.history(1)] == ["seen", "claiming", "claimed", "proving", "proved", "submitting", "done"]
    assert (1, "input") not in rig.mailbox, "a settled job's input leaves the mailbox (and its consumer's quota) at once"


@pytest.mark.parametrize("step", [Step.CLAIMED, Step.PROVING, Step.PROVED, Step.SUBMITTING])
def test_recovery_from_each_step_is_the_normal_path_and_finishes_once(rig: SimpleNamespace, step: Step) -> None:
    """A restart finds the job journaled at ``step`` (the crash lost everything in memory) and finishes it exactly once."""
    seen(rig)
    rig.market.claim(None, 1)
    rig.market.claims.clear()
    rig.mailbox[(1, "input")] = b"good"
    fields: dict[str, Any] = {"claim_block": 7}
    if step in (Step.PROVING, Step.PROVED, Step.SUBMITTING):
        fields["input_path"] = "/inputs/1.json"
    if step in (Step.PROVED, Step.SUBMITTING):
        fields["proof_path"] = "/proofs/1.json"
    path = [Step.CLAIMING, Step.CLAIMED, Step.PROVING, Step.PROVED, Step.SUBMITTING]
    for s in path[: path.index(step) + 1]:
        rig.journal.record(1, 1, s, **fields)
    assert run(rig) is Step.DONE
    assert rig.market.claims == [] and rig.market.submits == [1], "no second claim, one submission"
    assert rig.provers.runs == (1 if step in (Step.CLAIMED, Step.PROVING) else 0), "a journaled proof is not proved again"


def test_a_claim_a_reorg_dropped_while_proving_is_claimed_again_and_settled_once(rig: SimpleNamespace) -> None:
    """The job is open again on chain when its proof is done (a reorg took the claim): the dry run reverts,
    the worker claims it again (not lost), proves and settles it once."""
    seen(rig)
    for s in (Step.CLAIMING, Step.CLAIMED, Step.PROVING, Step.PROVED):
        rig.journal.record(1, 1, s, claim_block=7, input_path="/inputs/1.json", proof_path="/proofs/1.json")

    def call(fn: Any, *, sender: str | None = None) -> None:  # the market's rule: only the claimer submits
        if rig.market.jobs[1].status is not JobStatus.CLAIMED:
            raise ContractRevert("JobMarket__InvalidStatus", {})

    rig.market.chain.call = call
    assert run(rig) is Step.DONE
    assert rig.market.claims == [1] and rig.market.submits == [1], "claimed again once, submitted once"
    history = [s for s, _, _ in rig.journal.history(1)]
    assert history[history.index("proved") + 1] == "seen" and "lost" not in history
    assert "a reorg dropped our claim; claiming again" in [n for _, _, n in rig.journal.history(1)]


def test_recovery_mid_claim_reads_the_chain(rig: SimpleNamespace) -> None:
    seen(rig)
    rig.journal.record(1, 1, Step.CLAIMING)
    rig.mailbox[(1, "input")] = b"good"
    assert run(rig) is Step.DONE and rig.market.claims == [1], "the claim had not landed: claimed again, once"


def test_recovery_after_the_submission_settled_on_chain_does_not_send_again(rig: SimpleNamespace) -> None:
    seen(rig)
    rig.market.claim(None, 1)
    rig.market._set(1, status=JobStatus.SETTLED)
    for s in (Step.CLAIMING, Step.CLAIMED, Step.PROVING, Step.PROVED, Step.SUBMITTING):
        rig.journal.record(1, 1, s)
    assert run(rig) is Step.DONE and rig.market.submits == []


def test_an_illegal_transition_raises() -> None:
    journal = Journal(":memory:")
    journal.record(1, 1, Step.SEEN)
    with pytest.raises(IllegalTransition, match="seen -> proved"):
        journal.record(1, 1, Step.PROVED)
    journal.record(1, 1, Step.SKIPPED)
    with pytest.raises(IllegalTransition):
        journal.record(1, 1, Step.DONE)


def test_junk_sent_off_chain_is_dropped_and_declined_input_missing_only_at_the_input_deadline(rig: SimpleNamespace) -> None:
    """Junk mail is no evidence anyone else can check: declining it InputInvalid at once would accuse the consumer
    (and spend one of the provider's free declines) on the provider's word, and leave the consumer no chance to
    deliver. It is dropped and refused in the journal; at the deadline the chain-checked InputMissing follows."""
    seen(rig)
    rig.mailbox[(1, "input")] = b"poison"
    assert run(rig) is Step.CLAIMED and rig.market.declines == [] and rig.provers.runs == 0
    assert (1, "input") not in rig.mailbox, "the junk mail is dropped: a new upload may take its place"
    assert [r.source for r in rig.journal.refusals()] == ["input"], "refused once, not once per round"
    rig.market.chain.now += 151  # past half the 300 s prove window
    assert run(rig) is Step.DECLINED and rig.market.declines == [(1, DeclineReason.INPUT_MISSING)]


def test_a_good_input_after_junk_mail_is_proved(rig: SimpleNamespace) -> None:
    seen(rig)
    rig.mailbox[(1, "input")] = b"poison"
    assert run(rig) is Step.CLAIMED
    rig.mailbox[(1, "input")] = b"good"
    assert run(rig) is Step.DONE and rig.market.declines == [] and rig.provers.runs == 1


def test_junk_delivered_on_chain_is_declined_input_invalid_at_once(rig: SimpleNamespace) -> None:
    seen(rig)
    rig.market.deliveries[1] = b"poison"
    assert run(rig) is Step.DECLINED and rig.market.declines == [(1, DeclineReason.INPUT_INVALID)] and rig.provers.runs == 0
    assert [r.source for r in rig.journal.refusals()] == ["input"]


def test_a_missing_input_is_declined_once_the_input_deadline_passed(rig: SimpleNamespace) -> None:
    seen(rig)
    assert run(rig) is Step.CLAIMED, "before the input deadline the worker waits"
    rig.market.chain.now += 151  # past half the 300 s prove window
    assert run(rig) is Step.DECLINED and rig.market.declines == [(1, DeclineReason.INPUT_MISSING)]


def test_a_proof_that_fails_gives_the_job_back_before_the_deadline(rig: SimpleNamespace) -> None:
    seen(rig)
    rig.mailbox[(1, "input")] = b"good"
    rig.provers.fail = RuntimeError("ezkl exploded")
    assert run(rig) is Step.DECLINED and rig.market.declines == [(1, DeclineReason.OTHER)]


def test_an_input_the_circuit_cannot_take_is_declined_as_invalid(rig: SimpleNamespace) -> None:
    seen(rig)
    rig.mailbox[(1, "input")] = b"good"
    rig.provers.fail = InputError("the circuit cannot evaluate this input")
    assert run(rig) is Step.DECLINED and rig.market.declines == [(1, DeclineReason.INPUT_INVALID)]


def test_a_submission_that_cannot_succeed_is_given_back_not_retried(rig: SimpleNamespace) -> None:
    seen(rig)
    rig.mailbox[(1, "input")] = b"good"
    rig.market.chain.revert_dry_run = "JobMarket__InvalidProof"
    assert run(rig) is Step.DECLINED and rig.market.submits == []


def test_submissions_reverting_on_chain_are_bounded(rig: SimpleNamespace) -> None:
    seen(rig)
    rig.mailbox[(1, "input")] = b"good"
    rig.market.revert_send = "SomethingOdd"
    run(rig, rounds=40)
    assert len(rig.market.submits) <= MAX_SUBMIT_SENDS
    assert rig.journal.get(1).step in (Step.DECLINED, Step.FAILED)


def test_a_paused_market_is_waited_out_with_backoff_but_never_past_the_deadline(rig: SimpleNamespace) -> None:
    seen(rig)
    rig.mailbox[(1, "input")] = b"good"
    rig.market.chain.revert_dry_run = "EnforcedPause"
    assert run(rig, rounds=30) is Step.PROVED and rig.market.submits == [] and rig.market.declines == []
    rig.market.chain.now += 400
    rig.life.crew.retry_at.clear()
    assert run(rig) is Step.LOST, "after the prove deadline nothing is sent"
    assert rig.market.submits == []


def test_an_unexpected_error_is_contained_to_its_job_and_given_back(
    rig: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen(rig)
    rig.mailbox[(1, "input")] = b"good"
    run(rig, rounds=1)
    rig.market.jobs[2] = rig.market.jobs[1]

    def broken(*_: Any) -> Any:
        raise ValueError("a bug")

    monkeypatch.setattr(rig.life.crew, "calldata", broken)
    rig.journal.record(1, 1, Step.PROVED, proof_path="/proofs/1.json")
    for _ in range(MAX_STEP_ERRORS + 1):
        for record in rig.journal.unfinished():
            rig.life.advance(record)  # never raises
    assert rig.market.declines == [(1, DeclineReason.OTHER)]


@pytest.mark.parametrize(
    ("policy", "job", "why"),
    [
        (ClaimPolicy(min_price=20 * NGX), {}, "below this worker's minimum"),
        (ClaimPolicy(), {"prove_window": 20}, "prove window 20s too short"),
        (ClaimPolicy(max_claimed=0), {}, "already holding"),
        (ClaimPolicy(min_consumer_score=90), {}, "consumer score 40"),
    ],
)
def test_jobs_outside_the_providers_terms_are_skipped(
    rig: SimpleNamespace, policy: ClaimPolicy, job: dict[str, Any], why: str
) -> None:
    rig.life.policy = policy
    rig.market.score = 40
    seen(rig, **job)
    assert run(rig) is Step.SKIPPED and rig.market.claims == []
    assert why in rig.journal.history(1)[-1][2]


def test_a_paused_model_is_not_claimed(rig: SimpleNamespace) -> None:
    rig.market.model_status = ModelStatus.PAUSED
    seen(rig)
    assert run(rig) is Step.SKIPPED and rig.market.claims == []


def test_journaled_jobs_of_models_no_longer_served_are_released(rig: SimpleNamespace) -> None:
    seen(rig)
    rig.market.claim(None, 1)
    rig.journal.record(1, 1, Step.CLAIMING)
    rig.journal.record(1, 1, Step.CLAIMED, claim_block=7)
    rig.life.crew.served = {}
    assert run(rig) is Step.DECLINED and rig.market.declines == [(1, DeclineReason.OTHER)]


def test_max_jobs_counts_this_runs_claims(rig: SimpleNamespace) -> None:
    rig.life.max_jobs = 1
    seen(rig)
    rig.mailbox[(1, "input")] = b"good"
    assert run(rig) is Step.DONE
    rig.market.post(job_id=2)
    rig.journal.record(2, 1, Step.SEEN, commitments=COMMITMENTS, seen_block=1)
    run(rig)
    assert rig.journal.get(2).step is Step.SEEN and rig.market.claims == [1]


def test_max_jobs_counts_jobs_resumed_in_hand_but_not_old_finished_ones(rig: SimpleNamespace) -> None:
    rig.life.max_jobs, rig.life.stats.resumed = 1, 1
    seen(rig)
    assert run(rig) is Step.SEEN and rig.market.claims == [], "the job in hand is this run's one job"
    rig.life.stats.resumed = 0
    assert run(rig) is Step.CLAIMED, "finished jobs of earlier runs do not count"


def test_the_lifecycle_runs_in_milliseconds(rig: SimpleNamespace) -> None:
    started = time.perf_counter()
    seen(rig)
    rig.mailbox[(1, "input")] = b"good"
    assert run(rig) is Step.DONE
    assert time.perf_counter() - started < 1.0


@pytest.mark.slow
def test_the_fake_market_keeps_the_shape_the_lifecycle_asks_of_the_real_one() -> None:
    """mypy checks ``MarketFake`` against ``MarketView`` (the package's own check holds ``Marketplace`` to it):
    a method the lifecycle starts to use, or a changed signature, fails here rather than in a fake gone stale."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", __file__], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout


def test_an_auction_below_the_floor_is_looked_at_again_and_claimed_once_it_rises_there(rig: SimpleNamespace) -> None:
    """Price 2 NGX rising to 10 over 100 s, floor 6: the price reaches the floor 50 s after the ramp starts
    (``JobExtras.reaches``); before then the worker waits, it never refuses; then it claims."""
    rig.life.policy = ClaimPolicy(min_price=6 * NGX)
    seen(rig, auction=True)
    assert run(rig) is Step.SEEN and rig.market.claims == []
    assert 0 < rig.life.crew.retry_at[1][0] - time.monotonic() <= AUCTION_RECHECK_S
    rig.market.chain.now += 50
    rig.life.crew.retry_at.clear()
    assert run(rig) is Step.CLAIMED and rig.market.claims == [1]
