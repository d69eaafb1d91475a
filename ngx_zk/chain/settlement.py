"""Settlement at market cost on the ``JobMarket`` (its settlement module, reached at the market's address):
many eager jobs per transaction, optimistic batches, challenges, answers and finalization.

``Settlement(market)`` wraps one :class:`~ngx_zk.chain.market.Marketplace`; the provider's worker, the
consumer and the watchtower speak to the chain through it. Every write dry-runs first (the node's gas
estimate executes the call; a revert arrives as a typed :class:`~ngx_zk.errors.ContractRevert`) unless
the caller already did (``dry_run=False`` with ``gas``). The records (:class:`Result`, :class:`Batch`,
:class:`Challenge`, the events) and the hashes are in :mod:`.settlement_types`, free of web3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ChainError
from .contracts import decode_struct
from .settlement_types import (
    MAX_BATCH,
    Batch,
    BatchFinalized,
    Challenge,
    ChallengeUpheld,
    JobChallenged,
    JobSubmitted,
    OptimisticTerms,
    Result,
    ResultsSubmitted,
    job_words,
    leaf,
    proof_hash,
    root,
    words_of,
)
from .types import ZERO, Logged

if TYPE_CHECKING:
    from .market import Marketplace
    from .signer import Signer
    from .tx import Mined

__all__ = ["MAX_BATCH", "Batch", "Challenge", "OptimisticTerms", "Result", "Settlement", "leaf", "proof_hash", "root"]

OnSent = Callable[[str], None] | None


def _batch_size(n: int, what: str) -> None:
    if not 1 <= n <= MAX_BATCH:
        raise ChainError(f"{what}: {n} jobs in one transaction (1 to {MAX_BATCH})", f"split them into batches of {MAX_BATCH}")


class Settlement:
    """The settlement calls of one market: ``Settlement(market).submit_results(signer, results)`` and the rest."""

    def __init__(self, market: Marketplace) -> None:
        self.market = market
        self.chain = market.chain
        self.contract = market.market

    # --- eager, many jobs per transaction ------------------------------------------------------------
    def settle_fn(self, job_ids: Sequence[int], proofs: Sequence[bytes], instances: Sequence[Sequence[int]]) -> Any:
        if not len(job_ids) == len(proofs) == len(instances):
            raise ValueError("settleResults takes one proof and one instance list per job")
        _batch_size(len(job_ids), "settleResults")
        return self.contract.functions.settleResults(
            [int(j) for j in job_ids], [bytes(p) for p in proofs], [[int(v) for v in i] for i in instances]
        )

    def settle_many(
        self,
        signer: Signer,
        job_ids: Sequence[int],
        proofs: Sequence[bytes],
        instances: Sequence[Sequence[int]],
        on_sent: OnSent = None,
        gas: int | None = None,
        dry_run: bool = True,
    ) -> Mined:
        """``settleResults``: verify and settle every job at once (eager jobs; all or nothing)."""
        return self.chain.send(
            self.settle_fn(job_ids, proofs, instances),
            signer,
            what=f"settle {len(job_ids)} jobs ({', '.join(str(j) for j in job_ids)})",
            on_sent=on_sent,
            gas=gas,
            dry_run=dry_run,
        )

    # --- optimistic: submit, challenge, answer, uphold, finalize --------------------------------------
    def submit_fn(self, results: Sequence[Result]) -> Any:
        _batch_size(len(results), "submitResults")
        return self.contract.functions.submitResults([r.as_tuple() for r in results])

    def submit_results(
        self,
        signer: Signer,
        results: Sequence[Result],
        on_sent: OnSent = None,
        gas: int | None = None,
        dry_run: bool = True,
    ) -> tuple[int, Mined]:
        """``submitResults``: commit the results of optimistic jobs in one batch; returns (batch id, receipt)."""
        receipt = self.chain.send(
            self.submit_fn(results),
            signer,
            what=f"submit {len(results)} optimistic results ({', '.join(str(r.job_id) for r in results)})",
            on_sent=on_sent,
            gas=gas,
            dry_run=dry_run,
        )
        return self.batch_id_of(receipt), receipt

    def batch_id_of(self, receipt: Mined) -> int:
        """The batch a mined ``submitResults`` created (from its ResultsSubmitted event)."""
        found = self.market.emitted(ResultsSubmitted, receipt)
        if not found:
            raise ChainError(f"transaction {receipt.tx} submitted no batch", "it was not a submitResults call")
        return found[0].batch_id

    def challenge_fn(self, batch_id: int, batch: Sequence[Result], index: int) -> Any:
        batch = self.with_words(batch)
        return self.contract.functions.challenge(batch_id, [r.as_tuple() for r in batch], words_of(batch), index)

    def challenge(self, signer: Signer, batch_id: int, batch: Sequence[Result], index: int, on_sent: OnSent = None) -> Mined:
        """``challenge``: dispute ``batch[index]``; the market pulls the governed bond from ``signer`` (approved here)."""
        if not 0 <= index < len(batch):
            raise ValueError(f"challenge index {index} is outside the batch of {len(batch)}")
        self.market.ensure_allowance(signer, self.contract.address, self.terms().challenge_bond)
        return self.chain.send(
            self.challenge_fn(batch_id, batch, index),
            signer,
            what=f"challenge job {batch[index].job_id} (batch {batch_id})",
            on_sent=on_sent,
        )

    def answer_fn(self, job_id: int, proof: bytes, instances: Sequence[int]) -> Any:
        return self.contract.functions.answerChallenge(job_id, bytes(proof), [int(v) for v in instances])

    def answer(
        self,
        signer: Signer,
        job_id: int,
        proof: bytes,
        instances: Sequence[int],
        on_sent: OnSent = None,
        gas: int | None = None,
        dry_run: bool = True,
    ) -> Mined:
        """``answerChallenge``: the committed proof, verified on chain; the job settles and the bond is the provider's."""
        return self.chain.send(
            self.answer_fn(job_id, proof, instances),
            signer,
            what=f"answer the challenge of job {job_id}",
            on_sent=on_sent,
            gas=gas,
            dry_run=dry_run,
        )

    def uphold(self, signer: Signer, job_id: int, on_sent: OnSent = None) -> Mined:
        """``upholdChallenge``: after an unanswered challenge's deadline: slash, refund, reward the challenger."""
        return self.chain.send(
            self.contract.functions.upholdChallenge(job_id), signer, what=f"uphold the challenge of job {job_id}", on_sent=on_sent
        )

    def finalize_fn(self, batch_id: int, batch: Sequence[Result]) -> Any:
        batch = self.with_words(batch)
        return self.contract.functions.finalizeBatch(batch_id, [r.as_tuple() for r in batch], words_of(batch))

    def finalize(self, signer: Signer, batch_id: int, batch: Sequence[Result], on_sent: OnSent = None) -> Mined:
        """``finalizeBatch``: after the challenge window, settle every job of the batch still unchallenged."""
        return self.chain.send(
            self.finalize_fn(batch_id, batch), signer, what=f"finalize batch {batch_id} ({len(batch)} jobs)", on_sent=on_sent
        )

    # --- views --------------------------------------------------------------------------------------
    def batch(self, batch_id: int) -> Batch:
        b = decode_struct(self.contract, "batchOf", self.chain.call(self.contract.functions.batchOf(batch_id)))
        return Batch(
            root=bytes(b["root"]),
            provider=str(b["provider"]),
            challenge_deadline=int(b["challenge_deadline"]),
            count=int(b["count"]),
            pending=int(b["pending"]),
            challenge_window=int(b.get("challenge_window", 0)),
        )

    def challenge_of(self, job_id: int) -> Challenge | None:
        """The open challenge of ``job_id``; None when it has none."""
        c = decode_struct(self.contract, "challengeOf", self.chain.call(self.contract.functions.challengeOf(job_id)))
        if c["challenger"] == ZERO:
            return None
        return Challenge(
            challenger=str(c["challenger"]),
            bond=int(c["bond"]),
            answer_deadline=int(c["answer_deadline"]),
            submitted_at=int(c.get("submitted_at", 0)),
            leaf=bytes(c["leaf"]),
        )

    def answer_deadline(self, job_id: int) -> int:
        """The answer deadline of challenged ``job_id`` with guardian pauses applied (0 when none is open)."""
        return int(self.chain.call(self.contract.functions.answerDeadlineOf(job_id)))

    def batch_count(self) -> int:
        return int(self.chain.call(self.contract.functions.batchCount()))

    def terms(self) -> OptimisticTerms:
        """The governed challenge window, answer window, bond and challenger reward (``optimisticTerms()``)."""
        window, answer, bond, reward = self.chain.call(self.market.config.functions.optimisticTerms())
        return OptimisticTerms(int(window), int(answer), int(bond), int(reward))

    # --- reading results back -----------------------------------------------------------------------
    def batch_results(self, batch_id: int, from_block: int | None = None) -> list[Result]:
        """The results of batch ``batch_id`` in the order they were committed (its JobSubmitted events),
        checked against the root the market stores while the batch exists, each with its job's words attached."""
        start = self.market.deployment.block if from_block is None else from_block
        found = self.market.logs(JobSubmitted, start, batch_id=batch_id)
        results = [e.event.result for e in sorted(found, key=lambda e: (e.meta.block_number, e.meta.log_index))]
        if not results:
            raise ChainError(f"no JobSubmitted events for batch {batch_id}", "check the batch id (ngx-zk job show ID)")
        results = self.with_words(results)
        stored = self.batch(batch_id)
        if stored.exists and root(results) != stored.root:
            raise ChainError(
                f"batch {batch_id}: the JobSubmitted logs do not hash to the root the market stores",
                "the node served logs the chain does not back; query another RPC node",
            )
        return results

    def with_words(self, results: Sequence[Result]) -> list[Result]:
        """``results`` with each job's words attached (:func:`~.settlement_types.job_words`, read from ``getJob``
        where a result has none yet): what a batch entry commits besides the result."""
        return [r if r.words is not None else r.with_words(job_words(self.market.job(r.job_id))) for r in results]

    def submitted(self, job_id: int, from_block: int | None = None) -> Logged[JobSubmitted] | None:
        """The latest JobSubmitted event of ``job_id`` (its batch, outputs and proof hash); None if never submitted."""
        start = self.market.deployment.block if from_block is None else from_block
        found = self.market.logs(JobSubmitted, start, job_id=job_id)
        return found[-1] if found else None

    def batch_submitted(self, batch_id: int, from_block: int | None = None) -> Logged[ResultsSubmitted] | None:
        start = self.market.deployment.block if from_block is None else from_block
        found = self.market.logs(ResultsSubmitted, start, batch_id=batch_id)
        return found[-1] if found else None

    def challenged(self, job_id: int, from_block: int | None = None) -> list[Logged[JobChallenged]]:
        start = self.market.deployment.block if from_block is None else from_block
        return self.market.logs(JobChallenged, start, job_id=job_id)

    def challenges_since(self, from_block: int) -> tuple[list[Logged[JobChallenged]], int]:
        """Every JobChallenged event from ``from_block`` to the head, and the head block read."""
        head = self.chain.block_number()
        return self.market.logs(JobChallenged, from_block, head), head

    def upheld(self, job_id: int, from_block: int | None = None) -> Logged[ChallengeUpheld] | None:
        start = self.market.deployment.block if from_block is None else from_block
        found = self.market.logs(ChallengeUpheld, start, job_id=job_id)
        return found[-1] if found else None

    def finalized(self, batch_id: int, from_block: int | None = None) -> list[Logged[BatchFinalized]]:
        start = self.market.deployment.block if from_block is None else from_block
        return self.market.logs(BatchFinalized, start, batch_id=batch_id)
