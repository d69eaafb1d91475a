"""The provider's worker daemon, shaped like rq's: ``Worker(...).work(burst=False, max_jobs=None)``.

Each loop: read new chain events, then move every journaled job one step along::

    JobPosted for a served model -> eligible? -> claim -> wait for InputDelivered -> decrypt ->
    input opens the job's commitment? (no: decline, no slash) -> onnxruntime inference ->
    EZKL witness + proof -> eth_call dry-run (the on-chain verifier) -> submit -> settled

A consumer may offer a job to this worker before posting it (``prove-job --provider``): the
endpoint gets the sealed input, keyed by its commitment, and the worker starts proving at once. When
the consumer's JobPosted with that commitment arrives, the worker claims it with the proof already
running, so the post and the claim overlap the proof. The proof is only used, and journaled, once
the claim landed; a lost race, or a job never posted (``OFFER_TTL_S``), discards it. An input
uploaded for a job still open is proved early the same way. The loop sleeps ``poll_s`` between
rounds but wakes at once when a block lands (a newHeads subscription, when the node has a
WebSocket), an offer or input arrives, or a proof finishes.

Every step is journaled before it acts (see :mod:`ngx_zk.worker.journal`), and on start the journal
is reconciled with the chain. The first SIGTERM/SIGINT stops claiming and finishes the jobs in
hand (warm shutdown); a second one stops at once (cold), leaving the journal to resume from.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from .. import crypto, keys, srs
from ..artifacts import Circuit
from ..chain.heads import NewHeads, ws_url_for
from ..chain.market import Job, JobStatus, Marketplace, ModelEntry
from ..chain.signer import Signer
from ..commitment import commit
from ..config import Settings
from ..dataplane import MAX_PENDING_OFFERS, DataPlaneServer, JobFacts, Mailbox, Offer
from ..errors import ChainError, ContractRevert, InputError, NgxZkError
from ..evm import calldata
from ..files import write_private
from ..inputs import InputData, parse
from ..publish import resolve_model
from .journal import Journal, Step
from .observe import Metrics, null_log
from .provers import ProofRun, ProverPool

Log = Callable[..., None]
OUTPUT_LINGER_S = 60
"""How long a stopping worker keeps serving private outputs that their consumers have not fetched."""
CLAIM_MARGIN_S = 5
"""Do not claim a job whose claim window closes sooner than this (the claim could land too late)."""
REORG_WINDOW_BLOCKS = 5
"""Each poll re-reads this many blocks below the event cursor: a reorg may re-include events there."""
GONE = "no longer on chain: a reorg dropped its JobPosted event"
OFFER_TTL_S = 120
"""An offered input whose job is not posted within this long is dropped (with its proof)."""


@dataclass
class Served:
    """A model this worker proves: the local circuit, its matching registry entry, warm resources."""

    circuit: Circuit
    entry: ModelEntry
    srs_path: Path
    pk_path: Path


@dataclass
class Offered:
    """An offered input, proving (or proved, or waiting for a free prover) before its job is on chain."""

    consumer: str
    model_id: int
    salted: InputData
    reply_to: bytes
    received: float
    proof: Future[ProofRun] | None = None


@dataclass
class Stats:
    completed: int = 0
    declined: int = 0
    lost: int = 0
    prove_seconds: list[float] = field(default_factory=list)


class Worker:
    reorg_window = REORG_WINDOW_BLOCKS

    def __init__(
        self, settings: Settings, market: Marketplace, signer: Signer, circuits: list[Circuit], *,
        journal: Journal | None = None, concurrency: int = 1, poll_s: float = 0.5, log: Log = null_log,
        metrics: Metrics | None = None, listen: tuple[str, int] | None = None, offers: bool = True,
    ) -> None:
        if not circuits:
            raise NgxZkError("the worker serves no models", "pass --model NAME (a built and published circuit)")
        self.settings, self.market, self.signer = settings, market, signer
        self.log, self.metrics = log, metrics or Metrics()
        self.poll_s = poll_s
        self.concurrency = max(1, concurrency)
        self.home = settings.state_dir / "worker" / f"{market.chain.chain_id}-{signer.address.lower()}"
        self.journal = journal or Journal(self.home / "journal.sqlite")
        self.enc_key = crypto.derive_key(signer.encryption_key_material())
        self.served: dict[int, Served] = {}
        for circuit in circuits:
            served = self._load(circuit)
            self.served[served.entry.model_id] = served
        self.stats = Stats()
        self._stop_requests = 0
        self._inflight: dict[int, Future[None]] = {}
        self._early: dict[int, Future[ProofRun]] = {}  # offered jobs proving while we claim them
        self._offers: queue.SimpleQueue[Offer] = queue.SimpleQueue()  # taken by the endpoint, not yet opened
        self._offered: dict[int, Offered] = {}  # input commitment -> offer proving before its job is posted
        self._wake = threading.Event()
        self._heads = NewHeads(ws_url_for(market.chain.url, settings.ws_url), self._wake.set)  # scan as blocks land
        self._provers = ProverPool(self.concurrency, [s.circuit for s in self.served.values()], settings)
        self._lock = threading.Lock()
        self.mailbox = Mailbox(self.home / "mailbox")
        self._submit_gas: dict[int, int] = {}
        self.dataplane: DataPlaneServer | None = None
        self.endpoint: str | None = None
        if listen is not None:
            self.dataplane = DataPlaneServer(self.mailbox, chain_id=market.chain.chain_id, market=market.market.address,
                                             provider=signer.address, job_facts=self._job_facts, log=log,
                                             on_input=lambda _: self._wake.set(), on_offer=self._take_offer if offers else None)
            self.endpoint = self.dataplane.serve(*listen)
            log("dataplane.serving", endpoint=self.endpoint)

    def _job_facts(self, job_id: int) -> JobFacts:
        job = self.market.job(job_id)
        return JobFacts(job.consumer, job.provider, job.status.value)

    # --- setup ---------------------------------------------------------------------------------
    def _load(self, circuit: Circuit) -> Served:
        """Check a circuit against its registry entry and warm it: SRS and proving key (onnxruntime: in the provers)."""
        circuit.check()
        entry = resolve_model(self.settings, self.market, circuit)
        srs_path = srs.locate(self.settings, circuit.manifest.srs)
        pk = keys.proving_key(self.settings, circuit, srs_path)
        self.log("model.ready", model=circuit.name, model_id=entry.model_id, logrows=circuit.manifest.logrows)
        return Served(circuit, entry, srs_path, pk)

    # --- the loop ------------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop_requests += 1
        self.log("worker.stop", mode="warm" if self._stop_requests == 1 else "cold")

    @property
    def stopping(self) -> bool:
        return self._stop_requests > 0

    def work(self, burst: bool = False, max_jobs: int | None = None) -> bool:
        """Run until stopped (or, with ``burst``, until nothing is left to do). True if any job finished."""
        self._provers.wait_ready()
        self.log("worker.start", address=self.signer.address, models=[s.circuit.name for s in self.served.values()],
                 burst=burst, concurrency=self.concurrency, threads_per_proof=self._provers.threads_per_proof,
                 new_heads=self._heads.available)
        try:
            with self._signals():
                self._reconcile()
                while self._stop_requests < 2:
                    self._open_offers()
                    self._scan()
                    busy = self._advance(max_jobs)
                    done = self.stats.completed + self.stats.declined
                    if max_jobs is not None and done >= max_jobs and not self._inflight:
                        break
                    if self.stopping and not self._inflight and not self._holding():
                        break
                    if burst and not busy and not self._inflight and not self._holding():
                        break
                    self._wake.wait(self.poll_s)
                    self._wake.clear()
            self._linger_for_outputs()
        finally:
            if self._stop_requests >= 2:
                self._provers.close(wait=False)  # cold: stop the proofs now; the journal resumes them
            self.log("worker.exit", completed=self.stats.completed, declined=self.stats.declined, lost=self.stats.lost)
        return self.stats.completed > 0

    def _linger_for_outputs(self) -> None:
        """Before exiting, keep the endpoint up until consumers fetched the private outputs of our jobs."""
        if self.dataplane is None:
            return
        done = [e.job_id for e in self.journal.all() if e.step is Step.DONE]
        deadline = time.monotonic() + OUTPUT_LINGER_S
        while self.mailbox.unfetched_outputs(done) and time.monotonic() < deadline and self._stop_requests < 2:
            time.sleep(self.poll_s)

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handler = lambda *_: self.request_stop()  # noqa: E731
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def _holding(self) -> bool:
        """Jobs claimed by us that still need work (warm shutdown finishes these)."""
        return any(e.step not in (Step.SEEN,) for e in self.journal.unfinished())

    # --- offers --------------------------------------------------------------------------------
    def _take_offer(self, offer: Offer) -> bool:
        """The endpoint's callback (its thread): queue an offer for the loop, if we can take it."""
        if self.stopping or offer.model_id not in self.served or len(self._offered) + self._offers.qsize() >= MAX_PENDING_OFFERS:
            return False
        self._offers.put(offer)
        self._wake.set()
        return True

    def _open_offers(self) -> None:
        """Open new offers (keeping those whose input opens the commitment), start proving them while a
        prover is free (claimed jobs come first: an offer never queues ahead of one), and drop offers
        whose job never came."""
        while not self._offers.empty():
            offer = self._offers.get()
            if offer.commitment in self._offered:
                continue
            ctx = crypto.JobContext(self.market.chain.chain_id, self.market.market.address, 0, offer.model_id, "offer")
            opened = self._open_sealed(payload=offer.payload, ctx=ctx, model_id=offer.model_id, commitments=[offer.commitment])
            if isinstance(opened, str):
                self.log("offer.refused", level="warning", model_id=offer.model_id, reason=opened)
                continue
            self._offered[offer.commitment] = Offered(offer.consumer, offer.model_id, opened[0], opened[1], offer.received)
        for commitment, offered in list(self._offered.items()):
            if time.time() - offered.received > OFFER_TTL_S:
                del self._offered[commitment]
                self.log("offer.expired", model_id=offered.model_id, consumer=offered.consumer)
            elif offered.proof is None and self._proofs_running() < self.concurrency:
                circuit = self.served[offered.model_id].circuit
                offered.proof = self._provers.submit(circuit, offered.salted, self.home / "proofs" / f"offer-{commitment:064x}.json")
                offered.proof.add_done_callback(lambda _: self._wake.set())
                self.log("offer.proving", model_id=offered.model_id, consumer=offered.consumer)

    def _proofs_running(self) -> int:
        running = list(self._inflight.values()) + list(self._early.values())
        running += [o.proof for o in self._offered.values() if o.proof is not None]
        return sum(1 for f in running if not f.done())

    def _adopt_offer(self, job_id: int, model_id: int, data: dict[str, Any], job: Job) -> None:
        """A posted job matches an offer (same model, commitment and consumer): its input and running proof become the job's."""
        commitments = [int(c) for c in data["commitments"]]
        offered = self._offered.get(commitments[0]) if len(commitments) == 1 else None
        if offered is None or offered.model_id != model_id or offered.consumer.lower() != job.consumer.lower():
            return
        del self._offered[commitments[0]]
        input_path = self._private_file(f"inputs/{job_id}.json", json.dumps(offered.salted.to_json()).encode())
        data.update(input_path=str(input_path), reply_to=offered.reply_to.hex())
        self.journal.record(job_id, model_id, Step.SEEN, note="offered", input_path=data["input_path"], reply_to=data["reply_to"])
        if offered.proof is not None:
            self._early[job_id] = offered.proof
        self.log("job.offered", job_id=job_id, proving_early=offered.proof is not None)

    # --- events --------------------------------------------------------------------------------
    def _scan(self) -> None:
        """Journal new JobPosted events of served models, re-reading the last ``reorg_window`` blocks
        (the journal dedups by job id); journal as lost the unclaimed jobs a reorg dropped. A node
        outage is logged and retried on the next poll."""
        try:
            head = self.market.chain.block_number()
            cursor = self.journal.cursor("posted", self.market.deployment.block)
            start = max(self.market.deployment.block, cursor - self.reorg_window)
            events = self.market.events("JobPosted", start, head) if start <= head else []
            for event in events:
                model_id, job_id = int(event["modelId"]), int(event["jobId"])
                commitments = [int(c) for c in event["inputCommitments"]]
                known = self.journal.get(job_id)
                if model_id not in self.served or (known is not None and not (
                        known.step.final and known.data.get("commitments") != commitments)):
                    continue  # a finished entry with other commitments: a reorg gave its id to a new job
                self.journal.record(job_id, model_id, Step.SEEN, commitments=commitments, price=int(event["price"]),
                                    seen_block=int(event["blockNumber"]))
                self.log("job.seen", job_id=job_id, model_id=model_id, price=int(event["price"]))
            self.journal.set_cursor("posted", head + 1)
            self.metrics.set("ngx_worker_last_block", head)
            for entry in self.journal.unfinished():
                if entry.step is Step.SEEN and int(entry.data.get("seen_block", -1)) >= head - self.reorg_window \
                        and self._job_as_seen(entry.job_id, entry.model_id, entry.data) is None:
                    self._lose(entry.job_id, entry.model_id, GONE)
        except ChainError as exc:
            self.log("chain.error", level="warning", error=str(exc))

    def _job_as_seen(self, job_id: int, model_id: int, data: dict[str, Any]) -> Job | None:
        """The job on chain if it is still the one journaled; None when a reorg dropped its JobPosted
        (the id is gone, or a later post took it over)."""
        if job_id > self.market.job_count():
            return None
        job = self.market.job(job_id)
        commitments = data.get("commitments")
        if job.model_id != model_id or (commitments is not None and
                                        job.commitments_hash != keccak(b"".join(int(c).to_bytes(32, "big") for c in commitments))):
            return None
        return job

    # --- one step per job ----------------------------------------------------------------------
    def _advance(self, max_jobs: int | None) -> bool:
        busy = False
        for entry in self.journal.unfinished():
            if entry.job_id in self._inflight:
                busy = True
                if not self._inflight[entry.job_id].done():
                    continue
                self._inflight.pop(entry.job_id).result()
                fresh = self.journal.get(entry.job_id)  # proved (or failed) just now: take its next step this round
                if fresh is None or fresh.step.final:
                    continue
                entry = fresh
            try:
                busy |= self._step(entry.job_id, entry.model_id, entry.step, entry.data, max_jobs)
            except ContractRevert as exc:
                self._settle_after_revert(entry.job_id, entry.model_id, exc)
            except (ChainError, NgxZkError) as exc:
                self.log("job.error", level="warning", job_id=entry.job_id, step=entry.step.value, error=str(exc))
        self.metrics.set("ngx_worker_inflight", len(self._inflight))
        return busy

    def _step(self, job_id: int, model_id: int, step: Step, data: dict[str, Any], max_jobs: int | None) -> bool:
        if step is Step.SEEN:
            if self.stopping or (max_jobs is not None and self._claimed_count() >= max_jobs):
                return False
            return self._try_claim(job_id, model_id, data)
        if step is Step.CLAIMING:
            return self._resume_claim(job_id, model_id)
        if step is Step.CLAIMED:
            return self._await_input(job_id, model_id, data)
        if step is Step.PROVING:
            self._start_proving(job_id, model_id, data)
            return True
        if step is Step.PROVED:
            return self._submit(job_id, model_id, data)
        if step is Step.SUBMITTING:
            return self._resume_submit(job_id, model_id, data)
        if step is Step.DECLINING:
            return self._decline(job_id, model_id, data.get("reason", "resumed"))
        return False

    def _claimed_count(self) -> int:
        return sum(1 for e in self.journal.all() if e.step not in (Step.SEEN, Step.SKIPPED, Step.LOST))

    def _try_claim(self, job_id: int, model_id: int, data: dict[str, Any]) -> bool:
        self._prove_offered(job_id, model_id, data)
        job = self.market.job(job_id)
        self._adopt_offer(job_id, model_id, data, job)
        now = self.market.chain.timestamp()
        reason = None
        if job.status is not JobStatus.OPEN:
            reason = f"job is {job.status.value}"
        elif job.claim_deadline - now < CLAIM_MARGIN_S:
            reason = "claim window closing"
        elif job.consumer.lower() == self.signer.address.lower():
            reason = "own job"
        else:
            nrs, _ = self.market.nrs(self.signer.address)
            if nrs < job.min_reputation:
                reason = f"NRS {nrs} below the job's minimum {job.min_reputation}"
            elif self.market.free_stake(self.signer.address) < self.market.collateral_for(job.price, nrs):
                reason = "not enough free stake for the collateral"
            elif self.served[model_id].entry.status != "Active":
                reason = "model not active"
        if reason:
            self._forget(job_id)
            self.journal.record(job_id, model_id, Step.SKIPPED, note=reason)
            self.log("job.skipped", job_id=job_id, reason=reason)
            return False
        self.journal.record(job_id, model_id, Step.CLAIMING)
        receipt = self.market.claim(self.signer, job_id, on_sent=lambda h: self.journal.record(job_id, model_id, Step.CLAIMING, claim_tx=h))
        claim_block = int(receipt["blockNumber"])
        self.journal.record(job_id, model_id, Step.CLAIMED, claim_block=claim_block)
        self.crash_point("claimed")
        self.metrics.inc("ngx_worker_claims_total")
        self.log("job.claimed", job_id=job_id, tx=receipt["tx"])
        if "input_path" in data or self.mailbox.get(job_id, "input") is not None:  # offered or uploaded: go on now
            self._await_input(job_id, model_id, {**data, "claim_block": claim_block}, just_claimed=True)
        return True

    def _prove_offered(self, job_id: int, model_id: int, data: dict[str, Any]) -> None:
        """The consumer uploaded the input of this open job: start proving before claiming, if a prover is free.

        Only an input that opens the job's commitment is proved early; anything else waits for the
        claim and takes the usual path (where it is declined)."""
        payload = self.mailbox.get(job_id, "input")
        if payload is None or job_id in self._early or self._proofs_running() >= self.concurrency:
            return
        opened = self._open_input(job_id, model_id, data, payload)
        if isinstance(opened, str):
            return
        early = self._provers.submit(self.served[model_id].circuit, opened[0], self._proof_path(job_id))
        early.add_done_callback(lambda _: self._wake.set())
        self._early[job_id] = early
        self.log("job.offered", job_id=job_id, proving_early=True)

    def _resume_claim(self, job_id: int, model_id: int) -> bool:
        """After a crash mid-claim: the chain says whether the claim landed."""
        entry = self.journal.get(job_id)
        job = self._job_as_seen(job_id, model_id, entry.data if entry else {})
        if job is None:
            self._lose(job_id, model_id, GONE)
            return False
        if job.status is JobStatus.CLAIMED and self._mine(job):
            self.journal.record(job_id, model_id, Step.CLAIMED, note="claim found on chain", claim_block=self.market.deployment.block)
            return True
        if job.status is JobStatus.OPEN:
            self.journal.record(job_id, model_id, Step.SEEN, note="claim not on chain; retrying")
            return True
        self._lose(job_id, model_id, f"job is {job.status.value} (not ours)")
        return False

    def _mine(self, job: Job) -> bool:
        return job.provider is not None and job.provider.lower() == self.signer.address.lower()

    def _await_input(self, job_id: int, model_id: int, data: dict[str, Any], just_claimed: bool = False) -> bool:
        if not just_claimed and not self._still_ours(job_id, model_id, data):
            entry = self.journal.get(job_id)
            return entry is not None and entry.step is Step.SEEN  # a reorg dropped the claim: busy claiming again
        if "input_path" in data:  # offered before the post: opened and checked then
            self.journal.record(job_id, model_id, Step.PROVING)
            self.crash_point("proving")
            self.log("job.input", job_id=job_id, via="offer", commitment_ok=True)
            self._start_proving(job_id, model_id, data)
            return True
        payload = self.mailbox.get(job_id, "input")
        via = "endpoint"
        if payload is None:
            deliveries = self.market.events("InputDelivered", int(data.get("claim_block", self.market.deployment.block)),
                                            jobId=job_id, provider=self.signer.address)
            if not deliveries:
                return False
            payload, via = bytes(deliveries[-1]["payload"]), "chain"
        opened = self._open_input(job_id, model_id, data, payload)
        if isinstance(opened, str):
            self._early.pop(job_id, None)
            return self._decline(job_id, model_id, opened)
        salted, reply_to = opened
        input_path = self._private_file(f"inputs/{job_id}.json", json.dumps(salted.to_json()).encode())
        self.journal.record(job_id, model_id, Step.PROVING, input_path=str(input_path), reply_to=reply_to.hex())
        self.crash_point("proving")
        self.log("job.input", job_id=job_id, via=via, commitment_ok=True)
        self._start_proving(job_id, model_id, {**data, "input_path": str(input_path), "reply_to": reply_to.hex()})
        return True

    def _still_ours(self, job_id: int, model_id: int, data: dict[str, Any]) -> bool:
        """Is the job still claimed by us and inside its prove window? Journals what happened if not."""
        job = self._job_as_seen(job_id, model_id, data)
        if job is None:
            self._lose(job_id, model_id, GONE)
            return False
        if job.status is JobStatus.OPEN:  # a claimed job never reopens, except when a reorg drops the claim
            self.journal.record(job_id, model_id, Step.SEEN, note="a reorg dropped our claim; claiming again")
            self.log("job.reorged", level="warning", job_id=job_id, reason="claim dropped")
            return False
        if not (job.status is JobStatus.CLAIMED and self._mine(job)):
            self._lose(job_id, model_id, f"job is {job.status.value}")
            return False
        if self.market.chain.timestamp() >= job.prove_deadline:
            self._lose(job_id, model_id, "no input was delivered before the prove deadline")
            return False
        return True

    def _open_input(self, job_id: int, model_id: int, data: dict[str, Any], payload: bytes) -> tuple[InputData, bytes] | str:
        ctx = crypto.JobContext(self.market.chain.chain_id, self.market.market.address, job_id, model_id, "input")
        return self._open_sealed(payload=payload, ctx=ctx, model_id=model_id, commitments=[int(c) for c in data["commitments"]])

    def _open_sealed(self, *, payload: bytes, ctx: crypto.JobContext, model_id: int,
                     commitments: list[int]) -> tuple[InputData, bytes] | str:
        """Decrypt a sealed input and check that it opens ``commitments``: (salted input, reply key),
        or why it is unusable."""
        circuit = self.served[model_id].circuit
        try:
            message = json.loads(crypto.open_sealed(self.enc_key, payload, ctx))
            salted = parse(message["input"], circuit.manifest, source=f"{ctx.direction} input")
            reply_to = bytes.fromhex(str(message.get("reply_to", "")))
            commitment, _ = commit(circuit.manifest, salted)
        except (NgxZkError, ValueError, KeyError, TypeError) as exc:
            return f"input unusable: {exc}"
        if list(commitment.values) != commitments:
            return "input does not open the job's commitment"
        return salted, reply_to

    def _start_proving(self, job_id: int, model_id: int, data: dict[str, Any]) -> None:
        """Prove (or adopt the proof started when the job was offered); journal the outcome when done."""
        reply_to = bytes.fromhex(str(data.get("reply_to", "")))
        running = self._early.pop(job_id, None)
        if running is None:
            circuit = self.served[model_id].circuit
            try:
                salted = parse(json.loads(Path(data["input_path"]).read_text()), circuit.manifest, source=f"job {job_id} input")
            except (OSError, ValueError) as exc:
                raise NgxZkError(f"job {job_id}: the journaled input is unreadable: {exc}") from None
            running = self._provers.submit(circuit, salted, self._proof_path(job_id))
        finished: Future[None] = Future()

        def journal_outcome(run: Future[ProofRun]) -> None:
            try:
                self._record_proof(job_id, model_id, reply_to, run)
                finished.set_result(None)
            except BaseException as exc:  # surfaces in the loop through finished.result()
                finished.set_exception(exc)
            self._wake.set()

        self._inflight[job_id] = finished
        running.add_done_callback(journal_outcome)

    def _proof_path(self, job_id: int) -> Path:
        return self.home / "proofs" / f"{job_id}.json"

    def _record_proof(self, job_id: int, model_id: int, reply_to: bytes, run: Future[ProofRun]) -> None:
        try:
            done = run.result()
        except InputError as exc:
            self.journal.record(job_id, model_id, Step.DECLINING, reason=str(exc))
            return
        except NgxZkError as exc:
            self.journal.record(job_id, model_id, Step.FAILED, note=str(exc))
            self.log("job.failed", level="error", job_id=job_id, error=str(exc))
            return
        if len(reply_to) == 32 and self.served[model_id].circuit.manifest.visibility.output == "hashed":
            self._seal_output(job_id, model_id, reply_to, done.proof)  # public outputs are on chain already
        with self._lock:
            self.stats.prove_seconds.append(done.proof.prove_seconds)
        self.metrics.inc("ngx_worker_prove_seconds_sum", done.proof.prove_seconds)
        self.metrics.inc("ngx_worker_prove_seconds_count")
        self.journal.record(job_id, model_id, Step.PROVED, proof_path=str(done.path))
        self.crash_point("proved")
        self.log("job.proved", job_id=job_id, prove_s=round(done.proof.prove_seconds, 3), inference_s=round(done.inference_s, 4),
                 provider=done.runtime, output_drift=round(done.drift, 6))

    def _seal_output(self, job_id: int, model_id: int, reply_to: bytes, proof: Any) -> None:
        """Keep the output, sealed to the consumer's key, for the consumer to fetch from the endpoint."""
        ctx = crypto.JobContext(self.market.chain.chain_id, self.market.market.address, job_id, model_id, "output")
        body = json.dumps({"output_felts": [str(v) for v in proof.output_felts]}).encode()
        self.mailbox.put(job_id, "output", crypto.seal(reply_to, body, ctx))

    def _submit(self, job_id: int, model_id: int, data: dict[str, Any]) -> bool:
        proof, instances = calldata(Path(data["proof_path"]))
        fn = self.market.submit_fn(job_id, proof, instances)
        # the dry run checks everything the transaction will: the job is still ours and open to a
        # result, the instances carry its commitments, and the model's own verifier accepts the
        # proof. A revert here costs nothing; _settle_after_revert reads what happened.
        self.market.chain.call(fn, sender=self.signer.address)
        if model_id not in self._submit_gas:  # verification gas is the same for every proof of a circuit
            self._submit_gas[model_id] = self.market.chain.estimate_gas(fn, self.signer.address) * 5 // 4
        self.journal.record(job_id, model_id, Step.SUBMITTING)
        def sent(tx_hash: str) -> None:
            self.journal.record(job_id, model_id, Step.SUBMITTING, submit_tx=tx_hash)
            self.crash_point("submit-sent")

        receipt = self.market.submit(self.signer, job_id, proof, instances, on_sent=sent, gas=self._submit_gas[model_id],
                                     dry_run=False)
        self._done(job_id, model_id, receipt["tx"])
        return True

    def _resume_submit(self, job_id: int, model_id: int, data: dict[str, Any]) -> bool:
        """After a crash mid-submit: settled on chain means done; still claimed means send again."""
        job = self.market.job(job_id)
        if job.status is JobStatus.SETTLED and self._mine(job):
            self._done(job_id, model_id, data.get("submit_tx", ""), note="settlement found on chain")
            return True
        if job.status is JobStatus.CLAIMED and self._mine(job):
            pending = data.get("submit_tx")
            if pending and self.market.chain.receipt(pending) is None and self._tx_known(pending):
                return False  # still in the mempool: wait for it rather than send a second one
            self.journal.record(job_id, model_id, Step.PROVED, note="resubmitting")
            return self._submit(job_id, model_id, data)
        self._lose(job_id, model_id, f"job is {job.status.value}")
        return False

    def _tx_known(self, tx_hash: str) -> bool:
        try:
            self.market.chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            return True
        except Exception:  # web3 raises TransactionNotFound; any failure means "not known"
            return False

    def _decline(self, job_id: int, model_id: int, reason: str) -> bool:
        job = self.market.job(job_id)
        if not (job.status is JobStatus.CLAIMED and self._mine(job)):
            self._lose(job_id, model_id, f"job is {job.status.value}")
            return False
        self.journal.record(job_id, model_id, Step.DECLINING, reason=reason)
        self.market.decline(self.signer, job_id)
        self.journal.record(job_id, model_id, Step.DECLINED, note=reason)
        self.stats.declined += 1
        self.metrics.inc("ngx_worker_jobs_total", outcome="declined")
        self.log("job.declined", level="warning", job_id=job_id, reason=reason)
        return True

    def _done(self, job_id: int, model_id: int, tx: str, note: str = "") -> None:
        self.journal.record(job_id, model_id, Step.DONE, note=note, submit_tx=tx)
        with contextlib.suppress(OSError):
            (self.home / "inputs" / f"{job_id}.json").unlink()
        self.stats.completed += 1
        self.metrics.inc("ngx_worker_jobs_total", outcome="settled")
        self.log("job.settled", job_id=job_id, tx=tx)

    def _forget(self, job_id: int) -> None:
        """A job we will not prove: drop its early proof (an offer we did not get) and its input."""
        self._early.pop(job_id, None)
        with contextlib.suppress(OSError):
            (self.home / "inputs" / f"{job_id}.json").unlink()

    def _lose(self, job_id: int, model_id: int, reason: str) -> None:
        self._forget(job_id)
        self.journal.record(job_id, model_id, Step.LOST, note=reason)
        self.stats.lost += 1
        self.metrics.inc("ngx_worker_jobs_total", outcome="lost")
        self.log("job.lost", level="warning", job_id=job_id, reason=reason)

    def _settle_after_revert(self, job_id: int, model_id: int, exc: ContractRevert) -> None:
        """A revert usually means the chain moved on (taken, expired, reorged): look and record what happened."""
        entry = self.journal.get(job_id)
        job = self._job_as_seen(job_id, model_id, entry.data if entry else {})
        if job is None:
            self._lose(job_id, model_id, GONE)
        elif job.status is JobStatus.SETTLED and self._mine(job):
            self._done(job_id, model_id, "", note="already settled")
        elif job.status.final or (job.provider and not self._mine(job)):
            self._lose(job_id, model_id, f"{exc.name}: job is {job.status.value}")
        else:
            self.log("job.revert", level="warning", job_id=job_id, error=str(exc))

    def _reconcile(self) -> None:
        for entry in self.journal.unfinished():
            self.log("job.resume", job_id=entry.job_id, step=entry.step.value)

    def crash_point(self, name: str) -> None:
        """FAULT INJECTION (tests only): die like SIGKILL right here when NGX_ZK_FAULT_CRASH_AT names this point.

        A real SIGKILL cannot be aimed at "after the submit transaction left, before its receipt";
        this can, so the crash-recovery tests hit every step deterministically."""
        if self.settings.fault_crash_at == name:
            self.log("fault.crash", level="warning", point=name)
            os._exit(137)

    def _private_file(self, relative: str, content: bytes) -> Path:
        path = self.home / relative
        write_private(path, content)
        return path

    def close(self) -> None:
        self._heads.close()
        self._provers.close(wait=False)
        if self.dataplane is not None:
            self.dataplane.close()
        self.journal.close()

