"""The consumer's wait for an optimistic job, step by step, in milliseconds: an in-memory market, clock and settlement.

The wait (:class:`ngx_zk.consumer.Follow`) runs unchanged through its Submitted and Challenged steps; the
market's job table (``MarketFake``) and the optimistic settlement it reaches through
:class:`ngx_zk.consumer.optimistic.OptimisticView` (``SettlementFake``) are in-memory stand-ins with the
contract's rules (challenge only inside the window, uphold only after the answer deadline, finalize only after
the window). The proof check itself is scripted (its own tests are in test_watch.py); the same wait runs on
anvil with real proofs in test_watch_chain.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from ngx_zk.chain.signer import Signer
from ngx_zk.chain.tx import Mined
from ngx_zk.chain.types import FLAG_OPTIMISTIC, Job, JobExtras, JobStatus, ProviderProfile
from ngx_zk.consumer import Ended, Follow, JobRecord
from ngx_zk.consumer.optimistic import grace
from ngx_zk.errors import TransactionError
from ngx_zk.watch import Problem, ProofCheck, Submission

from .consumer_fakes import CONSUMER, Script, ViewFake

PROVIDER = "0x" + "aa" * 20
WINDOW, ANSWER = 120, 60
OK = ProofCheck(None, "the committed proof verifies", "provider", (0.5,))
BAD = ProofCheck(Problem.INVALID, "the committed proof does not verify", "provider")
DOWN = ProofCheck(Problem.UNAVAILABLE, "provider: connection refused")


class MarketFake(ViewFake):
    """FAKE: the job table of the consumer's wait (``ConsumerView``) and the optimistic settlement (``OptimisticView``)."""

    def __init__(self) -> None:
        super().__init__()
        self.job_row = Job(1, CONSUMER.address, JobStatus.CLAIMED, PROVIDER, 10, 1, 1, 0, self.chain.time + 600, 600, 0, 0, b"",
                           flags=FLAG_OPTIMISTIC)  # fmt: skip
        self.sub: Submission | None = None
        self.checks: list[ProofCheck] = []
        """What each look at the served proof finds, in order (the last one repeats)."""
        self.answer_by = 0
        self.sent: list[str] = []
        self.finalize_raced = False
        """The consumer's other wait (a job of the same batch, same key) finalizes first and takes the nonce."""

    # --- what others do: the script's events -----------------------------------------------------------
    def submit(self) -> None:
        assert self.job_row.status is JobStatus.CLAIMED
        self.chain.mine()
        self.sub = Submission(1, 7, PROVIDER, (5,), b"\x01" * 32, self.chain.time + WINDOW)
        self._set(JobStatus.SUBMITTED)

    def answer(self) -> None:
        assert self.job_row.status is JobStatus.CHALLENGED and self.chain.clock < self.answer_by
        self.chain.mine()
        self._set(JobStatus.SETTLED)

    def finalized_by_the_worker(self) -> None:
        self.chain.mine()
        self._set(JobStatus.SETTLED)

    def _set(self, status: JobStatus) -> None:
        self.job_row = dataclasses.replace(self.job_row, status=status)

    # --- ConsumerView ----------------------------------------------------------------------------------
    def job(self, job_id: int) -> Job:
        return self.job_row

    def job_extras(self, job_id: int) -> JobExtras:
        return JobExtras(0, 0, 0, None, None, 0)

    def provider(self, address: str) -> ProviderProfile:
        raise AssertionError("the input was delivered before this wait")

    def deliver_input(self, signer: Signer, job_id: int, payload: bytes) -> Mined:
        raise AssertionError("the input was delivered before this wait")

    def expire(self, signer: Signer, job_id: int) -> Mined:
        raise AssertionError("an optimistic result is never expired by the consumer")

    # --- OptimisticView --------------------------------------------------------------------------------
    def submission(self, job_id: int) -> Submission:
        assert self.sub is not None
        return self.sub

    def check(self, sub: Submission) -> ProofCheck:
        self.sent.append("check")
        return self.checks.pop(0) if len(self.checks) > 1 else self.checks[0]

    def challenge(self, signer: Signer, sub: Submission) -> tuple[str, int]:
        assert self.job_row.status is JobStatus.SUBMITTED and self.chain.time < sub.challenge_deadline
        self.chain.mine()
        self.answer_by = self.chain.time + ANSWER
        self._set(JobStatus.CHALLENGED)
        self.sent.append("challenge")
        return "0xchallenge", self.answer_by

    def answer_deadline(self, job_id: int) -> int:
        return self.answer_by

    def uphold(self, signer: Signer, job_id: int) -> str:
        assert self.job_row.status is JobStatus.CHALLENGED and self.chain.time >= self.answer_by
        self.chain.mine()
        self._set(JobStatus.EXPIRED)
        self.sent.append("uphold")
        return "0xuphold"

    def finalize(self, signer: Signer, sub: Submission) -> str:
        assert self.job_row.status is JobStatus.SUBMITTED and self.chain.time >= sub.challenge_deadline
        self.chain.mine()
        self._set(JobStatus.SETTLED)
        if self.finalize_raced:
            raise TransactionError(f"finalize batch 7 (2 jobs): nonce 3 of {CONSUMER.address} was used by another "
                                   "transaction; none of ours was mined", "is another program signing with this key?")  # fmt: skip
        self.sent.append("finalize")
        return "0xfinalize"


