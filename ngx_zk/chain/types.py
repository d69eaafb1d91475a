"""The marketplace's vocabulary, without web3: every room says "job", "status" and "event" in these words.

Read in this order: the dev-chain check; the enums and job flags that mirror the Solidity interfaces
(same names, same order, pinned by tests/test_chain_types.py); the records the contracts return
(:class:`Job`, :class:`JobExtras`, :class:`ModelEntry`, :class:`ProviderProfile`) and the terms a consumer
posts (:class:`JobTerms`, with the contract's checks and the auction's price maths); the hashes the market
stores; then one frozen dataclass per event the Python reads, with snake_case fields in ABI order and
the log's position (:class:`LogMeta`) kept apart in :class:`Logged`. Logs become these records in one place
only, :mod:`ngx_zk.chain.events`.

This module imports neither web3 nor eth_utils at import time: the CLI and the pipeline may use the
words without paying for the chain client.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum, StrEnum
from typing import Any, ClassVar, Generic, Literal, TypeVar

from ..errors import NgxZkError
from .chain_event import ChainEvent as ChainEvent  # the base of the records below (and of settlement_types)

ZERO = "0x0000000000000000000000000000000000000000"
DEV_CHAIN_ID = 31337
"""anvil's chain id: the local devnet, whose dev accounts have public keys."""


def is_dev_chain(chain_id: int, dev_deployment: bool = True) -> bool:
    """The local dev chain: anvil's chain id, and (where a deployment is known) a deployment marked dev.

    What it allows (test-SRS verifiers, private endpoint addresses, dev accounts) must never pass on a
    chain holding real value, so both must agree."""
    return chain_id == DEV_CHAIN_ID and dev_deployment


# --- enums mirroring the contracts ----------------------------------------------------------------
class JobStatus(StrEnum):
    """Mirrors ``IJobMarket.JobStatus`` (same names, same order; pinned by tests/test_chain_types.py)."""

    NONE = "None"
    OPEN = "Open"
    CLAIMED = "Claimed"
    SETTLED = "Settled"
    EXPIRED = "Expired"
    CANCELLED = "Cancelled"
    SUBMITTED = "Submitted"
    """An optimistic result waits out its challenge window (IJobSettlement)."""
    CHALLENGED = "Challenged"
    """An optimistic result was challenged: its provider must answer with the proof."""

    @classmethod
    def from_index(cls, index: int) -> JobStatus:
        return list(cls)[index]

    @property
    def final(self) -> bool:
        return self in (JobStatus.SETTLED, JobStatus.EXPIRED, JobStatus.CANCELLED)


JobStatusName = Literal["Open", "Claimed", "Settled", "Expired", "Cancelled", "Submitted", "Challenged"]
"""A posted job's status as text, for typed schemas (the explorer's API); pinned to :class:`JobStatus` by a test."""

TRANSITIONS = {
    JobStatus.OPEN: {JobStatus.CLAIMED, JobStatus.CANCELLED, JobStatus.EXPIRED},
    JobStatus.CLAIMED: {JobStatus.SETTLED, JobStatus.EXPIRED, JobStatus.CANCELLED, JobStatus.OPEN, JobStatus.SUBMITTED},
    JobStatus.SUBMITTED: {JobStatus.SETTLED, JobStatus.CHALLENGED},
    JobStatus.CHALLENGED: {JobStatus.SETTLED, JobStatus.EXPIRED},
}
"""The lifecycle the contract enforces (Claimed -> Cancelled is a provider's decline; Claimed -> Open is a
missed job reopened once for a second prover; Claimed -> Submitted -> Settled an optimistic result finalized,
Submitted -> Challenged -> Settled (answered) or Expired (upheld))."""


class ModelStatus(StrEnum):
    """Mirrors ``IModelRegistry.ModelStatus``."""

    NONE = "None"
    ACTIVE = "Active"
    DEPRECATED = "Deprecated"
    PAUSED = "Paused"

    @classmethod
    def from_index(cls, index: int) -> ModelStatus:
        return list(cls)[index]


