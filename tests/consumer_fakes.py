"""The in-memory world the consumer's wait runs in for the fast tests (test_consumer_steps.py, test_consumer_optimistic.py).

``ChainFake`` is the chain's head and anvil's own clock; ``ViewFake`` the part of a market fake both tests share
(the head, the market's address, the dev-chain flag); ``Script`` the world between two looks at the job. Each
test's ``MarketFake`` adds the job table and the rules its wait relies on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import SimpleNamespace

from eth_utils.address import to_checksum_address

from ngx_zk.chain.signer import Signer, from_key
from ngx_zk.config import Secret

MARKET = to_checksum_address("0x" + "4d" * 20)
CONSUMER: Signer = from_key(Secret("0x" + "11" * 32))
POLL_S = 0.25
"""Seconds of the test's clock each pause takes (the wait's poll interval)."""


@dataclasses.dataclass
class ChainFake:
    """FAKE: the chain's head and anvil's own clock: the head's time stands still between blocks while the clock
    (the time the next block would carry) runs on, as on an idle devnet."""

    chain_id: int = 31337
    block: int = 1
    time: int = 1_000_000
    clock: int = 1_000_000
    mined_to_catch_up: int = 0

    def block_number(self) -> int:
        return self.block

    def timestamp(self) -> int:
        return self.time

    def mine(self, seconds: int = 1) -> None:
        self.clock += seconds
        self.block += 1
        self.time = self.clock

    def catch_up(self, deadline: int) -> int:
        """:func:`ngx_zk.chain.devnet.catch_up`'s rule: one empty block once the clock passed ``deadline``."""
        if self.time < deadline <= self.clock:
            self.mine(0)
            self.mined_to_catch_up += 1
        return self.time


class ViewFake:
    """FAKE: what every market fake of the consumer's wait holds besides its jobs (the shape of ``ConsumerView``'s
    attributes, which mypy checks for the real Marketplace)."""

    def __init__(self) -> None:
        self.chain = ChainFake()
        self.market = SimpleNamespace(address=MARKET)
        self.dev_chain = True


class Script:
    """The world between two looks at the job: each pause of the wait takes ``POLL_S`` of the test's clock and runs
    the next event; a wait that outlives its script fails the test. With ``clock``, the wall clock runs on with
    anvil's (an event that moves the chain's clock moves the wait's ``now`` too)."""

    def __init__(self, *events: Callable[[], object], clock: ChainFake | None = None) -> None:
        self.events = list(events)
        self.clock = clock
        self.t = 0.0

    def now(self) -> float:
        return self.t + (self.clock.clock if self.clock is not None else 0)

    def pause(self) -> None:
        self.t += POLL_S
        assert self.events, "the wait went on after the script ended"
        self.events.pop(0)()
