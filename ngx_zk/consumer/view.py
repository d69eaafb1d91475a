"""What the consumer's wait asks of the chain: the few reads and writes of :class:`ConsumerView`.

:class:`~ngx_zk.chain.market.Marketplace` is the real one; tests/test_consumer_steps.py drives the wait
through an in-memory fake of the same shape, and mypy checks both against these protocols (a method the
wait starts to use must be added here, and so to the fake).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..chain.types import Job, JobExtras, ProviderProfile

if TYPE_CHECKING:
    from ..chain.signer import Signer
    from ..chain.tx import Mined


class ChainView(Protocol):
    """The chain itself: which one, its head and the head's time."""

    @property
    def chain_id(self) -> int: ...
    def block_number(self) -> int: ...
    def timestamp(self) -> int: ...


class ContractView(Protocol):
    @property
    def address(self) -> str:
        """The JobMarket's address: sealed inputs and signed uploads are bound to it."""
        ...


class ConsumerView(Protocol):
    """The market as a waiting consumer uses it: its job, the claiming provider's keys, deliver and expire."""

    @property
    def chain(self) -> ChainView: ...
    @property
    def market(self) -> ContractView: ...
    @property
    def dev_chain(self) -> bool: ...

    def job(self, job_id: int) -> Job: ...
    def job_extras(self, job_id: int) -> JobExtras: ...
    def provider(self, address: str) -> ProviderProfile: ...
    def deliver_input(self, signer: Signer, job_id: int, payload: bytes) -> Mined: ...
    def delivery_shortfall(self, sender: str, job_id: int, payload: bytes) -> int: ...
    def expire(self, signer: Signer, job_id: int) -> Mined: ...
