"""The consumer's guard over its own optimistic job: check the committed proof, challenge a bad one, finalize.

An optimistic job's provider commits its outputs and the hash of its proof (``Submitted``); the job pays out
at finalization unless it is challenged within the window. The consumer does not wait for a watchtower: once
its job is Submitted, the wait (:mod:`.steps`) asks :class:`Guard` to fetch the proof (the provider's
endpoint, then an explorer mirror) and check it exactly as a challenge's answer would be checked
(:mod:`ngx_zk.watch.proofs`). A bad or unavailable proof is challenged (the bond is the consumer's; it comes
back with a reward when the challenge is upheld); a good one is kept, and the job is finalized once the window
closed (anyone may; the provider's worker usually does first). A challenge unanswered past its deadline is
upheld: the consumer is refunded in full. :class:`OptimisticView` is what the steps ask, so the in-memory fake
of tests/test_consumer_optimistic.py drives them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..chain.types import FLAG_OPTIMISTIC, Job, JobStatus
from ..errors import ChainError, InvalidProofError, NgxZkError
from ..watch.proofs import (
    Problem,
    ProofCheck,
    ServedProof,
    Submission,
    check_proof,
    fetch_proof,
    http_fetch,
    sources,
    submission_of,
)
from ..watch.tower import GRACE_S

if TYPE_CHECKING:
    from ..artifacts import Circuit
    from ..chain.market import Marketplace
    from ..chain.signer import Signer
    from ..config import Settings

EAGER, OPTIMISTIC = 0, 1
"""``JobTerms.settlement``: verified at submission, or finalized after a challenge window."""


def settlement_mode(optimistic: bool) -> int:
    return OPTIMISTIC if optimistic else EAGER


def settlement_terms(market: Marketplace, job: Job, sub: Submission | None = None) -> dict[str, Any]:
    """What a result reports of the job's settlement: ``settlement``, ``challenge_deadline``, ``finalized`` (``sub``:
    the optimistic result the wait saw, else it is read back)."""
    optimistic = bool(job.flags & FLAG_OPTIMISTIC)
    sub = sub or (submission_of(market, job.job_id) if optimistic else None)
    return {
        "settlement": "optimistic" if optimistic else "eager",
        "challenge_deadline": sub.challenge_deadline if sub else None,
        "finalized": job.status is JobStatus.SETTLED,
    }


class OptimisticView(Protocol):
    """What the wait asks about an optimistic job (the real :class:`Guard`, or a test's fake)."""

    def submission(self, job_id: int) -> Submission: ...
    def check(self, sub: Submission) -> ProofCheck:
        """Fetch the committed proof and check it (:func:`ngx_zk.watch.proofs.check_proof`)."""
        ...

    def challenge(self, signer: Signer, sub: Submission) -> tuple[str, int]: ...
    def answer_deadline(self, job_id: int) -> int: ...
    def uphold(self, signer: Signer, job_id: int) -> str: ...
    def finalize(self, signer: Signer, sub: Submission) -> str: ...


def grace(window_left: int) -> int:
    """Seconds before the window closes at which an unavailable proof is challenged: :data:`GRACE_S`, or half
    of what was left of the window when the consumer first looked (a short devnet window)."""
    return min(GRACE_S, max(window_left // 2, 1))


class Guard:
    """:class:`OptimisticView` over the real market, for one consumer's circuit."""

    def __init__(self, settings: Settings, market: Marketplace, circuit: Circuit, explorer: str | None = None) -> None:
        from ..watch.view import ChainWatch

        self.settings, self.market, self.circuit, self.explorer = settings, market, circuit, explorer
        self.view = ChainWatch(market)

    def submission(self, job_id: int) -> Submission:
        found = submission_of(self.market, job_id)
        if found is None:
            raise NgxZkError(f"job {job_id} is Submitted but its JobSubmitted event was not found", "query another RPC node")
        return found

    def check(self, sub: Submission) -> ProofCheck:
        places = sources(self.view.endpoint(sub.provider), self.explorer)
        served, failures = fetch_proof(http_fetch(self.market.dev_chain), places, sub)
        if served is None:
            return ProofCheck(Problem.UNAVAILABLE, "; ".join(failures) or "the provider has no endpoint and no mirror was given")
        return check_proof(self.settings, self.circuit, sub, self.view.commitments(sub.job_id), served)

    def challenge(self, signer: Signer, sub: Submission) -> tuple[str, int]:
        return self.view.challenge(signer, sub)

    def answer_deadline(self, job_id: int) -> int:
        return self.view.challenger(job_id)[1]

    def uphold(self, signer: Signer, job_id: int) -> str:
        return self.view.uphold(signer, job_id)

    def settled_check(self, job_id: int) -> ProofCheck:
        """The proof of a settled optimistic job checked now: the answer's (in its calldata) if a challenge was
        answered, else the one served."""
        sub = self.submission(job_id)
        try:
            proof, instances, _ = self.market.submitted_result(job_id)  # an answered challenge: the proof is on chain
        except ChainError:
            return self.check(sub)  # finalized unchallenged: only its provider (or a mirror) has the proof
        answered = ServedProof(job_id, proof, tuple(instances), "chain")
        return check_proof(self.settings, self.circuit, sub, self.view.commitments(job_id), answered)

    def finalize(self, signer: Signer, sub: Submission) -> str:
        settlement = self.view.settlement
        return settlement.finalize(signer, sub.batch_id, settlement.batch_results(sub.batch_id)).tx


def verify_optimistic(guard: Guard, job_id: int, checked: ProofCheck | None) -> tuple[tuple[float, ...], str]:
    """A settled optimistic job's outputs and settlement transaction. It settled by finalization (no proof on chain)
    or by an answer (the proof in its calldata): the proof the wait checked (``checked``), else the answer's or the
    served one, checked now. Raises :class:`~ngx_zk.errors.InvalidProofError` when none checks out."""
    if checked is None or not checked.ok:
        checked = guard.settled_check(job_id)
    if not checked.ok:
        raise InvalidProofError(
            f"job {job_id} settled optimistically, but its committed proof could not be checked: {checked.detail}",
            f"its provider serves the proof until a day after finalization; see the job with ngx-zk job show {job_id}, "
            "and ask an explorer's mirror (prove-job --explorer URL)",
        )
    return checked.outputs, guard.market.settled(job_id).meta.tx_hash
