"""A claimed job's work: wait for its input, prove it, submit the proof (the CLAIMED, PROVING, PROVED and
SUBMITTING steps of :mod:`ngx_zk.worker.lifecycle`), the same code after a crash as on the normal path.

An input comes from an offer (opened before the job was posted), the provider's endpoint, or the
chain (InputDelivered); it must open the job's commitment. One that does not is declined by the
evidence the chain checks (:func:`~ngx_zk.worker.policy.input_decline_reason`): junk delivered on chain
at once as InputInvalid; junk sent off chain (which no one else can check) is dropped and the consumer
may still deliver until the input deadline, after which the job is declined InputMissing (free). A proof
runs in a prover (a child process, or a Ray task) and a lost prover is replaced while the deadline
allows. A submission is dry-run first (the model's on-chain verifier), sent a bounded number of
times, and after a crash mid-submit the chain says whether it landed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from .. import crypto
from ..chain.types import DeclineReason, InputDelivered, Job, JobStatus
from ..errors import InputError
from .crew import Crew
from .endings import Endings
from .jobfiles import InputRejected
from .journal import JobRecord, Step
from .policy import input_decline_reason
from .provers import ProofRun, ProverLost

MAX_SUBMIT_SENDS = 3
"""Submission transactions per job; a submission that keeps reverting on chain is given up."""


class Proving:
    def __init__(self, crew: Crew, endings: Endings) -> None:
        self.crew, self.end = crew, endings
        self._submit_gas: dict[int, int] = {}  # model id -> gas of a submission without a callback
        self.settle: Callable[[JobRecord], bool] = self.submit
        """What a proved job goes on to: :meth:`submit` alone, or the settlement queue (worker/settling.py)."""

    def prove_upload_early(self, record: JobRecord) -> None:
        """The consumer uploaded this open job's input: start proving it now, if it opens the commitment
        and a prover is free (only after deciding to claim: a stranger's upload never costs a proof)."""
        c = self.crew
        payload = c.mailbox.get(record.job_id, "input")
        if payload is None or record.input_path or record.job_id in c.offers.early:
            return
        try:
            salted, _ = c.opener.open(
                payload, c.opener.context(record.job_id, record.model_id, "input"), record.model_id, record.commitments
            )
        except InputRejected:
            return  # the claimed job's usual path declines it
        if c.offers.prove_early(record.job_id, record.model_id, salted, [*c.running()]):
            c.log("job.offered", job_id=record.job_id, proving_early=True)

    # --- CLAIMED: wait for the input --------------------------------------------------------------------
    def await_input(self, record: JobRecord, claimed: Job | None = None) -> bool:
        c = self.crew
        job = claimed or self.end.ours(record)
        if job is None:
            fresh = c.journal.get(record.job_id)
            return fresh is not None and fresh.step is Step.SEEN  # a reorg dropped the claim: busy claiming again
        if record.input_path:  # offered before the post: opened and checked then
            return self._start_proof(record, job, via="offer")
        junk: str | None = None  # why the last input seen does not open the commitment
        payload = c.mailbox.get(record.job_id, "input")
        if payload is not None:
            opened = self._open(record, job, payload)
            if not isinstance(opened, str):
                return self._start_proof(record, job, via="endpoint", **opened)
            junk = opened  # off chain: dropped, the consumer may still deliver (evidence-free, see below)
        deliveries = c.market.logs(
            InputDelivered,
            record.claim_block or c.market.deployment.block,
            job_id=record.job_id,
            provider=c.signer.address,
        )
        if deliveries:
            opened = self._open(record, job, deliveries[-1].event.payload)
            if not isinstance(opened, str):
                return self._start_proof(record, job, via="chain", **opened)
            junk = opened
        # junk on chain: InputInvalid at once; junk off chain or nothing: wait for the input deadline, then InputMissing
        reason = input_decline_reason(on_chain=bool(deliveries), deadline_passed=c.standing.now() >= job.input_deadline)
        if reason is None:
            return payload is not None  # junk mail was dropped: that moved the job
        return self.end.give_back(record, reason, junk or "no input by the input deadline")

    def _open(self, record: JobRecord, job: Job, payload: bytes) -> dict[str, str] | str:
        """The job's input from ``payload`` saved (its path and reply key), or why it does not open the commitment
        (then journaled as a refusal and the mail dropped, so that a new upload may take its place)."""
        c = self.crew
        try:
            salted, reply_to = c.opener.open(
                payload, c.opener.context(record.job_id, record.model_id, "input"), record.model_id, record.commitments
            )
        except InputRejected as exc:
            c.journal.refuse("input", exc.reason, sender=job.consumer, model_id=record.model_id, job_id=record.job_id)
            c.discard_mail(record.job_id)
            c.offers.forget(record.job_id)
            return exc.reason
        return {"input_path": str(c.opener.save_input(record.job_id, salted)), "reply_to": reply_to.hex()}

    def _start_proof(self, record: JobRecord, job: Job, via: str, **inputs: str) -> bool:
        c = self.crew
        circuit = c.served[record.model_id].circuit
        if record.job_id not in c.offers.early and not c.policy.can_finish(
            record.model_id, circuit, c.standing.now(), job.prove_deadline
        ):
            late = c.standing.now() >= job.input_deadline and not job.input_on_chain
            return self.end.give_back(
                record,
                DeclineReason.INPUT_MISSING if late else DeclineReason.OTHER,
                "the input came too late to prove before the deadline",
            )
        record = c.journal.record(record.job_id, record.model_id, Step.PROVING, **inputs)
        c.crash_point("proving")
        c.log("job.input", job_id=record.job_id, via=via, commitment_ok=True)
        return self.prove(record)

    # --- PROVING ---------------------------------------------------------------------------------------
    def prove(self, record: JobRecord) -> bool:
        """Start the proof (or adopt the one started early); a finished one is journaled by :meth:`proved`."""
        c = self.crew
        running = c.inflight.get(record.job_id)
        if running is not None:
            if not running.done():
                return True
            return self.proved(record, c.inflight.pop(record.job_id))
        early = c.offers.early.pop(record.job_id, None)
        if early is None:
            salted = c.opener.load_input(record.job_id, record.model_id, record.input_path)
            early = c.provers.submit(c.served[record.model_id].circuit, salted, c.opener.proof_path(record.job_id))
            early.add_done_callback(lambda _: c.wake.set())
        c.inflight[record.job_id] = early
        return True

    def proved(self, record: JobRecord, run: Future[ProofRun]) -> bool:
        c = self.crew
        try:
            done = run.result()
        except InputError as exc:
            return self.end.give_back(record, DeclineReason.INPUT_INVALID, f"the circuit cannot take the input: {exc.message}")
        except ProverLost as exc:
            return self._prove_again(record, exc)
        except Exception as exc:  # EZKL or onnxruntime failed on our side: give the job back before it is slashed
            c.log("job.failed", level="error", job_id=record.job_id, error=str(exc)[:300])
            return self.end.give_back(record, DeclineReason.OTHER, f"proof failed: {type(exc).__name__}: {str(exc)[:200]}")
        reply_to = bytes.fromhex(record.reply_to)
        if len(reply_to) == 32 and c.served[record.model_id].circuit.manifest.visibility.output == "hashed":
            ctx = c.opener.context(record.job_id, record.model_id, "output")
            body = ('{"output_felts": [' + ", ".join(f'"{v}"' for v in done.proof.output_felts) + "]}").encode()
            c.mailbox.put(record.job_id, "output", crypto.seal(reply_to, body, ctx))  # public outputs are on chain
        c.policy.measured(record.model_id, done.proof.prove_seconds)
        c.stats.prove_seconds.append(done.proof.prove_seconds)
        c.metrics.inc("ngx_worker_prove_seconds_sum", done.proof.prove_seconds)
        c.metrics.inc("ngx_worker_prove_seconds_count")
        c.journal.record(
            record.job_id, record.model_id, Step.PROVED, proof_path=str(done.path), note=f"proved on node {done.node}"
        )
        c.crash_point("proved")
        c.log(
            "job.proved",
            job_id=record.job_id,
            prove_s=round(done.proof.prove_seconds, 3),
            inference_s=round(done.inference_s, 4),
            provider=done.runtime,
            output_drift=round(done.drift, 6),
            node=done.node,
        )
        fresh = c.journal.get(record.job_id)
        return self.settle(fresh) if fresh is not None else True

    def _prove_again(self, record: JobRecord, lost: ProverLost) -> bool:
        """The node running the proof went away: prove again (elsewhere) if the prove deadline still
        leaves time for a proof and its submission; otherwise give the job back before it is slashed."""
        c = self.crew
        job = self.end.ours(record)
        if job is None:
            return True
        if c.policy.can_finish(record.model_id, c.served[record.model_id].circuit, c.standing.now(), job.prove_deadline):
            c.metrics.inc("ngx_worker_reproofs_total")
            c.log("job.reprove", level="warning", job_id=record.job_id, lost_node=lost.node)
            fresh = c.journal.record(
                record.job_id, record.model_id, Step.PROVING, note=f"prover lost (node {lost.node}): proving again"
            )
            return self.prove(fresh)
        return self.end.give_back(
            record, DeclineReason.OTHER, "the prover node was lost and too little time is left to prove again"
        )

    # --- PROVED: submit --------------------------------------------------------------------------------
    def submit(self, record: JobRecord) -> bool:
        c = self.crew
        if record.submit_sends >= MAX_SUBMIT_SENDS:
            return self.end.give_back(record, DeclineReason.OTHER, f"{record.submit_sends} submissions failed on chain")
        m = c.served[record.model_id].circuit.manifest  # a polycommit input's commitment comes from the proof bytes
        proof, instances = c.calldata(Path(record.proof_path), m.commitment_points if m.polycommit else 0, m.param_slice)
        fn = c.market.submit_fn(record.job_id, proof, instances)
        # the dry run checks everything the transaction will: the job is still ours and open to a
        # result, the instances carry its commitments, and the model's own verifier accepts the
        # proof. A revert here costs nothing; Standing.after_revert reads what happened.
        c.market.chain.call(fn, sender=c.signer.address)
        job = c.market.job(record.job_id)
        if job.callback_gas_limit:  # a contract consumer's callback: its gas is the job's own
            gas = c.market.chain.estimate_gas(fn, c.signer.address) * 5 // 4
        else:  # verification gas is the same for every proof of a circuit
            if record.model_id not in self._submit_gas:
                self._submit_gas[record.model_id] = c.market.chain.estimate_gas(fn, c.signer.address) * 5 // 4
            gas = self._submit_gas[record.model_id]
            c.policy.submitted(record.model_id, gas, len(proof))  # the floor prices the model's next jobs with it
        c.journal.record(record.job_id, record.model_id, Step.SUBMITTING, submit_sends=record.submit_sends + 1)

        def sent(tx_hash: str) -> None:
            c.journal.record(record.job_id, record.model_id, Step.SUBMITTING, submit_tx=tx_hash)
            c.crash_point("submit-sent")

        receipt = c.market.submit(c.signer, record.job_id, proof, instances, on_sent=sent, gas=gas, dry_run=False)
        self.end.done(record, receipt.tx, block=receipt.block_number)
        return True

    # --- SUBMITTING: did the submission land? ----------------------------------------------------------
    def resume_submit(self, record: JobRecord) -> bool:
        """After a crash mid-submit: settled on chain means done; still claimed means send again."""
        c = self.crew
        job = c.market.job(record.job_id)
        if job.status is JobStatus.SETTLED and c.standing.mine(job):
            self.end.done(record, record.submit_tx, note="settlement found on chain")
            return True
        if job.status is JobStatus.CLAIMED and c.standing.mine(job):
            if (
                record.submit_tx
                and c.market.chain.receipt(record.submit_tx) is None
                and c.market.chain.transaction_known(record.submit_tx)
            ):
                return False  # still in the mempool: wait for it rather than send a second one
            if c.standing.now() >= job.prove_deadline:
                return self.end.finish(record, Step.LOST, "prove deadline passed before the submission landed")
            fresh = c.journal.record(record.job_id, record.model_id, Step.PROVED, note="resubmitting")
            return self.settle(fresh)
        return self.end.finish(record, Step.LOST, f"job is {job.status.value}")
