"""Settlement at market cost (issue 24), without web3: results, batches, challenges, their hashes and events.

An *optimistic* job is settled in two moves: its provider commits a :class:`Result` (the outputs and the
keccak of the proof bytes) in a batch (``submitResults``, one Merkle-free root over the batch's leaves),
and after the challenge window anyone finalizes the batch (``finalizeBatch``). Inside the window anyone
may challenge one result with a bond; the provider answers with the committed proof (verified on chain
as an eager job's is) or is slashed. An *eager* job is verified at submission; ``settleResults`` settles
many in one transaction.

The hashes here are the contract's, byte for byte::

    leaf(r)  = keccak256(abi.encode(r.jobId, keccak256(abi.encodePacked(r.outputs)), r.proofHash))
    entry(r) = keccak256(abi.encode(leaf(r), stateWord, claimWord, termsWord))
    root     = keccak256(abi.encodePacked(entry(r_0), ..., entry(r_n-1)))

An entry also commits the job's storage slots 0 (its fixed part), 1 and 2 as the submission read them
(:func:`job_words`), so that ``finalizeBatch`` reads only the job's commitments slot and its bit in a slot
shared by 255 jobs: ``finalizeBatch`` and ``challenge`` take those words (``jobWords``, three per result),
which :meth:`Settlement.batch_results` attaches to each result.

Like :mod:`.types`, this module imports neither web3 nor eth_utils at import time; its event records are
in :data:`ngx_zk.chain.types.EVENTS` (decoded in :mod:`.events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .chain_event import ChainEvent


class JobFields(Protocol):
    """What :func:`job_words` reads of a :class:`ngx_zk.chain.types.Job` (not imported: types imports this module)."""

    @property
    def consumer(self) -> str: ...

    @property
    def claim_deadline(self) -> int: ...

    @property
    def prove_window(self) -> int: ...

    @property
    def provider(self) -> str | None: ...

    @property
    def prove_deadline(self) -> int: ...

    @property
    def flags(self) -> int: ...

    @property
    def callback_gas_limit(self) -> int: ...

    @property
    def price(self) -> int: ...

    @property
    def collateral(self) -> int: ...

    @property
    def model_id(self) -> int: ...


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
    words: tuple[int, int, int] | None = field(default=None, compare=False)
    """The job's state, claim and terms words as submitted (:func:`job_words`): what its batch entry commits besides
    the leaf; ``finalizeBatch`` and ``challenge`` send them. None until :meth:`with_words`."""

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

    def with_words(self, words: tuple[int, int, int]) -> Result:
        """This result with its job's words (:func:`job_words`)."""
        return replace(self, words=words)

    def as_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple, in ``Result`` field order (jobId, outputs, proofHash)."""
        return (self.job_id, list(self.outputs), self.proof_hash)


def leaf(result: Result) -> bytes:
    """``keccak256(abi.encode(jobId, keccak256(abi.encodePacked(outputs)), proofHash))``."""
    encoded = result.job_id.to_bytes(32, "big") + outputs_hash(result.outputs) + result.proof_hash
    return keccak(encoded)


_NO_REWARD_IN_CLAIM_WORD = 1 << 200  # FLAG_NO_REWARD (1) at the flags' offset: set only by a settlement


def job_words(job: JobFields) -> tuple[int, int, int]:
    """The job's storage slots 0-2 as ``submitResults`` read them (``IJobSettlement``'s entry):
    ``consumer | claimDeadline << 160 | proveWindow << 200`` (slot 0 without its status, rating and minimum
    reputation), ``provider | proveDeadline << 160 | flags << 200 | callbackGasLimit << 208`` and
    ``price | collateral << 96 | modelId << 192``, from ``getJob``'s fields. None of them changes between
    submission and settlement except FLAG_NO_REWARD, which a settlement sets: it is left out."""
    state = int(job.consumer, 16) | job.claim_deadline << 160 | job.prove_window << 200
    provider = int(job.provider, 16) if job.provider else 0
    claim = provider | job.prove_deadline << 160 | job.flags << 200 | job.callback_gas_limit << 208
    terms = job.price | job.collateral << 96 | job.model_id << 192
    return state, claim & ~_NO_REWARD_IN_CLAIM_WORD, terms


def entry(result: Result) -> bytes:
    """``keccak256(abi.encode(leaf(r), stateWord, claimWord, termsWord))``: a result's part of its batch's root."""
    if result.words is None:
        raise ValueError(f"result of job {result.job_id}: its job words are not attached (Settlement.batch_results does)")
    return keccak(leaf(result) + b"".join(w.to_bytes(32, "big") for w in result.words))


def root(results: Sequence[Result]) -> bytes:
    """``keccak256(abi.encodePacked(entry(r_0), ..., entry(r_n-1)))``: what a batch stores."""
    return keccak(b"".join(entry(r) for r in results))


def words_of(results: Sequence[Result]) -> list[int]:
    """The ``jobWords`` argument of ``finalizeBatch`` and ``challenge``: each result's three words, in order."""
    out: list[int] = []
    for r in results:
        if r.words is None:
            raise ValueError(f"result of job {r.job_id}: its job words are not attached (Settlement.batch_results does)")
        out.extend(r.words)
    return out


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
