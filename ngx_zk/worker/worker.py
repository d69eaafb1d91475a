"""The provider's worker daemon, shaped like rq's: ``Worker(..., WorkerOptions(...)).work(burst=False, max_jobs=None)``.

Each round: open new offers, fill offered orders, read what is new on chain into the journal
(:mod:`ngx_zk.worker.monitor`), then take every unfinished job's next step
(:mod:`ngx_zk.worker.lifecycle` holds the steps; :mod:`ngx_zk.worker.offers` the inputs that arrive
before a job is ours). The worker only assembles these rooms and runs the loop. The loop sleeps ``poll_s`` between rounds but wakes at
once when a block lands (a newHeads subscription, when the node has a WebSocket), an offer or input
arrives, or a proof finishes.

Every step is journaled before it acts, and a restart resumes each job from its journaled step with
the same code. The first SIGTERM/SIGINT stops claiming and finishes the jobs in hand, defending optimistic results
until their challenge windows close (warm shutdown, :mod:`ngx_zk.worker.warm_stop`); a second one stops at once
(cold), leaving the journal to resume from.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

from .. import crypto, keys, srs
from ..artifacts import Circuit
from ..catalog import resolve_model
from ..chain.heads import NewHeads, ws_url_for
from ..chain.market import Marketplace
from ..chain.settlement import Settlement
from ..chain.signer import Signer
from ..config import Settings
from ..dataplane import MAX_PENDING_OFFERS
from ..dataplane.admission import JobFacts
from ..dataplane.mailbox import Mailbox
from ..dataplane.proofs import ProofStore
from ..dataplane.server import DataPlaneServer
from ..errors import NgxZkError
from .claim_spread import ClaimSpread
from .crew import Stats
from .jobfiles import InputOpener, Served
from .journal import Journal, Step
from .lifecycle import Lifecycle
from .monitor import ChainMonitor
from .observe import FLEET_FILE, Metrics, null_log
from .offers import OfferBook
from .options import WorkerOptions
from .order_batch import OrderBatches
from .orders import OrderFiller
from .provers import ProverPool
from .warm_stop import WarmStop

if TYPE_CHECKING:
    from .ray_pool import RayProverPool

Log = Callable[..., None]
OUTPUT_LINGER_S = 60
"""How long a stopping worker keeps serving private outputs that their consumers have not fetched."""

__all__ = ["Worker", "WorkerOptions"]


class Worker:
    """One provider's worker: the models it serves, its journal, provers and endpoint, and the loop."""

    def __init__(
        self,
        settings: Settings,
        market: Marketplace,
        signer: Signer,
        circuits: list[Circuit],
        options: WorkerOptions | None = None,
        *,
        journal: Journal | None = None,
        log: Log = null_log,
        metrics: Metrics | None = None,
    ) -> None:
        if not circuits:
            raise NgxZkError("the worker serves no models", "pass --model NAME (a built and published circuit)")
        self.options = opts = options or WorkerOptions()
        self.settings, self.market, self.signer = settings, market, signer
        self.log, self.metrics = log, metrics or Metrics()
        self.poll_s = opts.poll_s
        self.concurrency = max(1, opts.concurrency)
        self.home = settings.state_dir / "worker" / f"{market.chain.chain_id}-{signer.address.lower()}"
        self.journal = journal or Journal(self.home / "journal.sqlite")
        self._check_provider()
        self.served: dict[int, Served] = {}
        for circuit in self._licensed(circuits):
            served = self._load(circuit)
            self.served[served.entry.model_id] = served
            if circuit.name in opts.min_price_by_name:
                opts.policy.min_price_by_model[served.entry.model_id] = opts.min_price_by_name[circuit.name]
        self._stop_requests = 0
        self._wake = threading.Event()
        self._heads = NewHeads(ws_url_for(market.chain.url, settings.ws_url), self._wake.set)  # scan as blocks land
        self._provers = self._prover_pool(opts)
        self.mailbox = Mailbox(self.home / "mailbox")
        for job_id in self.mailbox.inputs_held():  # inputs of jobs that ended before a restart leave the quota
            held = self.journal.get(job_id)
            if held is not None and held.step.final:
                self.mailbox.release_input(job_id)
        self.proofs = ProofStore(self.home / "served-proofs")
        """Optimistic jobs' proofs, served at ``GET /v1/proofs/<job id>`` until a day after they finished."""
        self.proofs.prune()
        self.opener = InputOpener(
            crypto.derive_key(signer.encryption_key_material()),
            market.chain.chain_id,
            market.market.address,
            self.served,
            self.home,
        )
        provers = cast(ProverPool, self._provers)  # the Ray pool has ProverPool's interface
        capacity = max(MAX_PENDING_OFFERS, opts.fill_batch)  # a batch of orders waits here until it is filled
        self.offers = OfferBook(
            self.opener, provers, self.journal, concurrency=self.concurrency, log=log, wake=self._wake, enabled=opts.offers,
            capacity=capacity,
        )  # fmt: skip
        self.lifecycle = Lifecycle(
            market=market,
            signer=signer,
            journal=self.journal,
            served=self.served,
            opener=self.opener,
            offers=self.offers,
            provers=self._provers,
            policy=opts.policy,
            mailbox=self.mailbox,
            wake=self._wake,
            log=log,
            metrics=self.metrics,
            crash_point=self.crash_point,
            discard_mail=self.mailbox.discard,
            settlement=Settlement(market),
            settle_batch=opts.settle_batch,
            settle_wait=opts.settle_wait,
            proofs=self.proofs,
            serves_proofs=opts.listen is not None,
        )
        if opts.claim_spread:
            self.lifecycle.spread = ClaimSpread(market, signer.address)
        self.orders = OrderBatches(OrderFiller(self.lifecycle, market), opts.fill_batch)
        self._warm_stop = WarmStop(self.lifecycle.standing.now, lambda job_id: market.job(job_id).status, log)
        self.monitor = ChainMonitor(
            market,
            self.journal,
            self.lifecycle.standing,
            signer,
            self.served.keys(),
            stats=self.stats,
            log=log,
            metrics=self.metrics,
            reorg_window=opts.reorg_window,
            expire_overdue=opts.expire_overdue,
        )
        self.dataplane: DataPlaneServer | None = None
        self.endpoint: str | None = None
        if opts.listen is not None:
            self.dataplane = DataPlaneServer(
                self.mailbox,
                chain_id=market.chain.chain_id,
                market=market.market.address,
                provider=signer.address,
                job_facts=self._job_facts,
                log=log,
                on_input=lambda _: self._wake.set(),
                on_offer=self.offers.take if opts.offers else None,
                served_models=self.served.keys(),
                on_refused=self._refused,
                proofs=self.proofs.get,
            )
            self.offers.on_kept = self.dataplane.admission.offer_kept
            self.endpoint = self.dataplane.serve(*opts.listen)
            log("dataplane.serving", endpoint=self.endpoint)

    def _prover_pool(self, opts: WorkerOptions) -> ProverPool | RayProverPool:
        circuits = [s.circuit for s in self.served.values()]
        if opts.ray is None:
            return ProverPool(self.concurrency, circuits, self.settings)
        from .ray_pool import RayProverPool  # a proving fleet: proofs run as Ray tasks; key, chain and journal stay here

        return RayProverPool(
            opts.ray,
            circuits,
            self.settings,
            cpus_per_proof=opts.cpus_per_proof,
            metrics=self.metrics,
            log=self.log,
            snapshot=self.home / FLEET_FILE,
        )

    @property
    def stats(self) -> Stats:
        return self.lifecycle.stats

    def _job_facts(self, job_id: int) -> JobFacts:
        job = self.market.job(job_id)
        return JobFacts.from_job(job, self.market.job_extras(job_id).deliverer if job.has_deliverer else None)

    def _refused(self, source: str, reason: str, sender: str) -> None:
        """The endpoint refused a stranger's request: keep it in the journal (the endpoint rate-limits these)."""
        self.journal.refuse(source, reason, sender=sender)

    # --- setup ---------------------------------------------------------------------------------
    def _check_provider(self) -> None:
        """Refuse to start for an address that is not a registered provider: every job would be skipped."""
        profile = self.market.provider(self.signer.address)
        if not profile.registered:
            raise NgxZkError(
                f"{self.signer.address} is not a registered provider on chain {self.market.chain.chain_id}",
                "register and stake first: ngx-zk provider register --endpoint URL, then ngx-zk provider stake AMOUNT",
            )

    def _licensed(self, circuits: list[Circuit]) -> list[Circuit]:
        """The circuits this provider can prove: a hashed-weights model without its owner's licence installed is not
        served (its jobs are never claimed), said in the log; with no other model to serve the worker does not start."""
        unlicensed = [c for c in circuits if not c.has_weights]
        for c in unlicensed:
            self.log(
                "model.unlicensed",
                level="warning",
                model=c.name,
                note="private weights and no licence installed: its jobs are not claimed "
                f"(ask its owner: ngx-zk model license {c.name} --provider {self.signer.address}; then ngx-zk model install-license FILE)",
            )
        if unlicensed and len(unlicensed) == len(circuits):
            raise NgxZkError(
                f"model(s) {', '.join(repr(c.name) for c in unlicensed)} have private weights and this provider holds no "
                "licence: nothing to serve, no job is claimed",
                f"ask the owner for a licence (ngx-zk model license NAME --provider {self.signer.address}), then "
                "install it: ngx-zk model install-license FILE",
            )
        return [c for c in circuits if c.has_weights]

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

    @property
    def stopped_by(self) -> str:
        """Why the loop ended: "done" (nothing left, or ``max_jobs``), "signal" (warm shutdown) or "cold" (a second signal)."""
        return "cold" if self._stop_requests >= 2 else "signal" if self._stop_requests else "done"

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
                    self.monitor.scan()
                    busy = self._advance()
                    holding = self.lifecycle.holding > 0
                    if max_jobs is not None and self.stats.taken >= max_jobs and not holding:
                        break
                    if self.stopping and not (
                        holding and self._warm_stop.waits(self.journal.unfinished(), self.stats.claimed_ids)
                    ):
                        break
                    if burst and not busy and not holding and not self._turn_coming():
                        break
                    self._wake.wait(self.poll_s)
                    self._wake.clear()
            self._linger_for_outputs()
            if self._stop_requests == 1:
                self._warm_stop.left(self.journal.unfinished())
        finally:
            if self._stop_requests >= 2:
                self._provers.close(wait=False)  # cold: stop the proofs now; the journal resumes them
            self.log("worker.exit", completed=self.stats.completed, declined=self.stats.declined, lost=self.stats.lost)
        return self.stats.completed > 0

    def _turn_coming(self) -> bool:
        """A job this worker would look at again once its claim-spread turn comes (burst waits for it)."""
        return any(self.lifecycle.waits_turn(r) for r in self.journal.unfinished() if r.step is Step.SEEN)

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
