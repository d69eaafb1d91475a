"""Settlement at market cost (issue 24), without web3: results, batches, challenges, their hashes and events.

An *optimistic* job is settled in two moves: its provider commits a :class:`Result` (the outputs and the
keccak of the proof bytes) in a batch (``submitResults``, one Merkle-free root over the batch's leaves),
and after the challenge window anyone finalizes the batch (``finalizeBatch``). Inside the window anyone
may challenge one result with a bond; the provider answers with the committed proof (verified on chain
as an eager job's is) or is slashed. An *eager* job is verified at submission; ``settleResults`` settles
many in one transaction.

The hashes here are the contract's, byte for byte::

    leaf(r) = keccak256(abi.encode(r.jobId, keccak256(abi.encodePacked(r.outputs)), r.proofHash))
    root    = keccak256(abi.encodePacked(leaf(r_0), ..., leaf(r_n-1)))

Like :mod:`.types`, this module imports neither web3 nor eth_utils at import time; its event records are
in :data:`ngx_zk.chain.types.EVENTS` (decoded in :mod:`.events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .chain_event import ChainEvent

MAX_BATCH = 64
"""``JobSettlement.MAX_BATCH``: the most results one ``submitResults`` (or ``settleResults``) carries."""


def keccak(data: bytes) -> bytes:
    from eth_utils.crypto import keccak as _keccak  # imported late: see the module docstring

    return bytes(_keccak(data))


def outputs_hash(outputs: Sequence[int]) -> bytes:
    """``keccak256(abi.encodePacked(uint256[]))`` (as :func:`ngx_zk.chain.types.outputs_hash`)."""
    return keccak(b"".join(int(v).to_bytes(32, "big") for v in outputs))


def proof_hash(proof: bytes) -> bytes:
    """``keccak256(proof)``: what a result commits to, and what an answer's proof bytes must hash to."""
    return keccak(bytes(proof))


@dataclass(frozen=True)
class Result:
    """``IJobSettlement.Result``: one optimistic job's outputs and the hash of the proof its provider keeps."""

    job_id: int
    outputs: tuple[int, ...]
    proof_hash: bytes

    def __post_init__(self) -> None:
        if len(self.proof_hash) != 32:
            raise ValueError(f"result of job {self.job_id}: proof_hash must be 32 bytes, not {len(self.proof_hash)}")

    @classmethod
    def of(cls, job_id: int, proof: bytes, instances: Sequence[int], output_count: int) -> Result:
        """The result a provider commits for ``job_id`` from the calldata an answer would send: the proof bytes
        and the public instances, whose last ``output_count`` words are the outputs."""
        outputs = tuple(int(v) for v in instances[len(instances) - output_count :]) if output_count else ()
        return cls(job_id, outputs, proof_hash(proof))

    def leaf(self) -> bytes:
        return leaf(self)

    def as_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple, in ``Result`` field order (jobId, outputs, proofHash)."""
        return (self.job_id, list(self.outputs), self.proof_hash)


def leaf(result: Result) -> bytes:
    """``keccak256(abi.encode(jobId, keccak256(abi.encodePacked(outputs)), proofHash))``."""
    encoded = result.job_id.to_bytes(32, "big") + outputs_hash(result.outputs) + result.proof_hash
    return keccak(encoded)


def root(results: Sequence[Result]) -> bytes:
    """``keccak256(abi.encodePacked(leaf(r_0), ..., leaf(r_n-1)))``: what a batch stores."""
    return keccak(b"".join(leaf(r) for r in results))


@dataclass(frozen=True)
class Batch:
    """``IJobSettlement.Batch`` as ``batchOf`` returns it (all zeros once finalized and deleted)."""

    root: bytes
    provider: str
    challenge_deadline: int
    count: int
    pending: int
    """Jobs of the batch not finished yet (neither settled, answered nor upheld)."""
    challenge_window: int = 0
    """The window this batch got: it was submitted at ``challenge_deadline - challenge_window``."""

    @property
    def exists(self) -> bool:
        return self.count > 0


@dataclass(frozen=True)
class Challenge:
    """``IJobSettlement.Challenge`` as ``challengeOf`` returns it (zeros when the job has none open)."""

    challenger: str
    bond: int
    answer_deadline: int
    """As stored; a guardian pause moves it (``Settlement.answer_deadline`` reads the moved one)."""
    submitted_at: int
    leaf: bytes


@dataclass(frozen=True)
class OptimisticTerms:
    """``ProtocolConfig.optimisticTerms()``: the governed windows, bond and challenger reward."""

    challenge_window: int
    answer_window: int
    challenge_bond: int
    challenger_reward_bps: int


# --- events (fields in ABI order, snake_case; see ngx_zk.chain.events) -----------------------------------
@dataclass(frozen=True)
class JobSubmitted(ChainEvent):
    job_id: int
    batch_id: int
    provider: str
    outputs: tuple[int, ...]
    proof_hash: bytes

    @property
    def result(self) -> Result:
        return Result(self.job_id, self.outputs, self.proof_hash)


@dataclass(frozen=True)
class ResultsSubmitted(ChainEvent):
    batch_id: int
    provider: str
    root: bytes
    challenge_deadline: int
    count: int


@dataclass(frozen=True)
class JobChallenged(ChainEvent):
    job_id: int
    batch_id: int
    challenger: str
    bond: int
    answer_deadline: int


@dataclass(frozen=True)
class ChallengeAnswered(ChainEvent):
    job_id: int
    provider: str
    challenger: str
    bond: int


@dataclass(frozen=True)
class ChallengeUpheld(ChainEvent):
    job_id: int
    provider: str
    challenger: str
    slashed: int
    challenger_reward: int
    refund: int


@dataclass(frozen=True)
class BatchFinalized(ChainEvent):
    batch_id: int
    settled: int


SETTLEMENT_EVENTS: tuple[type[ChainEvent], ...] = (
    JobSubmitted,
    ResultsSubmitted,
    JobChallenged,
    ChallengeAnswered,
    ChallengeUpheld,
    BatchFinalized,
)
"""The settlement events; :data:`ngx_zk.chain.types.EVENTS` includes them (pinned to the ABI by tests)."""
