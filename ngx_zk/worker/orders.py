"""Gasless orders in the worker: check a consumer's signed order, fill it (post + claim in one transaction), go on as a claim.

An order arrives with an offer (see :mod:`ngx_zk.worker.offers`): the input is already opened and
checked against the order's commitment. Before spending gas the worker checks, off chain and by
reading the chain, everything ``fillOrder`` would revert on and everything it would refuse a posted
job for (the same :meth:`Eligibility.judge_terms <ngx_zk.worker.eligibility.Eligibility.judge_terms>`): the EIP-712 signature is the offering consumer's, the order
is for this model, this input and this provider (or any), it is live and its nonce unused, the
consumer holds the escrow and permitted (or approved) it. Then the transaction's dry run decides.
A refused order is journaled (``refusals``, source ``order``) and costs nothing but the checks.

The job enters the journal at CLAIMED, with the offer's input and early proof. A crash after the
fill but before that record is the crash-after-claim case: the JobPosted scan finds the job claimed
by this worker and the lifecycle takes it from CLAIMED (:meth:`Lifecycle.claim <ngx_zk.worker.lifecycle.Lifecycle.claim>`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..chain.orders import OrderError, SignedOrder
from ..chain.types import ZERO
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


class OrderFiller:
    def __init__(self, lifecycle: Lifecycle, market: Marketplace) -> None:
        self.lc = lifecycle
        self.market = market
        """The whole market client: filling an order takes more of it than the lifecycle's view."""

    def fill_all(self) -> bool:
        """Fill or refuse every offered order; True if a job was taken."""
        if self.lc.stopping:
            return False
        moved = False
        for commitment, offered in self.lc.crew.offers.orders():
            moved |= self.fill(commitment, offered)
        return moved

    def fill(self, commitment: int, offered: Offered) -> bool:
        c = self.lc.crew
        try:
            signed = SignedOrder.from_wire(offered.order)
            verdict = self.judge(signed, offered, commitment)
        except OrderError as exc:
            verdict = Verdict(exc.message)
        except ChainError as exc:  # the node is down: the next round tries again
            c.log("order.error", level="warning", consumer=offered.consumer, error=str(exc))
            return False
        if verdict.reason:
            return self._refuse(commitment, offered, verdict.reason)
        order = signed.order
        try:
            job_id, receipt = self.market.fill_order(c.signer, signed)
        except ContractRevert as exc:
            if exc.name in RETRY_REVERTS:
                return False
            return self._refuse(commitment, offered, f"the market refuses the fill: {exc.message}")
        except ChainError as exc:  # unknown whether it landed: the nonce makes a second fill revert, the scan finds ours
            c.log("order.error", level="warning", consumer=offered.consumer, nonce=order.nonce, error=str(exc))
            return False
        adopted = c.offers.adopt(job_id, order.terms.model_id, order.consumer, order.commitments)
        job = self.market.job(job_id)
        fields = dict(
            commitments=order.commitments,
            price=job.price,
            seen_block=receipt.block_number,
            claim_block=receipt.block_number,
            claim_tx=receipt.tx,
            offered=True,
            fresh=verdict.fresh,
            collateral=verdict.collateral,
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
        return True

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

    def _refuse(self, commitment: int, offered: Offered, reason: str) -> bool:
        c = self.lc.crew
        c.offers.drop(commitment)
        c.journal.refuse("order", reason, sender=offered.consumer, model_id=offered.model_id)
        c.log("order.refused", level="warning", consumer=offered.consumer, model_id=offered.model_id, reason=reason)
        return False
