"""One job's lifecycle in the worker: a handler per journaled step, the same code after a crash as on the normal path.

::

    SEEN        eligible? (price, window vs. proving time, held jobs, consumer score, NRS, stake,
                model active, callback gas) -> claim -> CLAIMED        not eligible -> SKIPPED
                an auction below the floor that rises to it in time -> SEEN, looked at again then
                (a job reopened after its provider missed it comes back here: JobReopened)
    ORDER       (no record yet) a gasless order offered with its input: checked, filled (post + claim in
                one transaction) -> CLAIMED; refused -> journaled refusal (worker/orders.py)
    CLAIMING    (after a crash mid-claim, or mid-fill) the chain says whether the claim landed
    CLAIMED     input (offer, endpoint, or on chain) opens the commitment? -> PROVING
                invalid -> DECLINING (input invalid); none by the input deadline, or too late
                to prove -> DECLINING (input missing)
    PROVING     proof in a child process -> PROVED; the circuit cannot take the input ->
                DECLINING (input invalid); the proof failed -> DECLINING
    PROVED      dry run (the on-chain verifier) -> send -> DONE; a revert that cannot clear
                -> DECLINING; a bounded number of sends, never after the prove deadline
    SUBMITTING  (after a crash mid-submit) settled on chain -> DONE; still ours -> send again
    DECLINING   declineJob(reason) -> DECLINED

:meth:`Lifecycle.advance` contains every failure to the job it happened in: a chain outage is
retried on the next round, a revert is read back from the chain (:meth:`Lifecycle.after_revert`),
and anything else counts against the job until it is given back (declined) - the loop goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .. import crypto
from ..artifacts import Circuit
from ..chain.signer import Signer
from ..chain.types import DeclineReason, InputDelivered, Job, JobStatus, ModelStatus, commitments_hash
from ..errors import ChainError, ContractRevert, InputError, NgxZkError
from ..evm import calldata as read_calldata
from ..inputs import InputData
from .jobfiles import InputOpener, InputRejected, Served
from .journal import JobRecord, Journal, Step
from .market_view import MarketView
from .observe import Metrics
from .offers import OfferBook
from .policy import CLAIM_MARGIN_S, ClaimPolicy
from .provers import ProofRun, ProverLost

GONE = "no longer on chain: a reorg dropped its JobPosted event"
MAX_STEP_ERRORS = 3
"""Unexpected errors in a row after which a job is given back instead of retried."""
MAX_SUBMIT_SENDS = 3
"""Submission transactions per job; a submission that keeps reverting on chain is given up."""
RETRY_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits between dry runs of a submission that reverted for a reason that may clear (a pause)."""
MAY_CLEAR = {"EnforcedPause", "JobMarket__ModelPaused", "JobMarket__InputDeadlineNotReached"}
"""Reverts that time can clear: retried (dry runs cost nothing) until the prove deadline."""
HOPELESS = {
    "JobMarket__InvalidProof",
    "JobMarket__CommitmentMismatch",
    "JobMarket__InstanceCountMismatch",
    "JobMarket__InstanceOutOfField",
    "JobMarket__VerifierCodeChanged",
    "JobMarket__VerifierHasNoCode",
    "JobMarket__VkaDigestMismatch",
}
"""Reverts of a submission that no retry clears: the job is given back at once."""
AUCTION_RECHECK_S = 5.0
"""Longest wait before an auction below this worker's floor is looked at again (chain time may run ahead of
the wall clock: the price is re-read rather than trusted to rise on schedule)."""


class Provers(Protocol):
    def submit(self, circuit: Circuit, salted: InputData, out: Path) -> Future[ProofRun]: ...


class Mailbox(Protocol):
    def get(self, job_id: int, kind: str) -> bytes | None: ...
    def put(self, job_id: int, kind: str, data: bytes) -> None: ...
    def release_input(self, job_id: int) -> None: ...


