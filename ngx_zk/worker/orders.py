"""Gasless orders in the worker: check a consumer's signed order, fill it (post + claim in one transaction), go on as a claim.

An order arrives with an offer (see :mod:`ngx_zk.worker.offers`): the input is already opened and
checked against the order's commitment. Before spending gas the worker checks, off chain and by
reading the chain, everything ``fillOrder`` would revert on and everything it would refuse a posted
job for (the same :meth:`Eligibility.judge_terms <ngx_zk.worker.eligibility.Eligibility.judge_terms>`): the EIP-712 signature is the offering consumer's, the order
is for this model, this input and this provider (or any), it is live and its nonce unused, the
consumer holds the escrow and permitted (or approved) it. Then the transaction's dry run decides.
A refused order is journaled (``refusals``, source ``order``) and costs nothing but the checks.
An order refused only by a cap on what this worker holds (``--max-claimed``, the fresh-consumer caps, stake
locked in held jobs) is not refused: its offer is kept and it is judged again once a held job ends, at the latest
as its deadline nears (:mod:`ngx_zk.worker.capped`, as a posted job waits SEEN).

With ``--fill-batch N`` (N > 1) every order that passes in one round goes out in ``fillOrders``
transactions of up to N orders (:mod:`ngx_zk.worker.order_batch`); a lone order still takes ``fillOrder``.

The job enters the journal at CLAIMED, with the offer's input and early proof. A crash after the
fill but before that record is the crash-after-claim case: the JobPosted scan finds the job claimed
by this worker and the lifecycle takes it from CLAIMED (:meth:`Lifecycle.claim <ngx_zk.worker.lifecycle.Lifecycle.claim>`).
A fill whose fate is unknown (the node failed while it was sent) cannot fill twice: the order's nonce makes
a second fill revert (or be skipped), and once the nonce reads used the filler looks for its own
``OrderFilled`` and leaves an order that landed to that scan, offer and early proof included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..chain.orders import OrderError, SignedOrder
from ..chain.tx import Mined
from ..chain.types import ZERO, OrderFilled
from ..errors import ChainError, ContractRevert
from .eligibility import Terms, Verdict
from .journal import Step
from .offers import Offered

if TYPE_CHECKING:
    from ..chain.market import Marketplace
    from .lifecycle import Lifecycle

ORDER_MARGIN_S = 5
"""An order whose deadline is closer than this (chain time) is refused: the fill might land after it."""
CLOCK_SKEW_S = 60
"""How far in the future an order's ``signed_at`` may be (the consumer's clock against chain time)."""
RETRY_REVERTS = {"EnforcedPause"}
"""A fill that reverted for one of these is tried again next round (until the offer or order expires)."""


@dataclass(frozen=True)
class Pending:
    """An offered order that passed every check this round: what a fill needs and what the journal keeps."""

    commitment: int
    offered: Offered
    signed: SignedOrder
    verdict: Verdict

    @property
    def key(self) -> tuple[str, int]:
        return self.signed.order.consumer.lower(), self.signed.order.nonce


class OrderFiller:
    def __init__(self, lifecycle: Lifecycle, market: Marketplace) -> None:
        self.lc = lifecycle
        self.market = market
        """The whole market client: filling an order takes more of it than the lifecycle's view."""
        self.sent: dict[tuple[str, int], int] = {}
        """(consumer, nonce) -> the block before a fill whose fate is unknown (the node failed while it was sent)."""

    def fill_all(self) -> bool:
        """Fill or refuse every offered order; True if a job was taken."""
        if self.lc.stopping:
            return False
        moved = False
        for commitment, offered in self.lc.crew.offers.orders():
            moved |= self.fill(commitment, offered)
        return moved

    def fill(self, commitment: int, offered: Offered) -> bool:
        """Check one offered order and fill it alone (``fillOrder``)."""
        pending = self.vet(commitment, offered)
        return pending is not None and self.fill_one(pending)

    def vet(self, commitment: int, offered: Offered) -> Pending | None:
        """The order, if it passes every check now; None once refused, left to the scan, or the node is down."""
        c, capped = self.lc.crew, self.lc.capped
        try:
            signed = SignedOrder.from_wire(offered.order)
        except OrderError as exc:
            self.refuse(commitment, offered, exc.message)
            return None
        key = ("order", signed.order.consumer.lower(), signed.order.nonce)
        if capped.waiting(key):
            return None  # nothing held has ended since a cap held it back: no read yet
        was_waiting = capped.looked_at(key)
        try:
            verdict = self.judge(signed, offered, commitment)
        except OrderError as exc:
            verdict = Verdict(exc.message)
        except ChainError as exc:  # the node is down: the next round tries again
            c.log("order.error", level="warning", consumer=offered.consumer, error=str(exc))
            return None
        if verdict.reason and verdict.wait:  # a cap on what this worker holds: kept until a held job ends
            capped.wait(key, signed.order.deadline - ORDER_MARGIN_S - self.lc.standing.now())
            if not was_waiting:  # said once per order, not once per look
                c.log("order.waiting", consumer=offered.consumer, nonce=signed.order.nonce, reason=verdict.reason)
            return None
        if verdict.reason:
            if self.landed(signed):
                return None
            self.refuse(commitment, offered, verdict.reason)
            return None
        return Pending(commitment, offered, signed, verdict)

    def fill_one(self, p: Pending) -> bool:
        c, order = self.lc.crew, p.signed.order
        self.sent.setdefault(p.key, self.market.chain.block_number())
        try:
            job_id, receipt = self.market.fill_order(c.signer, p.signed)
        except ContractRevert as exc:
            self.sent.pop(p.key, None)
            if exc.name in RETRY_REVERTS:
                return False
            return self.refuse(p.commitment, p.offered, f"the market refuses the fill: {exc.message}")
        except ChainError as exc:  # unknown whether it landed: the nonce makes a second fill revert, the scan finds ours
            c.log("order.error", level="warning", consumer=p.offered.consumer, nonce=order.nonce, error=str(exc))
            return False
        self.sent.pop(p.key, None)
        self.taken(p, job_id, receipt)
        return True

    def taken(self, p: Pending, job_id: int, receipt: Mined) -> None:
        """The order became ``job_id``, claimed by this worker: journal it CLAIMED with the offer's input and proof."""
        c, order = self.lc.crew, p.signed.order
        adopted = c.offers.adopt(job_id, order.terms.model_id, order.consumer, order.commitments)
        job = self.market.job(job_id)
        fields = dict(
            commitments=order.commitments,
            price=job.price,
            seen_block=receipt.block_number,
            claim_block=receipt.block_number,
            claim_tx=receipt.tx,
            offered=True,
            fresh=p.verdict.fresh,
            collateral=p.verdict.collateral,
        )
        if adopted is not None:
            fields.update(input_path=str(c.opener.save_input(job_id, adopted.salted)), reply_to=adopted.reply_to.hex())
        record = c.journal.record(job_id, order.terms.model_id, Step.CLAIMED, note="order filled", **fields)
        c.crash_point("claimed")
        c.stats.claimed_ids.add(job_id)
        c.metrics.inc("ngx_worker_claims_total")
        c.metrics.inc("ngx_worker_orders_filled_total")
        c.log("job.claimed", job_id=job_id, tx=receipt.tx, order=order.nonce, consumer=order.consumer, price=job.price)
        self.lc.proving.await_input(record, claimed=job)

    def landed(self, signed: SignedOrder) -> bool:
        """A fill of ``signed`` whose fate was unknown landed, for this provider: its job is the JobPosted scan's to
        adopt (with the offer and its early proof), so the offer stays. False otherwise (and it is forgotten)."""
        key = (signed.order.consumer.lower(), signed.order.nonce)
        if key not in self.sent:
            return False
        c = self.lc.crew
        found = self.market.logs(OrderFilled, self.sent[key], consumer=signed.order.consumer, nonce=signed.order.nonce)
        if found and found[-1].event.provider.lower() == self.lc.standing.me:
            c.log("order.landed", job_id=found[-1].event.job_id, consumer=signed.order.consumer, nonce=signed.order.nonce)
            del self.sent[key]
            return True
        del self.sent[key]
        return False

    def refusal(self, signed: SignedOrder, offered: Offered, commitment: int) -> str | None:
        """Why this worker does not fill ``signed`` (None: it does)."""
        return self.judge(signed, offered, commitment).reason

    def judge(self, signed: SignedOrder, offered: Offered, commitment: int) -> Verdict:
        """Would this worker fill ``signed``? Off-chain checks first, then reads."""
        lc, order = self.lc, signed.order
        now = lc.standing.now()
        verdict = Verdict(self._order_refusal(signed, offered, commitment, now))
        if verdict.reason:
            return verdict
        verdict = lc.eligibility.judge_terms(Terms.ordered(order, now))
        if verdict.reason:
            return verdict
        terms = order.terms
        if self.market.balance(order.consumer) < terms.max_price:
            return Verdict(f"{order.consumer} holds less than the order's escrow")
        permit = signed.permit
        if (permit.v == 0 or permit.deadline <= now) and self.market.allowance(order.consumer) < terms.max_price:
            return Verdict("the order carries no live permit and the consumer approved less than its escrow")
        return verdict

    def _order_refusal(self, signed: SignedOrder, offered: Offered, commitment: int, now: float) -> str | None:
        """What of the order itself ``fillOrder`` would revert on: signature, match with the offer, provider, time, nonce."""
        lc, order = self.lc, signed.order
        market, me = self.market, lc.standing.me
        signer = signed.signer(market.chain.chain_id, market.market.address)
        if signer is None or signer.lower() != order.consumer.lower():
            return "the order's signature is not its consumer's (for this market and chain)"
        if order.consumer.lower() != offered.consumer.lower():
            return f"the order is {order.consumer}'s, the offer {offered.consumer}'s"
        if order.terms.model_id != offered.model_id or order.commitments != (commitment,):
            return "the order is for another model or another input than the offer it came with"
        if order.provider.lower() not in (ZERO, me):
            return f"the order names provider {order.provider}"
        if order.deadline <= now + ORDER_MARGIN_S:
            return "the order has expired"
        if order.signed_at > now + CLOCK_SKEW_S:
            return "the order is signed in the future"
        if market.order_nonce_used(order.consumer, order.nonce):
            return f"order nonce {order.nonce} of {order.consumer} was filled or cancelled already"
        return None

    def refuse(self, commitment: int, offered: Offered, reason: str) -> bool:
        """Drop the offer and journal why (``refusals``, source ``order``); False: nothing was taken."""
        c = self.lc.crew
        c.offers.drop(commitment)
        c.journal.refuse("order", reason, sender=offered.consumer, model_id=offered.model_id)
        c.log("order.refused", level="warning", consumer=offered.consumer, model_id=offered.model_id, reason=reason)
        return False
