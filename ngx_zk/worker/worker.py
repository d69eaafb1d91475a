"""The provider's worker daemon, shaped like rq's: ``Worker(...).work(burst=False, max_jobs=None)``.

Each round: open new offers, read new chain events into the journal, then take every unfinished
job's next step (:mod:`ngx_zk.worker.lifecycle` holds the steps; :mod:`ngx_zk.worker.offers` the
inputs that arrive before a job is ours). The loop sleeps ``poll_s`` between rounds but wakes at
once when a block lands (a newHeads subscription, when the node has a WebSocket), an offer or input
arrives, or a proof finishes.

Every step is journaled before it acts, and a restart resumes each job from its journaled step with
the same code. The first SIGTERM/SIGINT stops claiming and finishes the jobs in hand (warm
shutdown); a second one stops at once (cold), leaving the journal to resume from.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

from .. import crypto, keys, srs
from ..artifacts import Circuit
from ..chain.heads import NewHeads, ws_url_for
from ..chain.market import Marketplace
from ..chain.signer import Signer
from ..chain.types import JobClaimed, JobPosted, JobReopened, JobStatus
from ..config import Settings
from ..dataplane.admission import JobFacts
from ..dataplane.mailbox import Mailbox
from ..dataplane.server import DataPlaneServer
from ..errors import ChainError, ContractRevert, NgxZkError
from ..publish import resolve_model
from .jobfiles import InputOpener, Served
from .journal import Journal, Step
from .lifecycle import GONE, Lifecycle, Stats
from .observe import FLEET_FILE, Metrics, null_log
from .offers import OfferBook
from .orders import OrderFiller
from .policy import ClaimPolicy
from .provers import ProverPool

if TYPE_CHECKING:
    from .ray_pool import RayProverPool

Log = Callable[..., None]
OUTPUT_LINGER_S = 60
"""How long a stopping worker keeps serving private outputs that their consumers have not fetched."""
REORG_WINDOW_BLOCKS = 5
"""Each poll re-reads this many blocks below the event cursor: a reorg may re-include events there."""

__all__ = ["GONE", "Stats", "Worker"]


FRESH_ROUND: dict[str, Any] = {
    "claim_block": None,
    "claim_tx": "",
    "input_path": "",
    "reply_to": "",
    "proof_path": "",
    "submit_tx": "",
    "submit_sends": 0,
    "decline_reason": None,
    "reason": "",
    "errors": 0,
    "offered": False,
}
"""What a job's record forgets when it is reopened: the first round's claim, input and proof were someone else's."""


