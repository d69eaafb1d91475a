"""Which jobs a provider takes: its prices, how much it holds at once, and whether it can finish in time.

A claim locks collateral, and a claimed job that is not finished is slashed. So before claiming,
the worker checks (besides what the contract checks) that the job pays at least its minimum price,
that it does not hold too many jobs already, that the consumer's record is good enough, and that
the prove window leaves room for the consumer's input deadline (half the window), a proof at this
machine's measured speed and a submission margin.

A provider's price floor for a model is the largest of ``--min-price`` (per model or for all) and
``--price-per-second`` times the proving time measured here. An auction's price rises while it is
open: a job below the floor now but not at its maximum is claimed when its price reaches the floor
(:meth:`ClaimPolicy.floor` and ``JobTerms.price_at``), so the cheapest provider claims first.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from ..artifacts import Circuit

SUBMIT_MARGIN_S = 10.0
"""Seconds kept free at the end of a prove window for the submission to be mined."""
CLAIM_MARGIN_S = 5
"""Do not claim a job whose claim window closes sooner than this (the claim could land too late)."""
BASE_PROVE_S = 0.5
"""Proving-time estimate for a 2^10-row circuit before any proof was measured on this machine (doubles per logrow)."""


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
    prove_seconds: dict[int, list[float]] = field(default_factory=dict)
    """Proof times measured on this machine, per model id."""

    def expected_prove_s(self, model_id: int, circuit: Circuit) -> float:
        """The median measured proving time, or an estimate from the circuit's size until one was measured."""
        measured = self.prove_seconds.get(model_id)
        if measured:
            return float(statistics.median(measured[-20:]))
        return BASE_PROVE_S * 2.0 ** max(0, circuit.manifest.logrows - 10)

    def measured(self, model_id: int, seconds: float) -> None:
        self.prove_seconds.setdefault(model_id, []).append(seconds)

    def floor(self, model_id: int, circuit: Circuit) -> int:
        """The lowest price this worker takes for a job of ``model_id``."""
        by_time = int(self.price_per_second * self.expected_prove_s(model_id, circuit))
        return max(self.min_price_by_model.get(model_id, self.min_price), by_time)

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
    ) -> str | None:
        """Why this worker should not claim the job (None: claim it). ``consumer_score`` None: not looked up yet."""
        floor = self.floor(model_id, circuit)
        if price < floor:
            return f"price {price} below this worker's minimum {floor}"
        if callback_gas > self.max_callback_gas:
            return (
                f"callback gas limit {callback_gas:,} above this worker's maximum {self.max_callback_gas:,} (--max-callback-gas)"
            )
        if claim_left < CLAIM_MARGIN_S:
            return "claim window closing"
        if self.max_claimed is not None and held >= self.max_claimed:
            return f"already holding {held} job(s) (--max-claimed {self.max_claimed})"
        needed = self.expected_prove_s(model_id, circuit) + SUBMIT_MARGIN_S
        if prove_window / 2 < needed:
            return (
                f"prove window {prove_window}s too short: after the input deadline ({prove_window // 2}s) "
                f"a proof needs about {needed:.0f}s here"
            )
        if consumer_score is not None and consumer_score < self.min_consumer_score:
            return f"consumer score {consumer_score} below this worker's minimum {self.min_consumer_score}"
        return None

    def can_finish(self, model_id: int, circuit: Circuit, now: float, prove_deadline: int) -> bool:
        """Is there still time to prove and submit before ``prove_deadline``?"""
        return now + self.expected_prove_s(model_id, circuit) + SUBMIT_MARGIN_S < prove_deadline