class VerifierKind(int, Enum):
    """Mirrors ``IModelRegistry.VerifierKind``."""

    DEDICATED = 0
    REUSABLE = 1


class DeclineReason(IntEnum):
    """Mirrors ``IJobMarket.DeclineReason``: why a provider gives a claimed job back.

    ``INPUT_MISSING`` (after the input deadline, nothing delivered on chain) and ``INPUT_INVALID`` are
    free while the provider has free declines left; ``OTHER`` always costs collateral and reputation."""

    OTHER = 0
    INPUT_MISSING = 1
    INPUT_INVALID = 2


FLAG_NO_REWARD = 1
"""Job flag, set at settlement: the statement (verifier code, VKA, commitments) was settled before on any model id
(a replay), or the verifier is not allow-listed; it earns no reward, NRS or rating."""
FLAG_INPUT_ON_CHAIN = 2
"""Job flag: the consumer delivered the input on chain (``deliverInput``) for this claim."""
FLAG_AUCTION = 4
"""Job flag: a reverse Dutch auction whose price is not locked yet (``price`` is the escrowed maximum)."""
FLAG_REOPENED = 8
"""Job flag: its first provider missed it; it was reopened for a second prover, with a bounty."""
FLAG_DELIVERER = 16
"""Job flag: a deliverer besides the consumer may hand over the input."""
FLAG_OPTIMISTIC = 32
"""Job flag: settled optimistically (``JobTerms.settlement == 1``): results in a batch, finalized after a challenge window."""

MAX_CALLBACK_GAS = 2_000_000
"""``JobMarket.MAX_CALLBACK_GAS``: the most gas a job may reserve for its consumer's callback."""
MAX_MIN_REPUTATION = 100
"""NRS runs 0-100: a job cannot ask for more."""


# --- records the contracts return -----------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    job_id: int
    consumer: str
    status: JobStatus
    provider: str | None
    price: int
    collateral: int
    model_id: int
    claim_deadline: int
    prove_deadline: int
    prove_window: int
    min_reputation: int
    rating: int
    commitments_hash: bytes
    flags: int = 0
    callback_gas_limit: int = 0
    """Gas the market gives the consumer's ``onInferenceResult`` at settlement (0: no callback)."""

    @property
    def no_reward(self) -> bool:
        return bool(self.flags & FLAG_NO_REWARD)

    @property
    def auction(self) -> bool:
        """An auction not claimed yet: the claim locks the ramp's price of that moment, not ``price``."""
        return bool(self.flags & FLAG_AUCTION)

    @property
    def reopened(self) -> bool:
        return bool(self.flags & FLAG_REOPENED)

    @property
    def optimistic(self) -> bool:
        """Settled optimistically: the provider commits to a proof it must serve until finalization."""
        return bool(self.flags & FLAG_OPTIMISTIC)

    @property
    def has_deliverer(self) -> bool:
        return bool(self.flags & FLAG_DELIVERER)

    @property
    def input_on_chain(self) -> bool:
        return bool(self.flags & FLAG_INPUT_ON_CHAIN)

    @property
    def input_deadline(self) -> int:
        """The consumer must have handed over a valid input before this (0 while unclaimed)."""
        return self.prove_deadline - self.prove_window // 2 if self.prove_deadline else 0


@dataclass(frozen=True)
class JobExtras:
    """``IJobMarket.JobExtras``: what only some jobs have (zeros otherwise)."""

    min_price: int
    ramp_start: int
    ramp_length: int
    deliverer: str | None
    missed_by: str | None
    """The provider that missed the job before it was reopened."""
    bounty: int
    """Held for the provider that finishes a reopened job (0 once paid or burned)."""

    def reaches(self, floor: int, max_price: int) -> int | None:
        """Chain time at which this auction's price (rising to ``max_price``) first reaches ``floor``;
        None if it never does."""
        if self.min_price >= max_price or not self.ramp_length:  # not a rising ramp: the price is fixed
            return self.ramp_start if floor <= max_price else None
        after = JobTerms.ramp(self.min_price, max_price, self.ramp_length).seconds_to_reach(floor)
        return None if after is None else self.ramp_start + after