@dataclass
class Stats:
    completed: int = 0
    declined: int = 0
    lost: int = 0
    claimed_ids: set[int] = field(default_factory=set)
    """Jobs this run claimed (a claim a reorg dropped and the worker made again counts once)."""
    resumed: int = 0
    """Jobs already in hand (claimed, unfinished) when this run started: they count towards ``max_jobs``."""

    @property
    def taken(self) -> int:
        """This run's jobs: those it claimed plus those it resumed (old finished jobs do not count)."""
        return len(self.claimed_ids) + self.resumed

    prove_seconds: list[float] = field(default_factory=list)


class Lifecycle:
    """Moves journaled jobs along; the worker's loop calls :meth:`advance` for each unfinished one."""

    def __init__(
        self,
        *,
        market: MarketView,
        signer: Signer,
        journal: Journal,
        served: Mapping[int, Served],
        opener: InputOpener,
        offers: OfferBook,
        provers: Provers,
        policy: ClaimPolicy,
        mailbox: Mailbox,
        wake: threading.Event,
        log: Callable[..., None],
        metrics: Metrics,
        crash_point: Callable[[str], None] = lambda _: None,
        calldata: Callable[[Path, int], tuple[bytes, list[int]]] = read_calldata,
        discard_mail: Callable[[int], None] = lambda _: None,
    ) -> None:
        self.market, self.signer, self.journal, self.served = market, signer, journal, served
        self.opener, self.offers, self.provers, self.policy, self.mailbox = opener, offers, provers, policy, mailbox
        self.wake = wake
        self.log, self.metrics, self.crash_point, self.calldata = log, metrics, crash_point, calldata
        self.discard_mail = discard_mail
        self.stats = Stats()
        self.inflight: dict[int, Future[ProofRun]] = {}
        self.max_jobs: int | None = None
        self.stopping = False
        self._submit_gas: dict[int, int] = {}
        self._retry_at: dict[int, tuple[float, int]] = {}  # job id -> (next dry run, attempts so far)
        self._block_seen: tuple[int, float] = (-1, 0.0)  # latest block timestamp, and when (monotonic) it was first seen

    # --- the entry point ---------------------------------------------------------------------------
    def advance(self, record: JobRecord) -> bool:
        """Take ``record``'s next step; True if something moved. Never raises for one job's trouble."""
        retry = self._retry_at.get(record.job_id)
        if retry is not None and time.monotonic() < retry[0]:
            return False
        try:
            if record.model_id not in self.served:
                return self._unserved(record)
            return HANDLERS[record.step](self, record)
        except ContractRevert as exc:
            self.after_revert(record, exc)
            return False
        except ChainError as exc:  # the node is down or slow: the next round retries
            self.log("job.error", level="warning", job_id=record.job_id, step=record.step.value, error=str(exc))
            return False
        except Exception as exc:
            self._contain(record, exc)
            return False

    @property
    def holding(self) -> int:
        """Jobs claimed by us (or being claimed) that still need work, and claims a reorg dropped (to make again)."""
        return sum(1 for r in self.journal.unfinished() if r.step.holding or r.job_id in self.stats.claimed_ids)

    @property
    def proofs(self) -> list[Future[ProofRun]]:
        return list(self.inflight.values())

    # --- SEEN: decide, claim -----------------------------------------------------------------------
    def claim(self, record: JobRecord) -> bool:
        if self.stopping or (
            self.max_jobs is not None and self.stats.taken >= self.max_jobs and record.job_id not in self.stats.claimed_ids
        ):
            return False
        job = self.job_as_seen(record)
        if job is None:
            return self._finish(record, Step.LOST, GONE)
        if not record.input_path:
            adopted = self.offers.adopt(record.job_id, record.model_id, job.consumer, record.commitments)
            if adopted is not None:
                path = self.opener.save_input(record.job_id, adopted.salted)
                record = self.journal.record(
                    record.job_id,
                    record.model_id,
                    Step.SEEN,
                    note="offered",
                    input_path=str(path),
                    reply_to=adopted.reply_to.hex(),
                    offered=True,
                )
                self.log("job.offered", job_id=record.job_id, proving_early=adopted.proof is not None)
        if job.status is JobStatus.CLAIMED and self.mine(job):  # an order this worker filled, its record lost in a crash
            self.journal.record(record.job_id, record.model_id, Step.CLAIMING, note="claimed by this worker (an order)")
            self.stats.claimed_ids.add(record.job_id)
            return True  # CLAIMING's handler finds the claim on chain
        wait_s = self.auction_wait(record, job)
        if wait_s:  # an auction below this worker's floor now, at it later: look again then
            self._retry_at[record.job_id] = (time.monotonic() + wait_s, 0)
            self.log(
                "job.waiting",
                job_id=record.job_id,
                price_now=self.market.price_at(record.job_id, int(self.now())),
                floor=self.policy.floor(record.model_id, self.served[record.model_id].circuit),
                wait_s=round(wait_s, 1),
            )
            return False
        self._retry_at.pop(record.job_id, None)
        reason = self.refusal(record, job)
        if reason:
            return self._finish(record, Step.SKIPPED, reason, log_as="job.skipped")
        self._prove_upload_early(record, job)
        self.journal.record(record.job_id, record.model_id, Step.CLAIMING)

        def sent(tx_hash: str) -> None:
            self.journal.record(record.job_id, record.model_id, Step.CLAIMING, claim_tx=tx_hash)

        receipt = self.market.claim(self.signer, record.job_id, on_sent=sent)
        claim_block = receipt.block_number
        record = self.journal.record(record.job_id, record.model_id, Step.CLAIMED, claim_block=claim_block)
        self.crash_point("claimed")
        self.stats.claimed_ids.add(record.job_id)
        self.metrics.inc("ngx_worker_claims_total")
        self.log("job.claimed", job_id=record.job_id, tx=receipt.tx)
        if record.input_path or self.mailbox.get(record.job_id, "input") is not None:  # offered or uploaded: go on now
            self.await_input(record, claimed=self.market.job(record.job_id))
        return True

    def refusal(self, record: JobRecord, job: Job) -> str | None:
        """Why this worker does not claim ``job`` (None: it does)."""
        if job.status is not JobStatus.OPEN:
            return f"job is {job.status.value}"
        now = self.now()
        price = self.market.price_at(record.job_id, int(now)) if job.auction else job.price
        if job.reopened and (self.market.job_extras(record.job_id).missed_by or "").lower() == self.signer.address.lower():
            return "this provider missed the job before it was reopened"
        return self.terms_refusal(
            model_id=record.model_id,
            consumer=job.consumer,
            price=price,
            prove_window=job.prove_window,
            claim_left=job.claim_deadline - now,
            min_reputation=job.min_reputation,
            callback_gas=job.callback_gas_limit,
        )

    def terms_refusal(
        self,
        *,
        model_id: int,
        consumer: str,
        price: int,
        prove_window: int,
        claim_left: float,
        min_reputation: int,
        callback_gas: int,
    ) -> str | None:
        """Why this worker would not take a job on these terms, posted or ordered (None: it would)."""
        if consumer.lower() == self.signer.address.lower():
            return "own job"
        reason = self.policy.refusal(
            model_id=model_id,
            circuit=self.served[model_id].circuit,
            price=price,
            prove_window=prove_window,
            claim_left=claim_left,
            held=self.holding,
            consumer_score=None,
            callback_gas=callback_gas,
        )
        if reason:
            return reason
        status = self.market.model(model_id).status  # fresh: a guardian may have paused it since start
        if status is not ModelStatus.ACTIVE:
            return f"model {model_id} is {status.value}"
        if self.policy.min_consumer_score:
            score = self.market.consumer_score(consumer)
            if score < self.policy.min_consumer_score:
                return f"consumer score {score} below this worker's minimum {self.policy.min_consumer_score}"
        nrs, _ = self.market.nrs(self.signer.address)
        if nrs < min_reputation:
            return f"NRS {nrs} below the job's minimum {min_reputation}"
        if self.market.free_stake(self.signer.address) < self.market.collateral_for(price, nrs):
            return "not enough free stake for the collateral"
        return None

    def auction_wait(self, record: JobRecord, job: Job) -> float:
        """Seconds until an open auction's rising price reaches this worker's floor; 0 when it is there already,
        or never gets there before the claim window closes (then :meth:`refusal` says why)."""
        if job.status is not JobStatus.OPEN or not job.auction:
            return 0.0
        floor = self.policy.floor(record.model_id, self.served[record.model_id].circuit)
        now = self.now()
        if floor > job.price or self.market.price_at(record.job_id, int(now)) >= floor:
            return 0.0
        reach = self.market.job_extras(record.job_id).reaches(floor, job.price)
        if reach is None or reach >= job.claim_deadline - CLAIM_MARGIN_S:
            return 0.0
        return float(min(AUCTION_RECHECK_S, max(1, reach - now)))

    def _prove_upload_early(self, record: JobRecord, job: Job) -> None:
        """The consumer uploaded this open job's input: start proving it now, if it opens the commitment
        and a prover is free (only after deciding to claim: a stranger's upload never costs a proof)."""
        payload = self.mailbox.get(record.job_id, "input")
        if payload is None or record.input_path or record.job_id in self.offers.early:
            return
        try:
            salted, _ = self.opener.open(
                payload, self.opener.context(record.job_id, record.model_id, "input"), record.model_id, record.commitments
            )
        except InputRejected:
            return  # the claimed job's usual path declines it
        if self.offers.prove_early(record.job_id, record.model_id, salted, [*self._running()]):
            self.log("job.offered", job_id=record.job_id, proving_early=True)

    # --- CLAIMING: did the claim land? ----------------------------------------------------------------
    def resume_claim(self, record: JobRecord) -> bool:
        job = self.job_as_seen(record)
        if job is None:
            return self._finish(record, Step.LOST, GONE)
        if job.status is JobStatus.CLAIMED and self.mine(job):
            self.journal.record(
                record.job_id,
                record.model_id,
                Step.CLAIMED,
                note="claim found on chain",
                claim_block=self.market.deployment.block,
            )
            return True
        if job.status is JobStatus.OPEN:
            self.journal.record(record.job_id, record.model_id, Step.SEEN, note="claim not on chain; retrying")
            return True
        return self._finish(record, Step.LOST, f"job is {job.status.value} (not ours)")

    # --- CLAIMED: wait for the input --------------------------------------------------------------------
    def await_input(self, record: JobRecord, claimed: Job | None = None) -> bool:
        job = claimed or self.still_ours(record)
        if job is None:
            fresh = self.journal.get(record.job_id)
            return fresh is not None and fresh.step is Step.SEEN  # a reorg dropped the claim: busy claiming again
        now = self.now()
        if record.input_path:  # offered before the post: opened and checked then
            return self._start_proof(record, job, via="offer")
        payload, via = self.mailbox.get(record.job_id, "input"), "endpoint"
        if payload is None:
            deliveries = self.market.logs(
                InputDelivered,
                record.claim_block or self.market.deployment.block,
                job_id=record.job_id,
                provider=self.signer.address,
            )
            if deliveries:
                payload, via = deliveries[-1].event.payload, "chain"
        if payload is None:
            if now >= job.input_deadline:
                return self._give_back(record, DeclineReason.INPUT_MISSING, "no input by the input deadline")
            return False
        try:
            salted, reply_to = self.opener.open(
                payload, self.opener.context(record.job_id, record.model_id, "input"), record.model_id, record.commitments
            )
        except InputRejected as exc:
            self.journal.refuse("input", exc.reason, sender=job.consumer, model_id=record.model_id, job_id=record.job_id)
            self.discard_mail(record.job_id)
            self.offers.forget(record.job_id)
            return self._give_back(record, DeclineReason.INPUT_INVALID, exc.reason)
        path = self.opener.save_input(record.job_id, salted)
        return self._start_proof(record, job, via=via, input_path=str(path), reply_to=reply_to.hex())

    def _start_proof(self, record: JobRecord, job: Job, via: str, **inputs: str) -> bool:
        served = self.served[record.model_id]
        if record.job_id not in self.offers.early and not self.policy.can_finish(
            record.model_id, served.circuit, self.now(), job.prove_deadline
        ):
            late = self.now() >= job.input_deadline and not job.input_on_chain
            return self._give_back(
                record,
                DeclineReason.INPUT_MISSING if late else DeclineReason.OTHER,
                "the input came too late to prove before the deadline",
            )
        record = self.journal.record(record.job_id, record.model_id, Step.PROVING, **inputs)
        self.crash_point("proving")
        self.log("job.input", job_id=record.job_id, via=via, commitment_ok=True)
        return self.prove(record)

    # --- PROVING ---------------------------------------------------------------------------------------
    def prove(self, record: JobRecord) -> bool:
        """Start the proof (or adopt the one started early); a finished one is journaled by :meth:`proved`."""
        running = self.inflight.get(record.job_id)
        if running is not None:
            if not running.done():
                return True
            return self.proved(record, self.inflight.pop(record.job_id))
        early = self.offers.early.pop(record.job_id, None)
        if early is None:
            salted = self.opener.load_input(record.job_id, record.model_id, record.input_path)
            early = self.provers.submit(self.served[record.model_id].circuit, salted, self.opener.proof_path(record.job_id))
            early.add_done_callback(lambda _: self.wake.set())
        self.inflight[record.job_id] = early
        return True

    def proved(self, record: JobRecord, run: Future[ProofRun]) -> bool:
        try:
            done = run.result()
        except InputError as exc:
            return self._give_back(record, DeclineReason.INPUT_INVALID, f"the circuit cannot take the input: {exc.message}")
        except ProverLost as exc:
            return self._prove_again(record, exc)
        except Exception as exc:  # EZKL or onnxruntime failed on our side: give the job back before it is slashed
            self.log("job.failed", level="error", job_id=record.job_id, error=str(exc)[:300])
            return self._give_back(record, DeclineReason.OTHER, f"proof failed: {type(exc).__name__}: {str(exc)[:200]}")
        reply_to = bytes.fromhex(record.reply_to)
        if len(reply_to) == 32 and self.served[record.model_id].circuit.manifest.visibility.output == "hashed":
            ctx = self.opener.context(record.job_id, record.model_id, "output")
            body = ('{"output_felts": [' + ", ".join(f'"{v}"' for v in done.proof.output_felts) + "]}").encode()
            self.mailbox.put(record.job_id, "output", crypto.seal(reply_to, body, ctx))  # public outputs are on chain
        self.policy.measured(record.model_id, done.proof.prove_seconds)
        self.stats.prove_seconds.append(done.proof.prove_seconds)
        self.metrics.inc("ngx_worker_prove_seconds_sum", done.proof.prove_seconds)
        self.metrics.inc("ngx_worker_prove_seconds_count")
        self.journal.record(
            record.job_id, record.model_id, Step.PROVED, proof_path=str(done.path), note=f"proved on node {done.node}"
        )
        self.crash_point("proved")
        self.log(
            "job.proved",
            job_id=record.job_id,
            prove_s=round(done.proof.prove_seconds, 3),
            inference_s=round(done.inference_s, 4),
            provider=done.runtime,
            output_drift=round(done.drift, 6),
            node=done.node,
        )
        fresh = self.journal.get(record.job_id)
        return self.submit(fresh) if fresh is not None else True

    def _prove_again(self, record: JobRecord, lost: ProverLost) -> bool:
        """The node running the proof went away: prove again (elsewhere) if the prove deadline still
        leaves time for a proof and its submission; otherwise give the job back before it is slashed."""
        job = self.still_ours(record)
        if job is None:
            return True
        if self.policy.can_finish(record.model_id, self.served[record.model_id].circuit, self.now(), job.prove_deadline):
            self.metrics.inc("ngx_worker_reproofs_total")
            self.log("job.reprove", level="warning", job_id=record.job_id, lost_node=lost.node)
            fresh = self.journal.record(
                record.job_id, record.model_id, Step.PROVING, note=f"prover lost (node {lost.node}): proving again"
            )
            return self.prove(fresh)
        return self._give_back(record, DeclineReason.OTHER, "the prover node was lost and too little time is left to prove again")

    # --- PROVED: submit --------------------------------------------------------------------------------
    def submit(self, record: JobRecord) -> bool:
        if record.submit_sends >= MAX_SUBMIT_SENDS:
            return self._give_back(record, DeclineReason.OTHER, f"{record.submit_sends} submissions failed on chain")
        m = self.served[record.model_id].circuit.manifest  # a polycommit input's commitment comes from the proof bytes
        proof, instances = self.calldata(Path(record.proof_path), m.commitment_points if m.polycommit else 0)
        fn = self.market.submit_fn(record.job_id, proof, instances)
        # the dry run checks everything the transaction will: the job is still ours and open to a
        # result, the instances carry its commitments, and the model's own verifier accepts the
        # proof. A revert here costs nothing; after_revert reads what happened.
        self.market.chain.call(fn, sender=self.signer.address)
        job = self.market.job(record.job_id)
        if job.callback_gas_limit:  # a contract consumer's callback: its gas is the job's own
            gas = self.market.chain.estimate_gas(fn, self.signer.address) * 5 // 4
        else:  # verification gas is the same for every proof of a circuit
            if record.model_id not in self._submit_gas:
                self._submit_gas[record.model_id] = self.market.chain.estimate_gas(fn, self.signer.address) * 5 // 4
            gas = self._submit_gas[record.model_id]
        self.journal.record(record.job_id, record.model_id, Step.SUBMITTING, submit_sends=record.submit_sends + 1)

        def sent(tx_hash: str) -> None:
            self.journal.record(record.job_id, record.model_id, Step.SUBMITTING, submit_tx=tx_hash)
            self.crash_point("submit-sent")

        receipt = self.market.submit(self.signer, record.job_id, proof, instances, on_sent=sent, gas=gas, dry_run=False)
        self._done(record, receipt.tx)
        return True

    def resume_submit(self, record: JobRecord) -> bool:
        """After a crash mid-submit: settled on chain means done; still claimed means send again."""
        job = self.market.job(record.job_id)
        if job.status is JobStatus.SETTLED and self.mine(job):
            self._done(record, record.submit_tx, note="settlement found on chain")
            return True
        if job.status is JobStatus.CLAIMED and self.mine(job):
            if (
                record.submit_tx
                and self.market.chain.receipt(record.submit_tx) is None
                and self.market.chain.transaction_known(record.submit_tx)
            ):
                return False  # still in the mempool: wait for it rather than send a second one
            if self.now() >= job.prove_deadline:
                return self._finish(record, Step.LOST, "prove deadline passed before the submission landed")
            fresh = self.journal.record(record.job_id, record.model_id, Step.PROVED, note="resubmitting")
            return self.submit(fresh)
        return self._finish(record, Step.LOST, f"job is {job.status.value}")

    # --- DECLINING ------------------------------------------------------------------------------------
    def decline(self, record: JobRecord) -> bool:
        job = self.market.job(record.job_id)
        if job.status is JobStatus.SETTLED and self.mine(job):
            self._done(record, "", note="already settled")
            return True
        if not (job.status is JobStatus.CLAIMED and self.mine(job)):
            return self._finish(record, Step.LOST, f"job is {job.status.value}")
        if self.now() >= job.prove_deadline:
            return self._finish(record, Step.LOST, "prove deadline passed before the decline")
        reason = DeclineReason(record.decline_reason or 0)
        self.market.decline(self.signer, record.job_id, reason)
        self.stats.declined += 1
        self.metrics.inc("ngx_worker_jobs_total", outcome="declined")
        self.log("job.declined", level="warning", job_id=record.job_id, reason=record.reason, decline=reason.name.lower())
        return self._finish(record, Step.DECLINED, record.reason)

    # --- reading the chain -------------------------------------------------------------------------------
    def after_revert(self, record: JobRecord, exc: ContractRevert) -> None:
        """A revert usually means the chain moved on (taken, expired, reorged): look, then record what happened,
        retry later (a revert that may clear), or give the job back (one that cannot clear before the deadline)."""
        job = self.job_as_seen(record)
        if job is None:
            self._finish(record, Step.LOST, GONE)
        elif job.status is JobStatus.SETTLED and self.mine(job):
            self._done(record, "", note="already settled")
        elif job.status is JobStatus.OPEN and record.step in (Step.SEEN, Step.CLAIMING):
            self._finish(record, Step.SKIPPED, f"claim refused: {exc.name}", log_as="job.skipped")
        elif job.status.final or not self.mine(job):
            self._finish(record, Step.LOST, f"{exc.name}: job is {job.status.value}")
        elif self.now() >= job.prove_deadline:
            self._finish(record, Step.LOST, f"{exc.name}: the prove deadline passed")
        elif record.step is Step.DECLINING and exc.name == "JobMarket__InputWasDelivered":
            self.journal.record(
                record.job_id,
                record.model_id,
                Step.DECLINING,
                decline_reason=int(DeclineReason.OTHER),
                note="input was delivered on chain: declining without the free reason",
            )
        elif exc.name in MAY_CLEAR:
            _, attempts = self._retry_at.get(record.job_id, (0.0, 0))
            wait = RETRY_BACKOFF_S[min(attempts, len(RETRY_BACKOFF_S) - 1)]
            self._retry_at[record.job_id] = (time.monotonic() + wait, attempts + 1)
            self.log("job.revert", level="warning", job_id=record.job_id, error=str(exc), retry_in_s=wait)
        elif exc.name in HOPELESS or record.step is Step.DECLINING:
            if record.step is Step.DECLINING:
                self._finish(record, Step.FAILED, f"decline refused: {exc.name}")
            else:
                self._give_back(record, DeclineReason.OTHER, f"submission cannot succeed: {exc.name}")
        else:
            self._contain(record, exc)

    def job_as_seen(self, record: JobRecord) -> Job | None:
        """The job on chain if it is still the one journaled; None when a reorg dropped its JobPosted
        (the id is gone, or a later post took it over)."""
        if record.job_id > self.market.job_count():
            return None
        job = self.market.job(record.job_id)
        if job.model_id != record.model_id or (
            record.commitments and job.commitments_hash != commitments_hash(record.commitments)
        ):
            return None
        return job

    def still_ours(self, record: JobRecord) -> Job | None:
        """The job if it is still claimed by us inside its prove window; journals what happened if not."""
        job = self.job_as_seen(record)
        if job is None:
            self._finish(record, Step.LOST, GONE)
            return None
        if job.status is JobStatus.OPEN:  # a claimed job never reopens, except when a reorg drops the claim
            self.journal.record(record.job_id, record.model_id, Step.SEEN, note="a reorg dropped our claim; claiming again")
            self.log("job.reorged", level="warning", job_id=record.job_id, reason="claim dropped")
            return None
        if not (job.status is JobStatus.CLAIMED and self.mine(job)):
            self._finish(record, Step.LOST, f"job is {job.status.value}")
            return None
        if self.now() >= job.prove_deadline:
            self._finish(record, Step.LOST, "the prove deadline passed")
            return None
        return job

    def mine(self, job: Job) -> bool:
        return job.provider is not None and job.provider.lower() == self.signer.address.lower()

    def now(self) -> float:
        """Chain time as the next block will see it, at least: the latest block's timestamp plus the wall
        time since this worker first saw that timestamp. Deadlines and auction prices are chain time, not
        the wall clock (a node's clock may lag or lead it, e.g. a devnet reverted to a snapshot or moved
        forward); but a chain that mines only on demand (anvil) keeps its latest timestamp while no
        transaction comes, and a rising auction price read at it would never reach this worker's floor."""
        latest = self.market.chain.timestamp()
        seen_ts, seen_at = self._block_seen
        if latest != seen_ts:
            self._block_seen = seen_ts, seen_at = latest, time.monotonic()
        return float(latest) + (time.monotonic() - seen_at)

    # --- endings ---------------------------------------------------------------------------------------
    def _running(self) -> list[Future[ProofRun]]:
        return [f for f in self.inflight.values() if not f.done()]

    def _give_back(self, record: JobRecord, reason: DeclineReason, why: str) -> bool:
        self.journal.record(record.job_id, record.model_id, Step.DECLINING, note=why, decline_reason=int(reason), reason=why)
        fresh = self.journal.get(record.job_id)
        return self.decline(fresh) if fresh is not None else True

    def _done(self, record: JobRecord, tx: str, note: str = "") -> None:
        self._finish(record, Step.DONE, note, submit_tx=tx)
        self.stats.completed += 1
        self.metrics.inc("ngx_worker_jobs_total", outcome="settled")
        self.log("job.settled", job_id=record.job_id, tx=tx)

    def _finish(self, record: JobRecord, step: Step, note: str, log_as: str = "", **fields: Any) -> bool:
        """Journal a final step and drop the job's private files, early proof and mail."""
        self.journal.record(record.job_id, record.model_id, step, note=note, **fields)
        self.opener.discard(record.job_id)
        self.offers.forget(record.job_id)
        self.inflight.pop(record.job_id, None)
        self._retry_at.pop(record.job_id, None)
        if step is Step.DONE:  # a settled private job's sealed output waits for its consumer; its input goes
            self.mailbox.release_input(record.job_id)
        else:
            self.discard_mail(record.job_id)
        if step is Step.LOST:
            self.stats.lost += 1
            self.metrics.inc("ngx_worker_jobs_total", outcome="lost")
            self.log("job.lost", level="warning", job_id=record.job_id, reason=note)
        elif log_as:
            self.log(log_as, job_id=record.job_id, reason=note)
        return False

    def _unserved(self, record: JobRecord) -> bool:
        """A journaled job of a model this run does not serve: finish what needs no circuit, release the rest."""
        if record.step is Step.SEEN:
            return self._finish(record, Step.SKIPPED, "model not served by this run", log_as="job.skipped")
        if record.step in (Step.CLAIMED, Step.PROVING):
            return self._give_back(record, DeclineReason.OTHER, "model no longer served by this worker")
        return HANDLERS[record.step](self, record)  # claiming, proved, submitting, declining: chain work only

    def _contain(self, record: JobRecord, exc: BaseException) -> None:
        """An unexpected error in one job's step: count it; give the job back (or drop it) after a few."""
        errors = record.errors + 1
        self.log(
            "job.error",
            level="error",
            job_id=record.job_id,
            step=record.step.value,
            error=f"{type(exc).__name__}: {str(exc)[:300]}",
            errors=errors,
        )
        try:
            if errors < MAX_STEP_ERRORS:
                self.journal.record(
                    record.job_id, record.model_id, record.step, note=f"error {errors}: {exc}"[:300], errors=errors
                )
            elif record.step is Step.SEEN:
                self._finish(record, Step.SKIPPED, f"gave up after {errors} errors: {exc}"[:300], log_as="job.skipped")
            elif record.step in (Step.CLAIMED, Step.PROVING, Step.PROVED, Step.SUBMITTING):
                self._give_back(record, DeclineReason.OTHER, f"gave up after {errors} errors: {exc}"[:300])
            else:
                self._finish(record, Step.FAILED, f"gave up after {errors} errors: {exc}"[:300])
        except NgxZkError as again:  # the decline itself failed: the next round starts over from the journal
            self.log("job.error", level="error", job_id=record.job_id, error=str(again)[:300])
        except Exception as again:
            self.log("job.error", level="error", job_id=record.job_id, error=f"{type(again).__name__}: {str(again)[:300]}")


HANDLERS: dict[Step, Callable[[Lifecycle, JobRecord], bool]] = {
    Step.SEEN: Lifecycle.claim,
    Step.CLAIMING: Lifecycle.resume_claim,
    Step.CLAIMED: Lifecycle.await_input,
    Step.PROVING: Lifecycle.prove,
    Step.PROVED: Lifecycle.submit,
    Step.SUBMITTING: Lifecycle.resume_submit,
    Step.DECLINING: Lifecycle.decline,
}
"""The step table: what the worker does for a job journaled at each unfinished step (after a crash too)."""
