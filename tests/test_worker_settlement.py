"""The worker's settlement queue, optimistic batches and challenge answers, step by step, in milliseconds.

The lifecycle runs against test_lifecycle.py's in-memory market (``MarketFake``) plus ``SettlementFake``, an
in-memory stand-in for the settlement module's batch and challenge tables with the rules the worker relies on
(all or nothing for a batch, the root, the challenge window, the committed proof hash). The same worker runs
against the real contracts on anvil in test_worker_settlement_chain.py.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ngx_zk.chain.abi import abi
from ngx_zk.chain.settlement_types import (
    SETTLEMENT_EVENTS,
    Batch,
    Challenge,
    ChallengeUpheld,
    JobChallenged,
    JobSubmitted,
    Result,
    job_words,
    keccak,
    proof_hash,
    root,
    words_of,
)
from ngx_zk.chain.tx import Mined
from ngx_zk.chain.types import (
    EVENTS,
    FLAG_NO_REWARD,
    FLAG_OPTIMISTIC,
    FLAG_REOPENED,
    DeclineReason,
    Job,
    JobStatus,
    Logged,
    LogMeta,
    snake,
)
from ngx_zk.dataplane.mailbox import Mailbox
from ngx_zk.dataplane.proofs import SERVE_AFTER_FINISH_S, ProofStore
from ngx_zk.dataplane.server import DataPlaneServer
from ngx_zk.errors import ContractRevert
from ngx_zk.worker.journal import IllegalTransition, JobRecord, Journal, Step
from ngx_zk.worker.lifecycle import Lifecycle
from ngx_zk.worker.market_view import MarketView, SettlementView
from ngx_zk.worker.observe import Metrics
from ngx_zk.worker.offers import OfferBook
from ngx_zk.worker.policy import ClaimPolicy
from ngx_zk.worker.settling import SETTLE_MARGIN_S, due

from .test_lifecycle import COMMITMENTS, ME, NGX, ChainFake, MarketFake, OpenerFake, ProversFake, mined

WINDOW = 600


class DryRunChainFake(ChainFake):
    """FAKE: the chain's dry runs (eth_call, gas estimates) of the fake calls below; a call naming a job in
    ``bad`` reverts with InvalidProof, as the market would for a job whose proof does not verify."""

    def __init__(self) -> None:
        super().__init__()
        self.bad: set[int] = set()
        self.dry_runs: list[tuple[str, tuple[int, ...]]] = []

    def _check(self, fn: Any) -> None:
        kind, ids = fn[0], fn[1] if isinstance(fn[1], tuple) else (fn[1],)
        self.dry_runs.append((kind, ids))
        if self.revert_dry_run:
            raise ContractRevert(self.revert_dry_run, {})
        if self.bad & set(ids):
            raise ContractRevert("JobMarket__InvalidProof", {})

    def call(self, fn: Any, *, sender: str | None = None) -> None:
        self._check(fn)

    def estimate_gas(self, fn: Any, sender: str) -> int:
        self._check(fn)
        return 100_000 * len(fn[1]) if isinstance(fn[1], tuple) else 800_000


class SettlementFake:
    """FAKE: the settlement module's batch and challenge tables, over ``MarketFake``'s jobs."""

    def __init__(self, market: MarketFake) -> None:
        self.market = market
        self.sent: list[tuple[str, tuple[int, ...]]] = []
        self.batches: dict[int, tuple[list[Result], int]] = {}
        self.of_job: dict[int, int] = {}
        self.answers: list[tuple[int, bytes]] = []
        self.upheld_jobs: set[int] = set()
        self.challenged_logs: list[int] = []
        """Jobs whose JobChallenged log the node serves (``challenge(..., logged=False)``: a node that lost it)."""
        self.scans: list[int] = []

    def _status(self, job_id: int, status: JobStatus) -> None:
        self.market._set(job_id, status=status)

    def settle_fn(self, job_ids: Sequence[int], proofs: Sequence[bytes], instances: Sequence[Sequence[int]]) -> Any:
        return ("settle", tuple(job_ids))

    def settle_many(self, signer: Any, job_ids: Sequence[int], proofs: Any, instances: Any, **_: Any) -> Mined:
        for j in job_ids:
            job = self.market.jobs[j]
            assert job.status is JobStatus.CLAIMED and not job.flags & FLAG_OPTIMISTIC, f"job {j} settled twice or optimistic"
        for j in job_ids:
            self._status(j, JobStatus.SETTLED)
        self.sent.append(("settle", tuple(job_ids)))
        return mined(f"0xsettle{len(self.sent)}")

    def submit_fn(self, results: Sequence[Result]) -> Any:
        return ("submitResults", tuple(r.job_id for r in results))

    def submit_results(self, signer: Any, results: Sequence[Result], **_: Any) -> tuple[int, Mined]:
        for r in results:
            job = self.market.jobs[r.job_id]
            assert job.status is JobStatus.CLAIMED and job.flags & FLAG_OPTIMISTIC, f"job {r.job_id} not open to a result"
        batch_id = len(self.batches) + 1
        self.batches[batch_id] = (list(results), int(self.market.chain.now) + WINDOW)
        for r in results:
            self.of_job[r.job_id] = batch_id
            self._status(r.job_id, JobStatus.SUBMITTED)
        self.sent.append(("submitResults", tuple(r.job_id for r in results)))
        return batch_id, mined(f"0xbatch{batch_id}")

    def answer_fn(self, job_id: int, proof: bytes, instances: Sequence[int]) -> Any:
        return ("answer", (job_id,))

    def answer(self, signer: Any, job_id: int, proof: bytes, instances: Sequence[int], **_: Any) -> Mined:
        assert self.market.jobs[job_id].status is JobStatus.CHALLENGED, "answered twice or never challenged"
        committed = next(r for r in self.batches[self.of_job[job_id]][0] if r.job_id == job_id)
        assert proof_hash(proof) == committed.proof_hash, "the answer's proof is not the committed one"
        self.answers.append((job_id, proof))
        self._status(job_id, JobStatus.SETTLED)
        return mined(f"0xanswer{job_id}")

    def finalize(self, signer: Any, batch_id: int, batch: Sequence[Result], on_sent: Any = None) -> Mined:
        results, deadline = self.batches[batch_id]
        if self.market.chain.now < deadline:
            raise ContractRevert("JobMarket__ChallengeWindowOpen", {"batchId": batch_id})
        assert [r.leaf() for r in batch] == [r.leaf() for r in results]
        for r in results:
            if self.market.jobs[r.job_id].status is JobStatus.SUBMITTED:
                self._status(r.job_id, JobStatus.SETTLED)
        self.sent.append(("finalize", (batch_id,)))
        return mined(f"0xfinal{batch_id}")

    def batch(self, batch_id: int) -> Batch:
        results, deadline = self.batches[batch_id]
        return Batch(keccak(b"".join(r.leaf() for r in results)), ME, deadline, len(results), len(results), WINDOW)

    def batch_results(self, batch_id: int, from_block: int | None = None) -> list[Result]:
        return list(self.batches[batch_id][0])

    def answer_deadline(self, job_id: int) -> int:
        return int(self.market.chain.now) + WINDOW

    def submitted(self, job_id: int, from_block: int | None = None) -> Logged[JobSubmitted] | None:
        if job_id not in self.of_job:
            return None
        batch_id = self.of_job[job_id]
        r = next(r for r in self.batches[batch_id][0] if r.job_id == job_id)
        return Logged(JobSubmitted(job_id, batch_id, ME, r.outputs, r.proof_hash), LogMeta(8, f"0xbatch{batch_id}", 0))

    def challenges_since(self, from_block: int) -> tuple[list[Logged[JobChallenged]], int]:
        self.scans.append(from_block)
        found = [
            Logged(
                JobChallenged(j, self.of_job[j], "0x" + "77" * 20, 10 * NGX, int(self.market.chain.now) + WINDOW),
                LogMeta(9, "0xc", 0),
            )
            for j in self.challenged_logs
        ]
        return found, 20

    def upheld(self, job_id: int, from_block: int | None = None) -> Logged[ChallengeUpheld] | None:
        if job_id not in self.upheld_jobs:
            return None
        return Logged(ChallengeUpheld(job_id, ME, "0x" + "77" * 20, 5 * NGX, 2 * NGX, 10 * NGX), LogMeta(9, "0xuphold", 0))

    # the other side of the market (a watchtower, time)
    def challenge(self, job_id: int, logged: bool = True) -> None:
        assert self.market.jobs[job_id].status is JobStatus.SUBMITTED
        self._status(job_id, JobStatus.CHALLENGED)
        if logged:
            self.challenged_logs.append(job_id)

    def uphold(self, job_id: int) -> None:
        self.upheld_jobs.add(job_id)
        self._status(job_id, JobStatus.EXPIRED)


def make_rig(
    tmp_path: Path, batch: int = 1, wait_s: float = 0.0, policy: ClaimPolicy | None = None, after: SimpleNamespace | None = None
) -> SimpleNamespace:
    """A lifecycle over the fakes; ``after``: a restart of that rig's worker (same chain and journal, nothing in memory)."""
    if after is None:
        market = MarketFake()
        market.chain = DryRunChainFake()
        settlement, journal = SettlementFake(market), Journal(":memory:")
    else:
        market, settlement, journal = after.market, after.settlement, after.journal
    view: MarketView = market
    settle_view: SettlementView = settlement  # type: ignore[assignment]  # the fake takes **_ for the keyword options
    manifest = SimpleNamespace(logrows=10, visibility=SimpleNamespace(output="public"), polycommit=False, param_slice=(0, 0))
    served = {1: SimpleNamespace(circuit=SimpleNamespace(manifest=manifest), entry=SimpleNamespace(output_count=1))}
    opener, provers = OpenerFake(served), ProversFake()
    mailbox: dict[tuple[int, str], bytes] = {}
    wake = threading.Event()
    offers = OfferBook(opener, provers, journal, concurrency=1, log=lambda *a, **k: None, wake=wake)  # type: ignore[arg-type]
    proofs = ProofStore(tmp_path / "served-proofs")

    def discard(job_id: int) -> None:
        mailbox.pop((job_id, "input"), None)

    def calldata(path: Path, points: int, params: tuple[int, int] = (0, 0)) -> tuple[bytes, list[int]]:
        return f"proof of {path.stem}".encode(), [COMMITMENTS[0], 7]

    life = Lifecycle(
        market=view,
        signer=SimpleNamespace(address=ME),  # type: ignore[arg-type]
        journal=journal,
        served=served,  # type: ignore[arg-type]
        opener=opener,  # type: ignore[arg-type]
        offers=offers,
        provers=provers,
        policy=policy or ClaimPolicy(max_fresh_jobs=100),
        wake=wake,
        mailbox=SimpleNamespace(
            get=lambda j, k: mailbox.get((j, k)),
            put=lambda j, k, d: mailbox.__setitem__((j, k), d),
            release_input=lambda j: mailbox.pop((j, "input"), None),
        ),
        log=lambda *a, **k: None,
        metrics=Metrics(),
        calldata=calldata,
        discard_mail=discard,
        settlement=settle_view,
        settle_batch=batch,
        settle_wait=wait_s,
        proofs=proofs,
    )
    return SimpleNamespace(
        market=market, chain=market.chain, settlement=settlement, journal=journal, life=life, mailbox=mailbox, proofs=proofs
    )