@dataclass(frozen=True)
class ModelEntry:
    model_id: int
    onnx_hash: bytes
    settings_hash: bytes
    vk_digest: bytes
    verifier: str
    kind: VerifierKind
    input_commitment_count: int
    output_count: int
    royalty_bps: int
    status: ModelStatus
    insecure_test_srs: bool
    owner: str
    metadata_uri: str
    verifier_code_hash: bytes = b""
    artifacts_hash: bytes = b""
    last_unpaused_at: int = 0


@dataclass(frozen=True)
class ProviderProfile:
    """A provider's stake and profile, as ``IProviderStaking.getProvider`` returns it (fields by ABI name).
    An address that never registered reads as zeros with ``registered`` False."""

    address: str
    staked: int
    locked: int
    """Collateral held for live jobs (part of ``staked``)."""
    unbonding: int
    unbonding_release_at: int
    registered_at: int
    registered: bool
    encryption_pub_key: bytes
    """The X25519 key consumers seal job inputs to."""
    endpoint_uri: str
    """The data-plane endpoint ("" when none is registered)."""


# --- the terms a consumer posts -------------------------------------------------------------------
class TermsError(NgxZkError):
    """Job terms the market would refuse whatever its configuration (checked before anything is signed)."""

    code = "terms"


_UINT_BITS = {
    "model_id": 256,
    "min_price": 96,
    "max_price": 96,
    "ramp_delay": 32,
    "ramp_length": 32,
    "claim_window": 32,
    "prove_window": 32,
    "min_reputation": 8,
    "callback_gas_limit": 32,
    "settlement": 8,
}


