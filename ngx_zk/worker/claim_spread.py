"""Claim spread (issue #25): who claims an open job first, so claim races do not grow with the number of providers.

Without it every provider that sees a new job and would take it sends ``claimJob`` in the same block: one
claim lands, every other one is mined as a revert and its gas is lost (a dry run cannot tell, as the
winning claim is not in the block it is run against yet). With P providers that is P - 1 wasted
transactions per job.

With it each provider derives, for each job, a score from ``keccak(jobId, keccak(commitments), provider
address)``: uniform on [0, 1), different for each job (so fair: each provider comes first for about 1/P of
the jobs), and the same for everyone who computes it. Times the number of registered providers N, the
score is the provider's expected rank among them. A provider whose rank is within the first ``first`` (k)
claims at once; the others wait a number of slots that grows with the logarithm of their rank (slot 1:
ranks k..2k, slot 2: 2k..4k, ...), then look again: by then the job is usually claimed, and a look (a
``job`` read) costs no gas. So about k providers race for a job whatever N is, and a job whose
first-ranked providers do not want it (their price floor, stake, NRS) waits at most
``slot_s * (1 + log2(N / k))`` after this provider first saw it (under 20 s at 1,000 providers); a lone
provider (N <= k) claims at once.

Gaming it. The job's input commitments are salted by the consumer (128 secret bits, and the registry
refuses a model without commitments), so nobody knows a job's scores before it is posted: an address
cannot be ground in advance to rank first for future jobs, and one ground after the post arrives too
late (it would still have to register and stake, while the first-ranked providers claim in the post's
next block). Every registered address has the same odds for every job, so a share s of the first
places costs s / (1 - s) * N registered identities, each with the market's minimum stake locked and
its registration and staking gas: the price of a fair share, not a cheap grind. A consumer can steer
its own job to a provider by grinding its salt, which it can do anyway with an offer. What the spread
cannot stop: it is a convention, not a rule of the contract, so a provider that claims every job at
once (``--no-claim-spread`` or its own client) races the ~k first-ranked ones and may win by paying a
higher tip; with D such providers about k + D claims race per job.

N is counted from ``ProviderRegistered`` events (read from the deployment block once, then only new
blocks, at most every ``REFRESH_S``): an upper bound of the providers that compete for a job, which only
ever makes a provider wait longer, never race more. A node that cannot answer leaves the last count
(1 before any answer: claim at once). Waits run on this machine's clock, not the chain's: a devnet that
mines only on transactions has no new blocks to wait for.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from eth_utils.crypto import keccak

from ..chain.types import ChainEvent, Logged, ProviderRegistered
from ..errors import ChainError
from .market_view import DeploymentView, HeadView

E = TypeVar("E", bound=ChainEvent)

SPREAD_FIRST = 2
"""Providers expected to claim a job at once (k): a lone pair never waits, and one of the first two
being busy or priced above the job rarely delays it."""
SPREAD_SLOT_S = 2.0
"""Seconds per slot: long enough for a claim sent at the start of a slot to be mined and read (a 2 s L2 block)."""
REFRESH_S = 60.0
"""Seconds between reads of new ProviderRegistered events."""
FORGET_AFTER_S = 3_600.0
"""Jobs first seen longer ago than this are forgotten (their wait is long over)."""


class SpreadView(Protocol):
    """What the spread reads: the head, the deployment block and typed logs."""

    @property
    def chain(self) -> HeadView: ...
    @property
    def deployment(self) -> DeploymentView: ...

    def logs(self, kind: type[E], from_block: int, to_block: int | None = None, **filters: Any) -> list[Logged[E]]: ...


def spread_score(job_id: int, commitments: Sequence[int], provider: str) -> float:
    """This provider's score for the job, uniform on [0, 1):
    ``keccak256(abi.encode(jobId, keccak256(abi.encodePacked(commitments)), provider)) / 2**256``."""
    salted = keccak(b"".join(c.to_bytes(32, "big") for c in commitments))
    word = keccak(job_id.to_bytes(32, "big") + salted + bytes(12) + bytes.fromhex(provider.lower().removeprefix("0x")))
    return int.from_bytes(word, "big") / 2**256


def spread_slot(score: float, competitors: int, first: int = SPREAD_FIRST) -> int:
    """The slot a provider with ``score`` claims in among ``competitors``: 0 (at once) for an expected rank
    below ``first``, then 1 + log2(rank / first)."""
    rank = score * max(1, competitors)
    if rank < first:
        return 0
    return 1 + int(math.log2(rank / first))


class ClaimSpread:
    """One provider's waits before claiming (``me``: its address; ``clock``: seconds, monotonic)."""

    def __init__(
        self,
        market: SpreadView,
        me: str,
        *,
        slot_s: float = SPREAD_SLOT_S,
        first: int = SPREAD_FIRST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not slot_s >= 0 or first < 1:
            raise ValueError(f"claim spread slot {slot_s}s / first {first}: the slot must be >= 0 s and first >= 1")
        self.market, self.me, self.slot_s, self.first, self.clock = market, me.lower(), slot_s, first, clock
        self._registered: set[str] = set()
        self._next_block: int | None = None
        self._read_at: float | None = None
        self._seen: dict[int, float] = {}
        """Job id -> when (``clock``) this provider first asked about it."""

    def competitors(self) -> int:
        """Providers registered on chain (this one counted once even before its own registration is read)."""
        now = self.clock()
        if self._read_at is None or now - self._read_at >= REFRESH_S:
            self._read_at = now
            try:
                head = self.market.chain.block_number()
                start = self.market.deployment.block if self._next_block is None else self._next_block
                if start <= head:
                    found = self.market.logs(ProviderRegistered, start, head)
                    self._registered.update(f.event.provider.lower() for f in found)
                    self._next_block = head + 1
            except ChainError:
                pass  # keep the last count; the next refresh asks again
        return len(self._registered | {self.me})

    def slot(self, job_id: int, commitments: Sequence[int]) -> int:
        return spread_slot(spread_score(job_id, commitments, self.me), self.competitors(), self.first)

    def wait_s(self, job_id: int, commitments: Sequence[int]) -> float:
        """Seconds this provider still waits before claiming ``job_id`` (0: claim now). The first call for
        a job starts its wait; a job whose turn came stays at 0."""
        now = self.clock()
        first_seen = self._seen.setdefault(job_id, now)
        if len(self._seen) > 4_096:
            self._seen = {j: t for j, t in self._seen.items() if now - t < FORGET_AFTER_S}
            self._seen.setdefault(job_id, first_seen)
        return max(0.0, first_seen + self.slot(job_id, commitments) * self.slot_s - now)
