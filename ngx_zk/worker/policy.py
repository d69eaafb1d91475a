"""Which jobs a provider takes: its prices, how much it holds at once, and whether it can finish in time.

A claim locks collateral, and a claimed job that is not finished is slashed. So before claiming,
the worker checks (besides what the contract checks) that the job pays at least its minimum price,
that it does not hold too many jobs already, that the consumer's record is good enough, and that
the prove window leaves room for the consumer's input deadline (half the window), a proof at this
machine's measured speed and a submission margin.

A provider's price floor for a model is the largest of ``--min-price`` (per model or for all) and
``--price-per-second`` times the proving time measured here, plus the gas of the consumer's callback
at ``price_per_gas`` (the provider pays it in the settlement), plus, with a fee model and ``ngx_per_eth``
(``--ngx-per-eth``), what the job's claim and submission cost on chain now: L2 gas at the next block's
price and, on an OP-stack chain, the L1 data fee of their bytes (:class:`~ngx_zk.chain.fees.FeeModel`;
the submission's size from the circuit's proof size and instance count). An auction's price rises while it is
open: a job below the floor now but not at its maximum is claimed when its price reaches the floor
(:meth:`ClaimPolicy.floor` and ``JobTerms.price_at``), so the cheapest provider claims first.

Against griefing (issue #23): a consumer with no rewarded settled history costs nothing to make, and
its junk input costs the provider a decline (free ones are few, then 10 % of the collateral). So the
jobs (and the collateral) held at once for such *fresh* consumers are capped, a consumer whose record
scores below ``DEFAULT_MIN_CONSUMER_SCORE`` is refused by the CLI's default, and a bad input is declined
with the reason whose evidence the chain checks (:func:`input_decline_reason`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from ..artifacts import Circuit
from ..chain.fees import DEFAULT_PROOF_BYTES, FeeModel, claim_shape, decline_shape, submit_shape, to_ngx
from ..chain.types import DeclineReason

SUBMIT_MARGIN_S = 10.0
"""Seconds kept free at the end of a prove window for the submission to be mined."""
CLAIM_MARGIN_S = 5
"""Do not claim a job whose claim window closes sooner than this (the claim could land too late)."""
BASE_PROVE_S = 0.5
"""Proving-time estimate for a 2^10-row circuit before any proof was measured on this machine (doubles per logrow)."""
DEFAULT_MIN_CONSUMER_SCORE = 60
"""The CLI's ``--min-consumer-score``: refuses a consumer with two chain-checked harms and no paid history (50),
takes a new one (100), one with a single harm (66), or one whose rewarded jobs outweigh its harms."""
FRESH_WEIGHT_MILLI = 1_000
"""A consumer whose rewarded settled jobs weigh less than one full-fee job (``settledWeightMilli``) is fresh."""
DEFAULT_MAX_FRESH_JOBS = 2
"""Most jobs held at once for fresh consumers: what a swarm of new addresses with junk inputs can tie up."""


@dataclass
class ClaimPolicy:
    """A provider's terms. Prices are in the token's smallest unit."""

    min_price: int = 0
    min_price_by_model: dict[int, int] = field(default_factory=dict)
    max_claimed: int | None = None
    """Most jobs held (claimed, not finished) at once; None for no cap."""
    min_consumer_score: int = 0
    price_per_second: int = 0
    """Price per second of proving measured on this machine (0: no such floor)."""
    max_callback_gas: int = 500_000
    """Largest callback gas limit this worker pays for in a settlement (a contract consumer's job)."""
    price_per_gas: int = 0
    """Token units per unit of gas: the floor adds the callback's gas limit at this rate (0: callback gas unpriced)."""
    max_fresh_jobs: int | None = DEFAULT_MAX_FRESH_JOBS
    """Most jobs held at once for fresh consumers (rewarded settled weight below FRESH_WEIGHT_MILLI); None: no cap."""
    max_fresh_collateral: int | None = None
    """Most collateral (token units) locked at once in jobs of fresh consumers; None: no cap."""
    prove_seconds: dict[int, list[float]] = field(default_factory=dict)
    """Proof times measured on this machine, per model id."""
    fee_model: FeeModel | None = None
    """What transactions cost on the chain now; with ``ngx_per_eth``, a job's own transactions join the floor."""
    ngx_per_eth: int = 0
    """NGX base units one unit of the chain's gas token (1 ETH) is worth to this provider (0: transactions unpriced)."""
    submissions: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Per model id: the submission gas (estimated) and proof bytes of this worker's last submission."""
    slash_bps: int = 5_000
    """Share of the collateral a missed prove deadline costs (ProtocolConfig.slashBps; the CLI reads the chain's)."""
    decline_slash_bps: int = 1_000
    """Share of the collateral a give-back (not free) costs (ProtocolConfig.declineSlashBps)."""
    avoid: Callable[[str], str | None] | None = None
    """Why a consumer (or a job's deliverer) is refused on anomaly flags (``--avoid-flagged``: one line naming the
    flag and its first evidence), None to take it; None here: flags are not consulted."""

    def expected_prove_s(self, model_id: int, circuit: Circuit) -> float:
        """The median measured proving time, or an estimate from the circuit's size until one was measured."""
        measured = self.prove_seconds.get(model_id)
        if measured:
            return float(statistics.median(measured[-20:]))
        return BASE_PROVE_S * 2.0 ** max(0, circuit.manifest.logrows - 10)

    def measured(self, model_id: int, seconds: float) -> None:
        self.prove_seconds.setdefault(model_id, []).append(seconds)

    def floor(self, model_id: int, circuit: Circuit, callback_gas: int = 0) -> int:
        """The lowest price this worker takes for a job of ``model_id`` whose consumer asks for ``callback_gas``
        (the provider pays that gas in the settlement, on top of its price for the work), plus what the job's
        transactions cost (:meth:`tx_cost`)."""
        by_time = int(self.price_per_second * self.expected_prove_s(model_id, circuit))
        work = max(self.min_price_by_model.get(model_id, self.min_price), by_time)
        return work + self.price_per_gas * callback_gas + self.tx_cost(model_id, circuit, callback_gas)

    def tx_cost(self, model_id: int, circuit: Circuit, callback_gas: int = 0) -> int:
        """NGX for the claim and the submission of a job at today's fees (0 without a fee model or ``ngx_per_eth``).
        The callback's gas is counted here unless ``price_per_gas`` prices it already."""
        if self.fee_model is None or not self.ngx_per_eth:
            return 0
        gas, proof_bytes = self.submissions.get(model_id, (None, DEFAULT_PROOF_BYTES))
        m = circuit.manifest
        submit = submit_shape(proof_bytes, m.instance_count, 0 if self.price_per_gas else callback_gas, gas)
        wei = self.fee_model.cost(claim_shape()) + self.fee_model.cost(submit)
        return to_ngx(wei, self.ngx_per_eth)

    def submitted(self, model_id: int, gas: int, proof_bytes: int) -> None:
        """A submission's gas limit and proof size: the floor prices the next job of the model with them."""
        self.submissions[model_id] = (gas, proof_bytes)

    def give_back_saves(self, collateral: int, free: bool = False) -> bool:
        """Does giving a job back now (paying the fee the chain asks, above the operator's cap if it must)
        cost less than the slash of letting its prove deadline pass? ``free``: a free decline (no slash)."""
        decline = 0 if free else collateral * self.decline_slash_bps // 10_000
        if self.fee_model is not None and self.ngx_per_eth:
            decline += to_ngx(self.fee_model.cost(decline_shape()), self.ngx_per_eth)
        return decline < collateral * self.slash_bps // 10_000

    @staticmethod
    def is_fresh(consumer_weight_milli: int) -> bool:
        """A consumer with no rewarded settled history to lose (``ConsumerFacts.settledWeightMilli``)."""
        return consumer_weight_milli < FRESH_WEIGHT_MILLI

    def exposure_refusal(
        self, *, consumer_weight_milli: int, fresh_held: int, fresh_collateral: int, collateral: int
    ) -> str | None:
        """Why this worker takes no more jobs of a fresh consumer now (None: it may). ``fresh_held`` and
        ``fresh_collateral``: jobs and collateral it holds now for fresh consumers; ``collateral``: this job's."""
        if not self.is_fresh(consumer_weight_milli):
            return None
        if self.max_fresh_jobs is not None and fresh_held >= self.max_fresh_jobs:
            return f"already holding {fresh_held} job(s) of consumers with no paid history (cap {self.max_fresh_jobs})"
        if self.max_fresh_collateral is not None and fresh_collateral + collateral > self.max_fresh_collateral:
            return (
                f"collateral {fresh_collateral + collateral} at risk with consumers with no paid history "
                f"(cap {self.max_fresh_collateral})"
            )
        return None

    def job_refusal(
        self,
        *,
        model_id: int,
        circuit: Circuit,
        price: int,
        prove_window: int,
        claim_left: float,
        callback_gas: int = 0,
    ) -> str | None:
        """Why the job's own terms are not this worker's (price, callback gas, claim and prove windows): a refusal
        for good, unlike :meth:`held_refusal` and :meth:`exposure_refusal`, which free when a held job finishes."""
        floor = self.floor(model_id, circuit, callback_gas)
        if price < floor:
            return f"price {price} below this worker's minimum {floor}"
        if callback_gas > self.max_callback_gas:
            return (
                f"callback gas limit {callback_gas:,} above this worker's maximum {self.max_callback_gas:,} (--max-callback-gas)"
            )
        if claim_left < CLAIM_MARGIN_S:
            return "claim window closing"
        needed = self.expected_prove_s(model_id, circuit) + SUBMIT_MARGIN_S
        if prove_window / 2 < needed:
            return (
                f"prove window {prove_window}s too short: after the input deadline ({prove_window // 2}s) "
                f"a proof needs about {needed:.0f}s here"
            )
        return None

    def held_refusal(self, held: int) -> str | None:
        """Why this worker takes no more jobs while it holds ``held`` (``--max-claimed``; None: it may)."""
        if self.max_claimed is not None and held >= self.max_claimed:
            return f"already holding {held} job(s) (--max-claimed {self.max_claimed})"
        return None

    def refusal(
        self,
        *,
        model_id: int,
        circuit: Circuit,
        price: int,
        prove_window: int,
        claim_left: float,
        held: int,
        consumer_score: int | None,
        callback_gas: int = 0,
        consumer_weight_milli: int | None = None,
        fresh_held: int = 0,
        fresh_collateral: int = 0,
        collateral: int = 0,
    ) -> str | None:
        """Why this worker should not claim the job (None: claim it). ``consumer_score`` and
        ``consumer_weight_milli`` (the consumer's ``settledWeightMilli``) None: not looked up yet; the
        exposure caps apply once the weight is given (see :meth:`exposure_refusal` for the other three)."""
        reason = self.job_refusal(
            model_id=model_id,
            circuit=circuit,
            price=price,
            prove_window=prove_window,
            claim_left=claim_left,
            callback_gas=callback_gas,
        )
        if reason is None:
            reason = self.held_refusal(held)
        if reason is None and consumer_score is not None and consumer_score < self.min_consumer_score:
            reason = f"consumer score {consumer_score} below this worker's minimum {self.min_consumer_score}"
        if reason is None and consumer_weight_milli is not None:
            reason = self.exposure_refusal(
                consumer_weight_milli=consumer_weight_milli,
                fresh_held=fresh_held,
                fresh_collateral=fresh_collateral,
                collateral=collateral,
            )
        return reason

    def can_finish(self, model_id: int, circuit: Circuit, now: float, prove_deadline: int) -> bool:
        """Is there still time to prove and submit before ``prove_deadline``?"""
        return now + self.expected_prove_s(model_id, circuit) + SUBMIT_MARGIN_S < prove_deadline


def input_decline_reason(*, on_chain: bool, deadline_passed: bool) -> DeclineReason | None:
    """The decline for a claimed job whose input is missing or does not open its commitment, chosen by the
    evidence the chain accepts (None: wait, the consumer may still deliver).

    ``on_chain``: something was delivered on chain (``FLAG_INPUT_ON_CHAIN``; then InputMissing reverts).
    Nothing on chain: wait for the input deadline, then InputMissing, which the chain checks (deadline passed,
    nothing delivered) and weighs fully on the consumer; an off-chain junk input is no evidence anyone else can
    check, and declining it early would give the consumer no chance to deliver. Junk on chain: InputInvalid
    (weighed on the consumer by this provider's paid history). Both are free while free declines last."""
    if on_chain:
        return DeclineReason.INPUT_INVALID
    return DeclineReason.INPUT_MISSING if deadline_passed else None