@dataclass(frozen=True)
class JobTerms:
    """``IJobMarket.JobTerms``: a job's price (fixed, or a reverse Dutch auction) and its contract-consumer options.

    An auction's price rises linearly from ``min_price`` (until ``ramp_delay`` seconds after posting) to
    ``max_price`` (``ramp_length`` seconds later); ``max_price`` is escrowed and what a claim does not lock
    comes back to the consumer. Prices are in the token's smallest unit. Construction checks what
    ``JobMarket._checkExtras`` checks (the governed bounds on price and windows are the chain's to say)
    and raises :class:`TermsError`."""

    model_id: int
    min_price: int
    max_price: int
    claim_window: int
    prove_window: int
    min_reputation: int = 0
    ramp_delay: int = 0
    ramp_length: int = 0
    deliverer: str = ZERO
    callback_gas_limit: int = 0
    settlement: int = 0
    """0 eager (the proof is verified at submission), 1 optimistic (``IJobSettlement``: results finalize after a
    challenge window)."""

    def __post_init__(self) -> None:
        for name, bits in _UINT_BITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
                raise TermsError(f"job terms: {name} must be a uint{bits}, not {value!r}")
        if not re.fullmatch(r"0x[0-9a-fA-F]{40}", self.deliverer):
            raise TermsError(f"job terms: deliverer {self.deliverer!r} is not a 0x address", "give a 20-byte hex address")
        if self.auction and (
            self.min_price >= self.max_price or self.ramp_length == 0 or self.ramp_delay + self.ramp_length > self.claim_window
        ):
            raise TermsError(
                f"job terms: an auction's price must rise (min {self.min_price} < max {self.max_price}) over a ramp "
                f"({self.ramp_delay}s delay + {self.ramp_length}s) that ends within the claim window ({self.claim_window}s)",
                "give a lower start price, a ramp of at least 1 s, or a longer claim window",
            )
        if self.min_reputation > MAX_MIN_REPUTATION:
            raise TermsError(f"job terms: min reputation {self.min_reputation} is above {MAX_MIN_REPUTATION}")
        if self.callback_gas_limit > MAX_CALLBACK_GAS:
            raise TermsError(f"job terms: callback gas {self.callback_gas_limit} is above the market's {MAX_CALLBACK_GAS}")
        if self.settlement not in (0, 1):
            raise TermsError(f"job terms: settlement {self.settlement} is neither 0 (eager) nor 1 (optimistic)")

    @classmethod
    def fixed(cls, model_id: int, price: int, claim_window: int, prove_window: int, min_reputation: int = 0) -> JobTerms:
        return cls(model_id, price, price, claim_window, prove_window, min_reputation)

    @classmethod
    def ramp(cls, min_price: int, max_price: int, ramp_length: int) -> JobTerms:
        """Just a price ramp starting at 0 s (for the price maths of a posted auction, whose windows are set)."""
        return cls(0, min_price, max_price, ramp_length, 0, ramp_length=ramp_length)

    @property
    def auction(self) -> bool:
        """The contract's test: any ramp field set makes an auction (which must then rise)."""
        return self.min_price != self.max_price or self.ramp_length != 0 or self.ramp_delay != 0

    def price_at(self, seconds_after_post: float) -> int:
        """The price a claim this long after posting locks (the contract's formula, rounded down)."""
        start = self.ramp_delay
        if not self.auction or seconds_after_post <= start:
            return self.min_price
        elapsed = int(seconds_after_post - start)
        if elapsed >= self.ramp_length:
            return self.max_price
        return self.min_price + (self.max_price - self.min_price) * elapsed // self.ramp_length

    def seconds_to_reach(self, floor: int) -> int | None:
        """The fewest whole seconds after posting at which :meth:`price_at` is at least ``floor``; None if never."""
        if floor <= self.min_price:
            return 0
        if floor > self.max_price:
            return None
        # price_at(delay + e) >= floor  <=>  (max - min) * e >= (floor - min) * length  (floor division)
        span = self.max_price - self.min_price
        return self.ramp_delay + -(-(floor - self.min_price) * self.ramp_length // span)

    def as_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple, in ``IJobMarket.JobTerms`` field order (pinned by tests/test_chain_types.py)."""
        from eth_utils.address import to_checksum_address  # imported late: see the module docstring

        return (
            self.model_id,
            self.min_price,
            self.max_price,
            self.ramp_delay,
            self.ramp_length,
            self.claim_window,
            self.prove_window,
            self.min_reputation,
            to_checksum_address(self.deliverer),
            self.callback_gas_limit,
            self.settlement,
        )


# --- hashes and names ------------------------------------------------------------------------------
def commitments_hash(commitments: Sequence[int]) -> bytes:
    """``keccak256(abi.encodePacked(uint256[]))`` of a job's input commitments, as ``Job.commitmentsHash`` stores it."""
    from eth_utils.crypto import keccak  # imported late: see the module docstring

    return keccak(b"".join(int(c).to_bytes(32, "big") for c in commitments))


def outputs_hash(outputs: Sequence[int]) -> bytes:
    """``keccak256(abi.encodePacked(uint256[]))`` of a settled job's outputs, as ``outputsHashOf`` stores it."""
    return commitments_hash(outputs)


def snake(name: str) -> str:
    """An ABI name in Python's spelling: ``proveDeadline`` -> ``prove_deadline``, ``endpointURI`` -> ``endpoint_uri``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# --- events -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogMeta:
    """Where a log sits on chain: not part of what the event says."""

    block_number: int
    tx_hash: str
    """0x hex."""
    log_index: int


E = TypeVar("E")


@dataclass(frozen=True)
class Logged(Generic[E]):
    """An event and where it was logged."""

    event: E
    meta: LogMeta


@dataclass(frozen=True)
class JobPosted(ChainEvent):
    job_id: int
    consumer: str
    model_id: int
    input_commitments: tuple[int, ...]
    price: int
    claim_deadline: int
    prove_window: int
    min_reputation: int


@dataclass(frozen=True)
class JobTermsSet(ChainEvent):
    job_id: int
    min_price: int
    ramp_start: int
    ramp_length: int
    deliverer: str
    callback_gas_limit: int
    settlement: int


@dataclass(frozen=True)
class JobClaimed(ChainEvent):
    job_id: int
    provider: str
    collateral: int
    prove_deadline: int


@dataclass(frozen=True)
class JobPriceLocked(ChainEvent):
    job_id: int
    price: int
    refund: int


@dataclass(frozen=True)
class InputDelivered(ChainEvent):
    job_id: int
    consumer: str
    provider: str
    payload: bytes


@dataclass(frozen=True)
class JobSettled(ChainEvent):
    job_id: int
    provider: str
    outputs: tuple[int, ...]
    provider_pay: int
    royalty: int
    fee: int
    reward: int


@dataclass(frozen=True)
class JobDeclined(ChainEvent):
    job_id: int
    provider: str
    refund: int
    """What came back to the consumer: the price less ``burned``."""
    reason: DeclineReason
    free: bool
    slashed: int
    burned: int
    """The input rule's cut (issue 23, item 1): a costly InputMissing or InputInvalid decline burns
    min(slashed, price) of the consumer's escrow; zero for a free or an Other decline."""


@dataclass(frozen=True)
class JobExpired(ChainEvent):
    job_id: int
    provider: str
    refund: int
    slashed: int
    burned: int


@dataclass(frozen=True)
class JobReopened(ChainEvent):
    job_id: int
    missed_by: str
    slashed: int
    bounty: int
    claim_deadline: int


@dataclass(frozen=True)
class JobCancelled(ChainEvent):
    job_id: int
    consumer: str
    refund: int


@dataclass(frozen=True)
class JobRated(ChainEvent):
    job_id: int
    provider: str
    rating: int


@dataclass(frozen=True)
class CallbackResult(ChainEvent):
    job_id: int
    consumer: str
    success: bool


@dataclass(frozen=True)
class OrderFilled(ChainEvent):
    job_id: int
    consumer: str
    nonce: int
    provider: str


@dataclass(frozen=True)
class OrderSkipped(ChainEvent):
    """``fillOrders`` passed over this order (nothing of it happened); ``reason``: a code of ``IJobMarket``'s NatSpec,
    in words by :func:`ngx_zk.chain.orders.skip_reason`."""

    consumer: str
    nonce: int
    reason: int


@dataclass(frozen=True)
class OrderCancelled(ChainEvent):
    consumer: str
    nonce: int


@dataclass(frozen=True)
class ProviderRegistered(ChainEvent):
    contract: ClassVar[str] = "ProviderStaking"
    provider: str
    encryption_pub_key: bytes
    endpoint_uri: str


@dataclass(frozen=True)
class ProviderProfileUpdated(ChainEvent):
    contract: ClassVar[str] = "ProviderStaking"
    provider: str
    encryption_pub_key: bytes
    endpoint_uri: str


@dataclass(frozen=True)
class ModelRegistered(ChainEvent):
    contract: ClassVar[str] = "ModelRegistry"
    model_id: int
    owner: str
    verifier: str
    kind: VerifierKind
    onnx_hash: bytes
    settings_hash: bytes
    vk_digest: bytes
    insecure_test_srs: bool


from .settlement_types import SETTLEMENT_EVENTS  # noqa: E402  (the settlement records, beside these)

EVENTS: tuple[type[ChainEvent], ...] = (
    JobPosted,
    JobTermsSet,
    JobClaimed,
    JobPriceLocked,
    InputDelivered,
    JobSettled,
    JobDeclined,
    JobExpired,
    JobReopened,
    JobCancelled,
    JobRated,
    CallbackResult,
    OrderFilled,
    OrderSkipped,
    OrderCancelled,
    ProviderRegistered,
    ProviderProfileUpdated,
    ModelRegistered,
    *SETTLEMENT_EVENTS,
)
"""Every event record (each pinned to its ABI, field by field, by tests/test_chain_types.py)."""