def world(market: MarketFake, *events: Callable[[], object]) -> Script:
    """The wait's world where the wall clock runs on with anvil's (see :func:`passes`)."""
    return Script(*events, clock=market.chain)


def passes(market: MarketFake, seconds: int) -> Callable[[], None]:
    """An event: ``seconds`` pass on the wall clock and anvil's clock together, and no block is mined."""

    def event() -> None:
        market.chain.clock += seconds

    return event


def follow(market: MarketFake, script: Script, **record: Any) -> tuple[Ended, list[str]]:
    notes: list[str] = []
    rec = JobRecord(31337, 1, "mlp", 1, CONSUMER.address, ["0x" + "00" * 32], 10, {}, "0xpost",
                    deliveries={PROVIDER: "0xdeliver"}, **record)  # fmt: skip
    wait = Follow(
        market,  # type: ignore[arg-type]  # the fake's market address is a SimpleNamespace
        CONSUMER, rec, pause=script.pause, catch_up=market.chain.catch_up, save=lambda _: None,
        progress=notes.append, now=script.now, guard=market,
    )  # fmt: skip
    return wait.run(), notes


@pytest.fixture
def market() -> MarketFake:
    return MarketFake()


def test_a_valid_result_is_checked_once_and_finalized_when_the_window_closes(market: MarketFake) -> None:
    market.checks = [OK]
    ended, notes = follow(market, world(market, market.submit, passes(market, WINDOW - 1), passes(market, 1)))
    assert ended.job.status is JobStatus.SETTLED and ended.checked == OK
    assert market.sent == ["check", "finalize"] and ended.tx["finalize"] == "0xfinalize"
    assert ended.submission is market.sub
    assert any("submitted its result optimistically in batch 7" in n for n in notes)


def test_a_finalize_another_wait_of_the_same_consumer_sent_first_ends_settled(market: MarketFake) -> None:
    """Two jobs of one consumer in one batch, each followed by its own wait: the other wait's finalizeBatch takes
    the nonce, ours is never mined, and the job is Settled all the same: no error."""
    market.checks, market.finalize_raced = [OK], True
    ended, notes = follow(market, world(market, market.submit, passes(market, WINDOW)))
    assert ended.job.status is JobStatus.SETTLED and "finalize" not in ended.tx
    assert any("finalized by another transaction" in n for n in notes)


def test_a_bad_result_is_challenged_at_once_and_upheld_for_a_refund(market: MarketFake) -> None:
    market.checks = [BAD]
    ended, notes = follow(market, world(market, market.submit, passes(market, ANSWER)))
    assert ended.job.status is JobStatus.EXPIRED
    assert market.sent == ["check", "challenge", "uphold"]
    assert ended.tx["challenge"] == "0xchallenge" and ended.tx["uphold"] == "0xuphold"
    assert any("challenging the result: invalid" in n for n in notes)
    assert any("challenged by you" in n for n in notes)


def test_an_answered_challenge_ends_settled(market: MarketFake) -> None:
    market.checks = [BAD]
    ended, _ = follow(market, world(market, market.submit, market.answer))
    assert ended.job.status is JobStatus.SETTLED and market.sent == ["check", "challenge"]


def test_an_unavailable_proof_is_asked_again_and_a_late_one_is_not_challenged(market: MarketFake) -> None:
    market.checks = [DOWN, OK]
    ended, notes = follow(market, world(market, market.submit, market.chain.mine, passes(market, WINDOW)))
    assert ended.job.status is JobStatus.SETTLED and market.sent == ["check", "check", "finalize"]
    assert sum("not served yet" in n for n in notes) == 1


def test_a_proof_still_unavailable_at_the_grace_point_is_challenged(market: MarketFake) -> None:
    market.checks = [DOWN]
    ended, _ = follow(market, world(market, market.submit, passes(market, WINDOW - grace(WINDOW)), passes(market, ANSWER)))
    assert ended.job.status is JobStatus.EXPIRED and market.sent == ["check", "check", "challenge", "uphold"]


def test_a_gasless_consumer_does_not_send_a_challenge(market: MarketFake) -> None:
    market.checks = [BAD]
    script = world(market, market.submit, passes(market, WINDOW), market.chain.mine, market.finalized_by_the_worker)
    ended, notes = follow(market, script, gasless=True)
    assert (
        ended.job.status is JobStatus.SETTLED
        and "challenge" not in market.sent
        and "finalize" not in market.sent
        and any("a gasless account cannot challenge" in n for n in notes)
    )


def test_grace_is_half_a_short_window_and_capped() -> None:
    assert grace(120) == 60 and grace(7200) == 300 and grace(0) == 1
