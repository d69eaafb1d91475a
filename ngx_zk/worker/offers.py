"""Inputs that arrive before the worker holds the job: offers of jobs not yet posted, and uploads for open jobs.

A consumer may offer a job to this worker before posting it (``prove-job --provider``): the
endpoint takes the sealed input, keyed by its commitment, and the worker proves it while a prover
is free (claimed jobs come first). When a JobPosted with that commitment, model and consumer
arrives, the lifecycle claims it and adopts the running proof. A lost race, or a job never posted
within :data:`OFFER_TTL_S`, drops it. An input uploaded for a job still open is proved early the
same way, but only once the worker decided it would claim that job. Everything refused is journaled.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ..dataplane import MAX_PENDING_OFFERS, Offer
from ..inputs import InputData
from .jobfiles import InputOpener, InputRejected
from .journal import Journal
from .provers import ProofRun, ProverPool

OFFER_TTL_S = 120
"""An offered input whose job is not posted within this long is dropped (with its proof)."""


@dataclass
class Offered:
    """An offered input, proving (or proved, or waiting for a free prover) before its job is on chain."""

    consumer: str
    model_id: int
    salted: InputData
    reply_to: bytes
    received: float
    proof: Future[ProofRun] | None = None
    order: str = ""
    """A gasless order sent with the offer (unparsed): the lifecycle fills it instead of waiting for a post."""


@dataclass(frozen=True)
class Adopted:
    """An offer that became a posted job's input (and, if it started, its proof)."""

    salted: InputData
    reply_to: bytes
    proof: Future[ProofRun] | None


class OfferBook:
    def __init__(
        self,
        opener: InputOpener,
        provers: ProverPool,
        journal: Journal,
        *,
        concurrency: int,
        log: Callable[..., None],
        wake: threading.Event,
        enabled: bool = True,
        capacity: int = MAX_PENDING_OFFERS,
    ) -> None:
        self.opener, self.provers, self.journal, self.log, self.wake = opener, provers, journal, log, wake
        self.concurrency, self.enabled = concurrency, enabled
        self.capacity = capacity
        """Offers held at once (waiting for their job, or their order's fill); more are refused (HTTP 429)."""
        self.stopping = False
        self.early: dict[int, Future[ProofRun]] = {}
        """Job id -> a proof started before the job was ours (an offer or an upload for an open job)."""
        self._incoming: queue.SimpleQueue[Offer] = queue.SimpleQueue()
        self._offered: dict[int, Offered] = {}  # input commitment -> offer proving before its job is posted
        self.on_kept: Callable[[str], None] = lambda _consumer: None
        """Told the consumer of each offer that became a posted job (the endpoint gives its offer back)."""

    # --- the endpoint's thread -----------------------------------------------------------------
    def take(self, offer: Offer) -> bool:
        """Queue an offer for the loop, if this worker can take it (the endpoint answers 429 otherwise)."""
        if (
            not self.enabled
            or self.stopping
            or offer.model_id not in self.opener.served
            or len(self._offered) + self._incoming.qsize() >= self.capacity
        ):
            return False
        self._incoming.put(offer)
        self.wake.set()
        return True

    # --- the loop ------------------------------------------------------------------------------
    def running(self, inflight: Sequence[Future[Any]]) -> int:
        """Proofs running now: the claimed jobs' (``inflight``), early ones and offers'."""
        running: list[Future[Any]] = [*inflight, *self.early.values()]
        running += [o.proof for o in self._offered.values() if o.proof is not None]
        return sum(1 for f in running if not f.done())

    def tend(self, inflight: Sequence[Future[Any]]) -> None:
        """Open new offers (refusing those that do not open their commitment), start proving them while a
        prover is free, and drop offers whose job never came."""
        while not self._incoming.empty():
            offer = self._incoming.get()
            if offer.commitment in self._offered:
                continue
            ctx = self.opener.context(0, offer.model_id, "offer")
            try:
                salted, reply_to = self.opener.open(offer.payload, ctx, offer.model_id, [offer.commitment])
            except InputRejected as exc:
                self.journal.refuse("offer", exc.reason, sender=offer.consumer, model_id=offer.model_id)
                self.log("offer.refused", level="warning", model_id=offer.model_id, reason=exc.reason)
                continue
            self._offered[offer.commitment] = Offered(
                offer.consumer, offer.model_id, salted, reply_to, offer.received, order=offer.order
            )
        for commitment, offered in list(self._offered.items()):
            if time.time() - offered.received > OFFER_TTL_S:
                del self._offered[commitment]
                self.log("offer.expired", model_id=offered.model_id, consumer=offered.consumer)
            elif offered.proof is None and self.running(inflight) < self.concurrency:
                circuit = self.opener.served[offered.model_id].circuit
                offered.proof = self.provers.submit(
                    circuit, offered.salted, self.opener.home / "proofs" / f"offer-{commitment:064x}.json"
                )
                offered.proof.add_done_callback(lambda _: self.wake.set())
                self.log("offer.proving", model_id=offered.model_id, consumer=offered.consumer)

    def adopt(self, job_id: int, model_id: int, consumer: str, commitments: tuple[int, ...]) -> Adopted | None:
        """A posted job matches an offer (same model, commitment and consumer): its input and proof become the job's."""
        offered = self._offered.get(commitments[0]) if len(commitments) == 1 else None
        if offered is None or offered.model_id != model_id or offered.consumer.lower() != consumer.lower():
            return None
        del self._offered[commitments[0]]
        self.on_kept(offered.consumer)
        if offered.proof is not None:
            self.early[job_id] = offered.proof
        return Adopted(offered.salted, offered.reply_to, offered.proof)

    def holds(self, model_id: int, commitments: tuple[int, ...]) -> bool:
        """An offer of this model with this commitment is here (its job may be the one just posted)."""
        offered = self._offered.get(commitments[0]) if len(commitments) == 1 else None
        return offered is not None and offered.model_id == model_id

    def orders(self) -> list[tuple[int, Offered]]:
        """Opened offers that carry a gasless order (by input commitment): the lifecycle fills or refuses each."""
        return [(commitment, offered) for commitment, offered in self._offered.items() if offered.order]

    def drop(self, commitment: int) -> None:
        """Forget an offer whose order was refused (its early proof, if any, is left to finish unused)."""
        self._offered.pop(commitment, None)

    def prove_early(self, job_id: int, model_id: int, salted: InputData, inflight: Sequence[Future[Any]]) -> bool:
        """Start proving an uploaded input of an open job this worker is about to claim, if a prover is free."""
        if job_id in self.early or self.running(inflight) >= self.concurrency:
            return False
        early = self.provers.submit(self.opener.served[model_id].circuit, salted, self.opener.proof_path(job_id))
        early.add_done_callback(lambda _: self.wake.set())
        self.early[job_id] = early
        return True

    def forget(self, job_id: int) -> None:
        self.early.pop(job_id, None)
