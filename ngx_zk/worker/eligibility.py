"""Would I take this job? One answer for a posted job (the lifecycle's SEEN step) and a gasless order
(:mod:`ngx_zk.worker.orders`), so the two never disagree.

Both become :class:`Terms`, and :meth:`Eligibility.judge_terms` checks them: the provider's own
terms (:class:`~ngx_zk.worker.policy.ClaimPolicy`: price floor with the callback's gas priced in,
callback gas, claim margin, jobs held, prove window vs. proving time here), then what only the chain
knows (the model still active, the consumer's score and its deliverer's, this provider's NRS against
the job's minimum, free stake for the collateral), and last the griefing caps of issue #23: a consumer
with no rewarded settled history (``settledWeightMilli`` below ``FRESH_WEIGHT_MILLI``, one read of its
consumer facts) gets no job while this worker holds ``max_fresh_jobs`` such jobs or their collateral
would pass ``max_fresh_collateral``. With ``--avoid-flagged`` (``ClaimPolicy.avoid``), a consumer or deliverer
flagged by anomaly detection (:mod:`ngx_zk.anomaly`) is refused first, the flag's evidence in the reason. The :class:`Verdict` says whether the job is such a *fresh* one and
what collateral it locks: the lifecycle and the order filler journal both with the claim, and the jobs
held are counted from the journal (a restart keeps them). A posted job adds its own checks
(:meth:`Eligibility.judge`: still open, not one this provider missed), and an auction below the floor
is waited for rather than refused (:meth:`Eligibility.auction_wait`).

Most refusals are for good (the job's terms, the consumer's record, this provider's NRS). Those of a cap
that frees when a held job finishes are not (``Verdict.wait``): ``--max-claimed``, the fresh caps while
a fresh consumer's job is held, and free stake short of the collateral while held jobs lock enough of
it. A posted job so refused stays SEEN and is looked at again then (:mod:`~ngx_zk.worker.capped`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..chain.types import ZERO, Job, JobStatus, ModelStatus
from .journal import JobRecord
from .market_view import MarketView
from .policy import CLAIM_MARGIN_S, ClaimPolicy
from .standing import Standing

if TYPE_CHECKING:
    from ..chain.orders import Order
    from .jobfiles import Served

AUCTION_RECHECK_S = 5.0
"""Longest wait before an auction below this worker's floor is looked at again (chain time may run ahead of
the wall clock: the price is re-read rather than trusted to rise on schedule)."""


@dataclass(frozen=True)
class Terms:
    """What a provider weighs before taking a job, posted or ordered."""

    model_id: int
    consumer: str
    price: int
    """What the job pays if taken now (an auction's price of this moment)."""
    prove_window: int
    claim_left: float
    """Seconds (chain time) until the job can no longer be taken."""
    min_reputation: int
    callback_gas: int
    deliverer: str | None = None
    """Who besides the consumer may hand over the input (a contract consumer's): a junk input's harm lands there."""
    optimistic: bool = False
    """Settled optimistically: the result's proof must be served (``GET /v1/proofs``) until finalization."""

    @classmethod
    def posted(cls, job: Job, price: int, now: float, deliverer: str | None = None) -> Terms:
        """A posted job's terms at chain time ``now`` (``price``: its price now, which an auction's ramp sets;
        ``deliverer``: its JobExtras' deliverer, for a job that has one)."""
        return cls(
            job.model_id,
            job.consumer,
            price,
            job.prove_window,
            job.claim_deadline - now,
            job.min_reputation,
            job.callback_gas_limit,
            deliverer,
            job.optimistic,
        )

    @classmethod
    def ordered(cls, order: Order, now: float) -> Terms:
        """A signed order's terms at chain time ``now``."""
        t = order.terms
        return cls(
            t.model_id,
            order.consumer,
            order.price_at(int(now)),
            t.prove_window,
            order.deadline - now,
            t.min_reputation,
            t.callback_gas_limit,
            None if t.deliverer.lower() == ZERO else t.deliverer,
            t.settlement == 1,
        )


@dataclass(frozen=True)
class Verdict:
    """The answer to "would I take it?": ``reason`` None means yes; then ``fresh`` (its consumer has no paid
    history: the job counts against the fresh caps while held) and ``collateral`` (what the claim locks)."""

    reason: str | None
    fresh: bool = False
    collateral: int = 0
    wait: bool = False
    """Refused only until a job this worker holds finishes (a cap on what it holds): look again then."""


class Eligibility:
    """This provider's answer to "would I take it?" (``held``: how many jobs it holds now; ``fresh_held``: how
    many of them, and how much collateral, are for fresh consumers; ``held_collateral``: the collateral all the
    jobs it holds lock, which their ends free)."""

    def __init__(
        self,
        market: MarketView,
        standing: Standing,
        served: Mapping[int, Served],
        policy: ClaimPolicy,
        held: Callable[[], int],
        fresh_held: Callable[[], tuple[int, int]] = lambda: (0, 0),
        serves_proofs: bool = True,
        held_collateral: Callable[[], int] = lambda: 0,
    ) -> None:
        self.market, self.standing, self.served, self.policy, self.held = market, standing, served, policy, held
        self.fresh_held, self.held_collateral = fresh_held, held_collateral
        self.serves_proofs = serves_proofs
        """Whether this worker has an endpoint that serves optimistic jobs' proofs (``--listen``)."""

    def floor(self, model_id: int, callback_gas: int = 0) -> int:
        """The lowest price this worker takes for a job of ``model_id`` (its callback's gas priced in)."""
        return self.policy.floor(model_id, self.served[model_id].circuit, callback_gas)

    def refusal(self, record: JobRecord, job: Job) -> str | None:
        """Why this worker does not claim the posted ``job`` (None: it does)."""
        return self.judge(record, job).reason

    def terms_refusal(self, terms: Terms) -> str | None:
        """Why this worker would not take a job on these terms, posted or ordered (None: it would)."""
        return self.judge_terms(terms).reason

    def judge(self, record: JobRecord, job: Job) -> Verdict:
        """Would this worker claim the posted ``job``?"""
        if job.status is not JobStatus.OPEN:
            return Verdict(f"job is {job.status.value}")
        now = self.standing.now()
        price = self.market.price_at(record.job_id, int(now)) if job.auction else job.price
        extras = self.market.job_extras(record.job_id) if job.reopened or job.has_deliverer else None
        if extras is not None and job.reopened and (extras.missed_by or "").lower() == self.standing.me:
            return Verdict("this provider missed the job before it was reopened")
        deliverer = extras.deliverer if extras is not None and job.has_deliverer else None
        return self.judge_terms(Terms.posted(job, price, now, deliverer))

    def judge_terms(self, terms: Terms) -> Verdict:
        """Would this worker take a job on these terms, posted or ordered? Its own terms first (no reads), then
        the chain's answers, the consumer's facts last (only for a job every other check lets through)."""
        if terms.consumer.lower() == self.standing.me:
            return Verdict("own job")
        if self.policy.avoid is not None:  # --avoid-flagged: anomaly flags, re-read every few minutes
            for who in (terms.consumer, terms.deliverer):
                why = None if who is None else self.policy.avoid(who)
                if why:
                    return Verdict(f"avoided: {why}")
        if terms.optimistic and not self.serves_proofs:
            # Unserved, its proof would be challenged as unavailable every time: each answer costs a verification.
            return Verdict("optimistic job, and no endpoint serves its proof (start the worker with --listen)")
        policy = self.policy
        reason = policy.job_refusal(
            model_id=terms.model_id,
            circuit=self.served[terms.model_id].circuit,
            price=terms.price,
            prove_window=terms.prove_window,
            claim_left=terms.claim_left,
            callback_gas=terms.callback_gas,
        )
        if reason:
            return Verdict(reason)
        held = self.held()
        reason = policy.held_refusal(held)
        if reason:  # frees when a held job finishes (holding none, the cap is 0: for good)
            return Verdict(reason, wait=held > 0)
        status = self.market.model(terms.model_id).status  # fresh: a guardian may have paused it since start
        if status is not ModelStatus.ACTIVE:
            return Verdict(f"model {terms.model_id} is {status.value}")
        if policy.min_consumer_score:
            score = self.market.consumer_score(terms.consumer)
            if score < policy.min_consumer_score:
                return Verdict(f"consumer score {score} below this worker's minimum {policy.min_consumer_score}")
            if terms.deliverer is not None:  # the decline of a junk input weighs on the deliverer, not the consumer
                score = self.market.consumer_score(terms.deliverer)
                if score < policy.min_consumer_score:
                    return Verdict(
                        f"deliverer {terms.deliverer} scores {score}, below this worker's minimum {policy.min_consumer_score}"
                    )
        nrs, _ = self.market.nrs(self.standing.me)
        if nrs < terms.min_reputation:
            return Verdict(f"NRS {nrs} below the job's minimum {terms.min_reputation}")
        collateral = self.market.collateral_for(terms.price, nrs)
        free = self.market.free_stake(self.standing.me)
        if free < collateral:
            return Verdict("not enough free stake for the collateral", wait=free + self.held_collateral() >= collateral)
        if policy.max_fresh_jobs is None and policy.max_fresh_collateral is None:
            return Verdict(None, collateral=collateral)
        weight = self.market.consumer_facts(terms.consumer)["settled_weight_milli"]
        fresh_held, fresh_collateral = self.fresh_held()
        reason = policy.exposure_refusal(  # ClaimPolicy.refusal's last check, once the chain has answered the rest
            consumer_weight_milli=weight, fresh_held=fresh_held, fresh_collateral=fresh_collateral, collateral=collateral
        )
        wait = reason is not None and fresh_held > 0  # a fresh consumer's job held now frees the cap when it ends
        return Verdict(reason, fresh=policy.is_fresh(weight), collateral=collateral, wait=wait)

    def auction_wait(self, record: JobRecord, job: Job) -> float:
        """Seconds until an open auction's rising price reaches this worker's floor; 0 when it is there already,
        or never gets there before the claim window closes (then :meth:`refusal` says why)."""
        if job.status is not JobStatus.OPEN or not job.auction:
            return 0.0
        floor = self.floor(record.model_id, job.callback_gas_limit)
        now = self.standing.now()
        if floor > job.price or self.market.price_at(record.job_id, int(now)) >= floor:
            return 0.0
        reach = self.market.job_extras(record.job_id).reaches(floor, job.price)
        if reach is None or reach >= job.claim_deadline - CLAIM_MARGIN_S:
            return 0.0
        return float(min(AUCTION_RECHECK_S, max(1, reach - now)))