def post(rig: SimpleNamespace, *job_ids: int, optimistic: bool = False, prove_window: int = 300) -> None:
    for job_id in job_ids:
        job = rig.market.post(job_id=job_id, prove_window=prove_window)
        if optimistic:
            rig.market._set(job_id, flags=job.flags | FLAG_OPTIMISTIC)
        rig.journal.record(job_id, 1, Step.SEEN, commitments=COMMITMENTS, price=10 * NGX, seen_block=1)
        rig.mailbox[(job_id, "input")] = b"good"


def rounds(rig: SimpleNamespace, n: int = 6) -> None:
    """The worker's loop without the chain scan (and without the status reads' pacing)."""
    for _ in range(n):
        for record in rig.journal.unfinished():
            rig.life.challenges._next_look.clear()
            rig.life.advance(record)


def steps(rig: SimpleNamespace, *job_ids: int) -> list[Step]:
    return [rig.journal.get(j).step for j in job_ids]


def fetch(server: DataPlaneServer, endpoint: str, path: str) -> tuple[int, dict[str, Any]]:
    host, port = endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


# --- when is the queue sent? ---------------------------------------------------------------------------
def _queued(n: int, queued_at: float = 1000.0, prove_deadline: int = 10_000) -> list[JobRecord]:
    return [JobRecord(i, 1, Step.QUEUED, queued_at=queued_at, prove_deadline=prove_deadline) for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("queue", "wall_now", "chain_now", "stopping", "send"),
    [
        (_queued(0), 2000.0, 0.0, True, False),
        (_queued(3), 1001.0, 0.0, False, False),  # three of four, the oldest waited 1 s of 30
        (_queued(4), 1001.0, 0.0, False, True),  # the batch is full
        (_queued(3), 1030.0, 0.0, False, True),  # the oldest waited --settle-wait
        (_queued(3), 1001.0, 10_000 - SETTLE_MARGIN_S, False, True),  # a prove deadline is near
        (_queued(3), 1001.0, 10_000 - SETTLE_MARGIN_S - 1, False, False),
        (_queued(1), 1001.0, 0.0, True, True),  # a stopping worker sends what it has
    ],
)
def test_the_queue_is_sent_when_full_when_the_oldest_waited_when_a_deadline_nears_or_at_stop(
    queue: list[JobRecord], wall_now: float, chain_now: float, stopping: bool, send: bool
) -> None:
    assert due(queue, batch=4, wait_s=30, wall_now=wall_now, chain_now=chain_now, stopping=stopping) is send