class Worker:
    reorg_window = REORG_WINDOW_BLOCKS

    def __init__(
        self,
        settings: Settings,
        market: Marketplace,
        signer: Signer,
        circuits: list[Circuit],
        *,
        journal: Journal | None = None,
        concurrency: int = 1,
        poll_s: float = 0.5,
        log: Log = null_log,
        metrics: Metrics | None = None,
        listen: tuple[str, int] | None = None,
        offers: bool = True,
        policy: ClaimPolicy | None = None,
        ray: str | None = None,
        cpus_per_proof: int = 1,
        expire_overdue: bool = True,
    ) -> None:
        if not circuits:
            raise NgxZkError("the worker serves no models", "pass --model NAME (a built and published circuit)")
        self.settings, self.market, self.signer = settings, market, signer
        self.log, self.metrics = log, metrics or Metrics()
        self.poll_s = poll_s
        self.concurrency = max(1, concurrency)
        self.home = settings.state_dir / "worker" / f"{market.chain.chain_id}-{signer.address.lower()}"
        self.journal = journal or Journal(self.home / "journal.sqlite")
        self._check_provider()
        self.served: dict[int, Served] = {}
        for circuit in circuits:
            served = self._load(circuit)
            self.served[served.entry.model_id] = served
        self._stop_requests = 0
        self.expire_overdue = expire_overdue
        self._overdue: dict[int, int] = {}  # job id -> prove deadline of another provider's claim (served models)
        self._wake = threading.Event()
        self._heads = NewHeads(ws_url_for(market.chain.url, settings.ws_url), self._wake.set)  # scan as blocks land
        served_circuits = [s.circuit for s in self.served.values()]
        self._provers: ProverPool | RayProverPool
        if ray is None:
            self._provers = ProverPool(self.concurrency, served_circuits, settings)
        else:  # a proving fleet: proofs run as Ray tasks on the cluster's nodes; key, chain and journal stay here
            from .ray_pool import RayProverPool

            self._provers = RayProverPool(
                ray,
                served_circuits,
                settings,
                cpus_per_proof=cpus_per_proof,
                metrics=self.metrics,
                log=log,
                snapshot=self.home / FLEET_FILE,
            )
        self.mailbox = Mailbox(self.home / "mailbox")
        for job_id in self.mailbox.inputs_held():  # inputs of jobs that ended before a restart leave the quota
            held = self.journal.get(job_id)
            if held is not None and held.step.final:
                self.mailbox.release_input(job_id)
        self.opener = InputOpener(
            crypto.derive_key(signer.encryption_key_material()),
            market.chain.chain_id,
            market.market.address,
            self.served,
            self.home,
        )
        provers = cast(ProverPool, self._provers)  # the Ray pool has ProverPool's interface
        self.offers = OfferBook(
            self.opener, provers, self.journal, concurrency=self.concurrency, log=log, wake=self._wake, enabled=offers
        )
        self.lifecycle = Lifecycle(
            market=market,
            signer=signer,
            journal=self.journal,
            served=self.served,
            opener=self.opener,
            offers=self.offers,
            provers=self._provers,
            policy=policy or ClaimPolicy(),
            mailbox=self.mailbox,
            wake=self._wake,
            log=log,
            metrics=self.metrics,
            crash_point=self.crash_point,
            discard_mail=self._discard_mail,
        )
        self.orders = OrderFiller(self.lifecycle, market)
        self.dataplane: DataPlaneServer | None = None
        self.endpoint: str | None = None
        if listen is not None:
            self.dataplane = DataPlaneServer(
                self.mailbox,
                chain_id=market.chain.chain_id,
                market=market.market.address,
                provider=signer.address,
                job_facts=self._job_facts,
                log=log,
                on_input=lambda _: self._wake.set(),
                on_offer=self.offers.take if offers else None,
                served_models=self.served.keys(),
                on_refused=self._refused,
            )
            self.endpoint = self.dataplane.serve(*listen)
            log("dataplane.serving", endpoint=self.endpoint)

    @property
    def stats(self) -> Stats:
        return self.lifecycle.stats

    def _job_facts(self, job_id: int) -> JobFacts:
        job = self.market.job(job_id)
        return JobFacts.from_job(job, self.market.job_extras(job_id).deliverer if job.has_deliverer else None)

    def _refused(self, source: str, reason: str, sender: str) -> None:
        """The endpoint refused a stranger's request: keep it in the journal (the endpoint rate-limits these)."""
        self.journal.refuse(source, reason, sender=sender)

    def _discard_mail(self, job_id: int) -> None:
        self.mailbox.discard(job_id)

    # --- setup ---------------------------------------------------------------------------------
    def _check_provider(self) -> None:
        """Refuse to start for an address that is not a registered provider: every job would be skipped."""
        profile = self.market.provider(self.signer.address)
        if not profile.registered:
            raise NgxZkError(
                f"{self.signer.address} is not a registered provider on chain {self.market.chain.chain_id}",
                "register and stake first: ngx-zk provider register --endpoint URL, then ngx-zk provider stake AMOUNT",
            )

    def _load(self, circuit: Circuit) -> Served:
        """Check a circuit against its registry entry and warm it: SRS and proving key (onnxruntime: in the provers)."""
        circuit.check()
        entry = resolve_model(self.settings, self.market, circuit)
        srs_path = srs.locate(self.settings, circuit.manifest.srs)
        pk = keys.proving_key(self.settings, circuit, srs_path)
        self.log("model.ready", model=circuit.name, model_id=entry.model_id, logrows=circuit.manifest.logrows)
        if entry.verifier_code_hash and not self.market.verifier_code_allowed(entry.verifier_code_hash):
            self.log(
                "model.unlisted",
                level="warning",
                model=circuit.name,
                model_id=entry.model_id,
                note="its verifier code is not on governance's allow-list: its jobs earn no rewards or NRS",
            )
        return Served(circuit, entry, srs_path, pk, circuit.input_limit())

    # --- the loop ------------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop_requests += 1
        self.lifecycle.stopping = self.offers.stopping = True
        self.log("worker.stop", mode="warm" if self._stop_requests == 1 else "cold")

    @property
    def stopping(self) -> bool:
        return self._stop_requests > 0

    def work(self, burst: bool = False, max_jobs: int | None = None) -> bool:
        """Run until stopped (or, with ``burst``, until nothing is left to do; with ``max_jobs``, until this
        run claimed that many jobs and finished them). True if any job settled."""
        self._provers.wait_ready()
        self.lifecycle.max_jobs = max_jobs
        self.log(
            "worker.start",
            address=self.signer.address,
            models=[s.circuit.name for s in self.served.values()],
            burst=burst,
            concurrency=self.concurrency,
            threads_per_proof=self._provers.threads_per_proof,
            new_heads=self._heads.available,
        )
        try:
            with self._signals():
                for record in self.journal.unfinished():
                    self.log("job.resume", job_id=record.job_id, step=record.step.value)
                    self.stats.resumed += record.step.holding
                while self._stop_requests < 2:
                    self.offers.tend(self.lifecycle.proofs)
                    self.orders.fill_all()
                    self._scan()
                    busy = self._advance()
                    holding = self.lifecycle.holding > 0
                    if max_jobs is not None and self.stats.taken >= max_jobs and not holding:
                        break
                    if self.stopping and not holding:
                        break
                    if burst and not busy and not holding:
                        break
                    self._wake.wait(self.poll_s)
                    self._wake.clear()
            self._linger_for_outputs()
        finally:
            if self._stop_requests >= 2:
                self._provers.close(wait=False)  # cold: stop the proofs now; the journal resumes them
            self.log("worker.exit", completed=self.stats.completed, declined=self.stats.declined, lost=self.stats.lost)
        return self.stats.completed > 0

    def _advance(self) -> bool:
        busy = False
        for record in self.journal.unfinished():
            busy |= self.lifecycle.advance(record)
        self.metrics.set("ngx_worker_inflight", len(self.lifecycle.inflight))
        return busy or bool(self.lifecycle.inflight)

    def _linger_for_outputs(self) -> None:
        """Before exiting, keep the endpoint up until consumers fetched the private outputs of our jobs."""
        if self.dataplane is None:
            return
        done = [r.job_id for r in self.journal.all() if r.step is Step.DONE]
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

    # --- events --------------------------------------------------------------------------------
    def _scan(self) -> None:
        """Journal new JobPosted events of served models, re-reading the last ``reorg_window`` blocks
        (the journal dedups by job id); journal as lost the unclaimed jobs a reorg dropped. A node
        outage is logged and retried on the next poll."""
        try:
            head = self.market.chain.block_number()
            cursor = self.journal.cursor("posted", self.market.deployment.block)
            start = max(self.market.deployment.block, cursor - self.reorg_window)
            for posted in self.market.logs(JobPosted, start, head) if start <= head else []:
                event = posted.event
                model_id, job_id, commitments = event.model_id, event.job_id, event.input_commitments
                known = self.journal.get(job_id)
                if model_id not in self.served or (
                    known is not None and not (known.step.final and known.commitments != commitments)
                ):
                    continue  # a finished entry with other commitments: a reorg gave its id to a new job
                self.journal.record(
                    job_id,
                    model_id,
                    Step.SEEN,
                    commitments=commitments,
                    price=event.price,
                    seen_block=posted.meta.block_number,
                )
                self.log("job.seen", job_id=job_id, model_id=model_id, price=event.price)
            self.journal.set_cursor("posted", head + 1)
            self._scan_reopened(head)
            self._expire_overdue(head)
            self.metrics.set("ngx_worker_last_block", head)
            for record in self.journal.unfinished():
                if (
                    record.step is Step.SEEN
                    and record.seen_block >= head - self.reorg_window
                    and self.lifecycle.job_as_seen(record) is None
                ):
                    self.journal.record(record.job_id, record.model_id, Step.LOST, note=GONE)
                    self.stats.lost += 1
                    self.log("job.lost", level="warning", job_id=record.job_id, reason=GONE)
        except ChainError as exc:
            self.log("chain.error", level="warning", error=str(exc))

    def _scan_reopened(self, head: int) -> None:
        """Journal jobs of served models reopened for a second prover (JobReopened) as SEEN again, once each."""
        cursor = self.journal.cursor("reopened", self.market.deployment.block)
        start = max(self.market.deployment.block, cursor - self.reorg_window)
        for reopened in self.market.logs(JobReopened, start, head) if start <= head else []:
            event = reopened.event
            job_id = event.job_id
            known = self.journal.get(job_id)
            if known is not None and (known.reopened or not known.step.final):
                continue  # seen this round already, or still in hand (the lifecycle finds it is not ours)
            if known is None:
                job = self.market.job(job_id)
                if job.model_id not in self.served:
                    continue
                commitments = self.market.posted(job_id).event.input_commitments
                model_id, price = job.model_id, job.price
            else:
                model_id, commitments, price = known.model_id, known.commitments, known.price
            self.journal.record(
                job_id,
                model_id,
                Step.SEEN,
                commitments=commitments,
                price=price,
                reopened=True,
                seen_block=reopened.meta.block_number,
                note=f"reopened: {event.missed_by} missed it",
                **FRESH_ROUND,
            )
            self.log("job.reopened", job_id=job_id, model_id=model_id, missed_by=event.missed_by, bounty=event.bounty)
        self.journal.set_cursor("reopened", head + 1)

    def _expire_overdue(self, head: int) -> None:
        """Expire other providers' claims of served models whose prove deadline passed (once, after the
        deadline): the job reopens with a bounty this worker may then earn, and the consumer, who may not be
        watching, is not left waiting on a dead provider. A dry run first: a lost race costs no gas."""
        cursor = self.journal.cursor("claimed", self.market.deployment.block)
        start = max(self.market.deployment.block, cursor - self.reorg_window)
        me = self.signer.address.lower()
        for claimed in self.market.logs(JobClaimed, start, head) if start <= head else []:
            event = claimed.event
            known = self.journal.get(event.job_id)
            if known is not None and known.model_id in self.served and event.provider.lower() != me:
                self._overdue[known.job_id] = event.prove_deadline
        self.journal.set_cursor("claimed", head + 1)
        if not self.expire_overdue or not self._overdue:
            return
        now = self.market.chain.timestamp()
        for job_id, deadline in sorted(self._overdue.items()):
            if now < deadline:
                continue
            del self._overdue[job_id]
            job = self.market.job(job_id)
            if job.status is not JobStatus.CLAIMED or job.prove_deadline > now or (job.provider or "").lower() == me:
                continue
            try:
                self.market.expire(self.signer, job_id)
            except ContractRevert as exc:  # someone else expired it first, or it settled at the last second
                self.log("job.expire_skipped", job_id=job_id, reason=exc.name)
                continue
            self.log("job.expired_overdue", job_id=job_id, provider=job.provider, reopened=not job.reopened)

    def crash_point(self, name: str) -> None:
        """FAULT INJECTION (tests only): die like SIGKILL right here when NGX_ZK_FAULT_CRASH_AT names this point.

        A real SIGKILL cannot be aimed at "after the submit transaction left, before its receipt";
        this can, so the crash-recovery tests hit every step deterministically."""
        if self.settings.fault_crash_at == name:
            self.log("fault.crash", level="warning", point=name)
            os._exit(137)

    def close(self) -> None:
        self._heads.close()
        self._provers.close(wait=False)
        if self.dataplane is not None:
            self.dataplane.close()
        self.journal.close()