def test_the_journal_takes_the_settlement_steps_and_refuses_skipping_them() -> None:
    journal = Journal(":memory:")
    for step in (Step.SEEN, Step.CLAIMING, Step.CLAIMED, Step.PROVING, Step.PROVED, Step.QUEUED, Step.SUBMITTING):
        journal.record(1, 1, step)
    journal.record(1, 1, Step.SUBMITTED, batch_id=3, challenge_deadline=99)
    with pytest.raises(IllegalTransition, match="submitted -> declining"):
        journal.record(1, 1, Step.DECLINING)  # a result on chain cannot be given back
    journal.record(1, 1, Step.ANSWERING)
    assert journal.record(1, 1, Step.DONE).batch_id == 3


# --- eager: many jobs per transaction -------------------------------------------------------------------
def test_settle_batch_one_keeps_todays_path(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    post(rig, 1)
    rounds(rig)
    assert steps(rig, 1) == [Step.DONE] and rig.market.submits == [1] and rig.settlement.sent == []
    assert [s for s, _, _ in rig.journal.history(1)] == ["seen", "claiming", "claimed", "proving", "proved", "submitting", "done"]


def test_four_eager_jobs_settle_in_one_transaction(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, batch=4, wait_s=3600)
    post(rig, 1, 2, 3)
    rounds(rig)
    assert steps(rig, 1, 2, 3) == [Step.QUEUED] * 3 and rig.settlement.sent == [], "three of four wait"
    post(rig, 4)
    rounds(rig)
    assert rig.settlement.sent == [("settle", (1, 2, 3, 4))] and rig.market.submits == []
    assert steps(rig, 1, 2, 3, 4) == [Step.DONE] * 4
    assert {rig.journal.get(j).submit_tx for j in (1, 2, 3, 4)} == {"0xsettle1"}, "one transaction for the four"


def test_a_job_whose_dry_run_reverts_alone_is_taken_out_and_the_rest_settle_together(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, batch=3, wait_s=3600)
    rig.chain.bad = {2}
    post(rig, 1, 2, 3)
    rounds(rig)
    assert rig.settlement.sent == [("settle", (1, 3))]
    assert steps(rig, 1, 2, 3) == [Step.DONE, Step.DECLINED, Step.DONE]
    assert rig.market.declines == [(2, DeclineReason.OTHER)], "an invalid proof is given back before it is slashed"


def test_a_queued_job_goes_out_before_its_prove_deadline_whatever_the_batch(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, batch=4, wait_s=3600)
    post(rig, 1, prove_window=300)
    rounds(rig)
    assert steps(rig, 1) == [Step.QUEUED]
    rig.chain.now += 300 - SETTLE_MARGIN_S
    rounds(rig)
    assert steps(rig, 1) == [Step.DONE] and rig.market.submits == [1], "alone, by today's path"


# --- optimistic ---------------------------------------------------------------------------------------
def test_optimistic_jobs_are_submitted_in_one_batch_served_and_finalized_after_the_window(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, batch=4, wait_s=3600)
    post(rig, 1, 2, 3, 4, optimistic=True)
    rounds(rig)
    assert rig.settlement.sent == [("submitResults", (1, 2, 3, 4))]
    assert steps(rig, 1, 2, 3, 4) == [Step.SUBMITTED] * 4 and rig.journal.get(3).batch_id == 1
    kept = rig.proofs.get(3)
    assert (
        kept is not None
        and bytes.fromhex(kept["proof"][2:]) == b"proof of 3"
        and kept["instances"]
        == [
            f"0x{COMMITMENTS[0]:064x}",
            f"0x{7:064x}",
        ]
    )
    assert proof_hash(b"proof of 3") == rig.settlement.batches[1][0][2].proof_hash, "the served proof is the committed one"
    assert rig.life.holding == 4 and rig.life.working == 0, "waiting out the window uses no capacity"

    rounds(rig)
    assert rig.settlement.sent[1:] == [] and steps(rig, 1) == [Step.SUBMITTED], "no finalization inside the window"
    rig.chain.now += WINDOW
    rounds(rig)
    assert rig.settlement.sent[1:] == [("finalize", (1,))], "one finalization for the batch"
    assert steps(rig, 1, 2, 3, 4) == [Step.DONE] * 4
    assert rig.proofs.get(3) is not None, "still served for a day after finalization"


def test_a_challenge_is_answered_with_the_committed_proof(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, batch=2, wait_s=3600)
    post(rig, 1, 2, optimistic=True)
    rounds(rig)
    rig.settlement.challenge(2)
    rounds(rig)
    assert rig.settlement.answers == [(2, b"proof of 2")] and steps(rig, 1, 2) == [Step.SUBMITTED, Step.DONE]
    assert "answering" in [s for s, _, _ in rig.journal.history(2)], "journaled before the answer was sent"
    rig.chain.now += WINDOW
    rounds(rig)
    assert steps(rig, 1) == [Step.DONE] and rig.settlement.sent[-1] == ("finalize", (1,))


@pytest.mark.parametrize("at", [Step.SUBMITTING, Step.SUBMITTED, Step.ANSWERING])
def test_a_restart_answers_a_challenge_from_the_journal(tmp_path: Path, at: Step) -> None:
    """The worker died at ``at`` (the batch had landed; the job was then challenged): a new worker with an empty
    memory and the same journal answers the challenge once, with the proof it committed."""
    rig = make_rig(tmp_path, batch=1)
    post(rig, 1, optimistic=True)
    rounds(rig)
    assert steps(rig, 1) == [Step.SUBMITTED]
    record = rig.journal.get(1)
    rig.journal._db.execute("DELETE FROM jobs")  # the crash: only the steps the worker had journaled remain
    for step in (Step.SEEN, Step.CLAIMING, Step.CLAIMED, Step.PROVING, Step.PROVED, Step.QUEUED, Step.SUBMITTING):
        rig.journal.record(1, 1, step, proof_path=record.proof_path, optimistic=True, claim_block=7)
    if at is not Step.SUBMITTING:
        rig.journal.record(1, 1, Step.SUBMITTED, batch_id=1, challenge_deadline=record.challenge_deadline)
    if at is Step.ANSWERING:
        rig.journal.record(1, 1, Step.ANSWERING)
    rig.settlement.challenge(1)
    rig = make_rig(tmp_path, after=rig)
    rounds(rig)
    assert rig.settlement.answers == [(1, b"proof of 1")] and steps(rig, 1) == [Step.DONE]
    assert rig.settlement.sent == [("submitResults", (1,))], "the result was not submitted again"


def test_results_that_did_not_land_before_a_crash_are_queued_again(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, batch=1)
    post(rig, 1, optimistic=True)
    rig.market.claim(None, 1)
    for step in (Step.CLAIMING, Step.CLAIMED, Step.PROVING, Step.PROVED, Step.QUEUED):
        rig.journal.record(1, 1, step, proof_path="/proofs/1.json", optimistic=True)
    rig.journal.record(1, 1, Step.SUBMITTING, submit_tx="0xlost")
    rounds(rig)
    assert rig.settlement.sent == [("submitResults", (1,))] and steps(rig, 1) == [Step.SUBMITTED]


def test_an_upheld_challenge_is_journaled_lost_with_the_reason_and_its_proof_no_longer_served(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    post(rig, 1, optimistic=True)
    rounds(rig)
    rig.chain.revert_dry_run = "JobMarket__AnswerWindowClosed"  # the answer can no longer land
    rig.settlement.challenge(1)
    rounds(rig, 2)
    assert steps(rig, 1) == [Step.ANSWERING] and rig.settlement.answers == []
    rig.settlement.uphold(1)
    rig.life.crew.retry_at.clear()
    rounds(rig)
    assert steps(rig, 1) == [Step.LOST]
    assert "upheld" in rig.journal.history(1)[-1][2] and rig.proofs.get(1) is None


def test_a_submitted_job_leaves_room_for_the_next_claim(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=ClaimPolicy(max_claimed=1, max_fresh_jobs=100))
    post(rig, 1, optimistic=True)
    rounds(rig)
    post(rig, 2)
    rounds(rig)
    assert steps(rig, 1, 2) == [Step.SUBMITTED, Step.DONE], "--max-claimed counts jobs that use the prover"


def test_errors_while_a_result_is_on_chain_never_give_the_job_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig = make_rig(tmp_path)
    post(rig, 1, optimistic=True)
    rounds(rig)

    def broken(_: int) -> Any:
        raise ValueError("node returned junk")

    monkeypatch.setattr(rig.market, "job", broken)
    rounds(rig, 8)
    assert steps(rig, 1) == [Step.SUBMITTED] and rig.journal.get(1).errors >= 8
    monkeypatch.undo()
    rig.settlement.challenge(1)
    rounds(rig)
    assert steps(rig, 1) == [Step.DONE] and len(rig.settlement.answers) == 1


def test_a_batch_a_reorg_dropped_is_submitted_again(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    post(rig, 1, optimistic=True)
    rounds(rig)
    rig.market._set(1, status=JobStatus.CLAIMED)  # the block with the batch was reorged away
    rounds(rig)
    assert rig.settlement.sent == [("submitResults", (1,)), ("submitResults", (1,))] and steps(rig, 1) == [Step.SUBMITTED]
    assert rig.journal.get(1).batch_id == 2


def test_a_challenge_of_a_model_no_longer_served_is_answered_from_the_kept_proof(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    post(rig, 1, optimistic=True)
    rounds(rig)
    rig.life.crew.served = {}
    rig.settlement.challenge(1)
    rounds(rig)
    assert rig.settlement.answers == [(1, b"proof of 1")] and steps(rig, 1) == [Step.DONE]


def test_a_challenge_is_seen_in_the_logs_at_once_and_by_the_status_reads_when_a_node_lost_the_log(tmp_path: Path) -> None:
    """The worker reads the JobChallenged logs every round it may (SCAN_S) and each waiting job's status only every
    LOOK_S: a challenge in the logs is answered at once; one the node's logs lack, at the next status read."""
    rig = make_rig(tmp_path)
    post(rig, 1, 2, optimistic=True)
    rounds(rig)
    watch = rig.life.challenges

    def loop() -> None:
        watch._scanned_at = 0.0  # a second went by: the logs may be read again
        for record in rig.journal.unfinished():
            rig.life.advance(record)

    loop()
    rig.settlement.challenge(1)
    rig.settlement.challenge(2, logged=False)
    loop()
    assert steps(rig, 1, 2) == [Step.DONE, Step.SUBMITTED], "the logged challenge at once; the other waits its status read"
    assert rig.settlement.scans and min(rig.settlement.scans) == 7, "scanned from the claim's block (a restart too)"
    watch._next_look[2] = 0.0  # LOOK_S went by
    loop()
    assert steps(rig, 2) == [Step.DONE] and [j for j, _ in rig.settlement.answers] == [1, 2]


# --- the proof endpoint -------------------------------------------------------------------------------
def test_the_proof_store_serves_until_a_day_after_the_job_finished(tmp_path: Path) -> None:
    clock = [1_000.0]
    store = ProofStore(tmp_path, clock=lambda: clock[0])
    assert store.get(5) is None
    store.keep(5, b"\x01\x02", [3, 2**255])
    assert store.get(5) == {"job_id": 5, "proof": "0x0102", "instances": [f"0x{3:064x}", f"0x{2**255:064x}"]}
    store.finished(5)
    clock[0] += SERVE_AFTER_FINISH_S - 1
    assert store.get(5) is not None
    clock[0] += 1
    assert store.get(5) is None and not (tmp_path / "5.json").exists()
    (tmp_path / "6.json").write_text("not json")
    assert store.get(6) is None, "a damaged file is no proof"


def test_the_endpoint_serves_a_kept_proof_and_404s_with_json_otherwise(tmp_path: Path) -> None:
    store = ProofStore(tmp_path / "proofs")
    store.keep(9, b"proof bytes", [1, 2])
    server = DataPlaneServer(
        Mailbox(tmp_path / "mailbox"),
        chain_id=31337,
        market="0x" + "11" * 20,
        provider=ME,
        job_facts=lambda _: None,  # type: ignore[arg-type,return-value]
        log=lambda *a, **k: None,
        proofs=store.get,
    )
    endpoint = server.serve("127.0.0.1", 0)
    try:
        status, body = fetch(server, endpoint, "/v1/proofs/9")
        assert (
            status == 200 and body == store.get(9) and proof_hash(bytes.fromhex(body["proof"][2:])) == proof_hash(b"proof bytes")
        )
        status, body = fetch(server, endpoint, "/v1/proofs/10")
        assert status == 404 and "no proof of job 10" in body["error"]
        assert fetch(server, endpoint, "/v1/proofs/x")[0] == 404
    finally:
        server.close()


def test_the_settlement_steps_run_in_milliseconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    test_optimistic_jobs_are_submitted_in_one_batch_served_and_finalized_after_the_window(tmp_path)
    assert time.perf_counter() - started < 2.0


# --- the records mirror the contract's structs ----------------------------------------------------------
def _components(function: str, io: str) -> list[str]:
    entry = next(e for e in abi("JobMarket") if e.get("type") == "function" and e["name"] == function)
    return [snake(c["name"]) for c in entry[io][0]["components"]]


def test_the_settlement_records_mirror_the_contracts_structs_field_by_field() -> None:
    """``Result.as_tuple`` is sent by position and ``Batch``/``Challenge`` are read by name: same names, same order."""
    assert [f.name for f in fields(Result) if f.name != "words"] == _components("submitResults", "inputs")
    assert [f.name for f in fields(Batch)] == _components("batchOf", "outputs")
    assert [f.name for f in fields(Challenge)] == _components("challengeOf", "outputs")
    assert {k.__name__ for k in SETTLEMENT_EVENTS} <= {k.__name__ for k in EVENTS}, "decoded like every other event"


def test_leaf_and_root_are_the_contracts_hashes() -> None:
    from eth_abi.abi import encode
    from eth_utils.crypto import keccak

    r = Result(7, (1, 2**254), proof_hash(b"proof"))
    expected = keccak(
        encode(["uint256", "bytes32", "bytes32"], [7, keccak(encode(["uint256[2]"], [[1, 2**254]])), keccak(b"proof")])
    )
    assert r.leaf() == expected
    with pytest.raises(ValueError, match="job words are not attached"):
        root([r])
    w = r.with_words((5, 3, 2**255))
    entry = keccak(encode(["bytes32", "uint256", "uint256", "uint256"], [expected, 5, 3, 2**255]))
    assert root([w, w]) == keccak(entry + entry) and words_of([w, w]) == [5, 3, 2**255, 5, 3, 2**255]
    assert w == r, "the words are not part of a result's identity"
    assert Result.of(7, b"proof", [11, 12, 1, 2**254], output_count=2) == r


def test_job_words_pack_the_jobs_slots_as_the_market_stores_them() -> None:
    """IJobSettlement's state, claim and terms words, from getJob's fields (the forge test
    test_JobWordsArePackedFromGetJob pins the same packing against the market's storage); a settlement's
    FLAG_NO_REWARD is left out, so a batch whose answered job was settled as a replay still finalizes."""
    provider = "0x" + "ab" * 20
    job = Job(
        job_id=9, consumer="0x" + "01" * 20, status=JobStatus.SETTLED, provider=provider, price=10**20,
        collateral=15 * 10**19, model_id=3, claim_deadline=100, prove_deadline=2_000, prove_window=1_800,
        min_reputation=0, rating=0, commitments_hash=b"\0" * 32,
        flags=FLAG_OPTIMISTIC | FLAG_REOPENED | FLAG_NO_REWARD, callback_gas_limit=50_000,
    )  # fmt: skip
    state, claim, terms = job_words(job)
    assert state == int("01" * 20, 16) | 100 << 160 | 1_800 << 200
    assert claim == int(provider, 16) | 2_000 << 160 | (FLAG_OPTIMISTIC | FLAG_REOPENED) << 200 | 50_000 << 208
    assert terms == 10**20 | 15 * 10**19 << 96 | 3 << 192
