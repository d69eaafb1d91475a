"""The watchtower: follow optimistic results, check each one's proof, challenge the bad ones, uphold unanswered challenges.

One pass (:meth:`Watchtower.run_pass`):

1. scan ``JobSubmitted`` from the journal's cursor to the head; journal each new result as pending;
2. for each pending result still ``Submitted`` on chain: fetch its proof (the provider's endpoint, then the
   explorer mirror) and check it (:mod:`.proofs`). Valid: journaled, left to finalize. Invalid or mismatched:
   challenged at once. Not served: challenged once the chain's time reaches ``grace`` seconds before the
   challenge deadline (before that, asked again at the next pass);
3. for each of our challenges: once the answer deadline passed with no answer, ``upholdChallenge`` (the
   provider is slashed, the consumer refunded, our bond comes back with a reward); an answered one is
   journaled as lost (the bond paid the provider's gas).

Every decision is journaled before and after its transaction (:mod:`.journal`), so a restart neither
re-challenges nor forgets a challenge. The chain is read through :class:`WatchView`, so an in-memory fake
drives the same code in tests (tests/test_watch.py); :class:`~.view.ChainWatch` is the real one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..chain.types import Job, JobStatus, ModelEntry
from ..errors import ContractRevert, NgxZkError
from .journal import Entry, State, WatchJournal
from .proofs import Fetch, Problem, ProofCheck, ServedProof, Submission, fetch_proof, sources

if TYPE_CHECKING:
    from ..artifacts import Circuit
    from ..chain.signer import Signer

GRACE_S = 300
"""Default: an unavailable proof is challenged once this many seconds of the challenge window are left."""
TOO_LATE = frozenset({
    "JobMarket__InvalidStatus", "JobMarket__ChallengeWindowClosed", "JobMarket__WrongSettlementMode",
    "JobMarket__ProviderCannotChallenge", "JobMarket__UnknownBatch",
})  # fmt: skip
"""Reverts of ``challenge`` that mean someone else got there first, the window closed (or the batch was finalized and
is gone), or the signer is the provider."""
NOT_YET = frozenset({"EnforcedPause", "JobMarket__ModelPaused", "JobMarket__AnswerWindowOpen"})
"""Reverts of ``upholdChallenge`` that mean later: a pause moves the answer deadline (the provider gets its window)."""


class WatchView(Protocol):
    """What the watchtower reads and sends (the real :class:`~.view.ChainWatch`, or a test's in-memory fake)."""

    @property
    def chain_id(self) -> int: ...
    @property
    def market_address(self) -> str: ...
    @property
    def dev_chain(self) -> bool: ...
    @property
    def start_block(self) -> int:
        """Where a fresh journal starts scanning (the deployment's block)."""
        ...

    def head(self) -> int: ...
    def clock(self, due: int) -> int:
        """The chain's time, first moving an idle devnet on once its own clock passed ``due``."""
        ...

    def submissions(self, start: int, stop: int) -> list[Submission]: ...
    def job(self, job_id: int) -> Job: ...
    def commitments(self, job_id: int) -> list[int]: ...
    def model(self, model_id: int) -> ModelEntry: ...
    def endpoint(self, provider: str) -> str: ...
    def challenge(self, signer: Signer, sub: Submission) -> tuple[str, int]:
        """Challenge ``sub`` (the bond approved as needed); returns (tx hash, answer deadline)."""
        ...

    def challenger(self, job_id: int) -> tuple[str, int]:
        """(challenger, answer deadline) of the job's open challenge."""
        ...

    def uphold(self, signer: Signer, job_id: int) -> str: ...


Check = Callable[["Circuit", Submission, Sequence[int], ServedProof], ProofCheck]
"""Does a served proof answer a challenge? (:func:`.proofs.check_proof` with the settings bound)."""


@dataclass(frozen=True)
class Decision:
    """What the watchtower did about one result (one JSON line with ``--json``)."""

    job_id: int
    batch_id: int
    provider: str
    decision: str
    """``valid``, ``waiting``, ``challenged``, ``upheld``, ``answered`` or ``skipped``."""
    reason: str = ""
    """Why it was challenged (``invalid``, ``mismatched``, ``unavailable``) or skipped."""
    detail: str = ""
    source: str | None = None
    tx: str | None = None
    challenge_deadline: int | None = None
    answer_deadline: int | None = None

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)

    def line(self) -> str:
        what = {
            "valid": "proof checks out; left to finalize",
            "waiting": "proof not served yet; asking again",
            "challenged": f"challenged ({self.reason})",
            "upheld": "challenge upheld: provider slashed, consumer refunded",
            "answered": "challenge answered with a valid proof: the bond went to the provider",
            "skipped": f"skipped ({self.reason})",
        }[self.decision]
        return (
            f"job {self.job_id} (batch {self.batch_id}, provider {self.provider}): {what}"
            + (f": {self.detail}" if self.detail else "")
            + (f" [tx {self.tx}]" if self.tx else "")
        )


@dataclass
class Watchtower:
    """One watchtower on one market: the view, the journal, the signer that posts bonds, and how proofs are found."""

    view: WatchView
    journal: WatchJournal
    signer: Signer
    circuits: Callable[[int], Circuit | None]
    """The local circuit matching registry model ``id`` (None: this watch cannot check its jobs)."""
    check: Check
    fetch: Fetch
    explorer: str | None = None
    grace_s: int = GRACE_S
    report: Callable[[Decision], None] = lambda _: None
    progress: Callable[[str], None] = lambda _: None
    _waiting: set[int] = field(default_factory=set)

    def run(self, *, once: bool, poll_s: float = 2.0, stop: threading.Event | None = None) -> None:
        """Passes until ``stop`` is set (one with ``once``). A failing pass is reported and retried at the next."""
        stop = stop or threading.Event()
        while True:
            if once:
                self.run_pass()
                return
            try:
                self.run_pass()
            except NgxZkError as exc:
                self.progress(f"this pass failed, trying again: {exc}")
            if stop.wait(poll_s):
                return

    def run_pass(self) -> list[Decision]:
        """Scan for new results, then look at every open one (see the module docstring)."""
        head = self.view.head()
        start = self.journal.next_block(self.view.start_block)
        if start <= head:
            for sub in self.view.submissions(start, head):
                if self.journal.add(sub):
                    self.progress(f"job {sub.job_id}: submitted in batch {sub.batch_id} by {sub.provider}; "
                                  f"challenge window until chain time {sub.challenge_deadline}")  # fmt: skip
            self.journal.set_next_block(head + 1)
        decisions = []
        for entry in self.journal.open_entries():
            decision = self.look(entry)
            if decision is not None:
                decisions.append(decision)
                self.report(decision)
        return decisions

    def look(self, entry: Entry) -> Decision | None:
        job = self.view.job(entry.sub.job_id)
        if entry.state is State.PENDING:
            return self._check(entry.sub, job)
        if entry.state is State.CHALLENGING:  # a restart after journaling the challenge: did it land?
            if job.status is JobStatus.SUBMITTED:
                return self._challenge(entry.sub, Problem(entry.reason), entry.detail)
            if job.status is JobStatus.CHALLENGED and not _ours(self.view.challenger(job.job_id)[0], self.signer):
                return self._done(entry.sub, State.SKIPPED, "challenged by another account first")
            self.journal.set(job.job_id, State.CHALLENGED)
        return self._follow(entry.sub, job)

    # --- a pending result ---------------------------------------------------------------------------------
    def _check(self, sub: Submission, job: Job) -> Decision | None:
        if job.status is not JobStatus.SUBMITTED:
            return self._done(sub, State.SKIPPED, f"already {job.status.value.lower()} when looked at")
        circuit = self.circuits(job.model_id)
        if circuit is None:
            return self._done(
                sub, State.SKIPPED, f"no local circuit for model {job.model_id}",
                f"install it to check its jobs: ngx-zk model pull {job.model_id}",
            )  # fmt: skip
        grace_at = sub.challenge_deadline - self.grace_s
        now = self.view.clock(grace_at)
        if now >= sub.challenge_deadline:
            return self._done(sub, State.SKIPPED, "the challenge window closed before it was checked")
        places = sources(self.view.endpoint(sub.provider), self.explorer)
        served, failures = fetch_proof(self.fetch, places, sub)
        if served is None:
            if now < grace_at:
                if sub.job_id not in self._waiting:
                    self._waiting.add(sub.job_id)
                    return Decision(sub.job_id, sub.batch_id, sub.provider, "waiting", "", "; ".join(failures) or "no source",
                                    challenge_deadline=sub.challenge_deadline)  # fmt: skip
                return None
            return self._challenge(sub, Problem.UNAVAILABLE, "; ".join(failures) or "no endpoint and no mirror to ask")
        result = self.check(circuit, sub, self.view.commitments(sub.job_id), served)
        if result.ok:
            return self._done(sub, State.VALID, "", result.detail, source=result.source)
        assert result.problem is not None
        return self._challenge(sub, result.problem, result.detail, source=result.source)

    def _challenge(self, sub: Submission, problem: Problem, detail: str, source: str | None = None) -> Decision:
        self.journal.set(sub.job_id, State.CHALLENGING, problem.value, detail)
        try:
            tx, answer_deadline = self.view.challenge(self.signer, sub)
        except ContractRevert as exc:
            if exc.name not in TOO_LATE:
                raise
            return self._done(sub, State.SKIPPED, f"too late to challenge ({exc.name})")
        self.journal.set(sub.job_id, State.CHALLENGED, tx=tx)
        return Decision(sub.job_id, sub.batch_id, sub.provider, "challenged", problem.value, detail, source, tx,
                        sub.challenge_deadline, answer_deadline)  # fmt: skip

    # --- one of our challenges ----------------------------------------------------------------------------
    def _follow(self, sub: Submission, job: Job) -> Decision | None:
        if job.status is JobStatus.SETTLED:
            return self._done(sub, State.ANSWERED, "", "the provider answered the challenge with a valid proof")
        if job.status is JobStatus.EXPIRED:
            return self._done(sub, State.UPHELD, "", "upheld by another account")
        if job.status is not JobStatus.CHALLENGED:
            return None
        _, answer_deadline = self.view.challenger(sub.job_id)
        if self.view.clock(answer_deadline) < answer_deadline:
            return None
        try:
            tx = self.view.uphold(self.signer, sub.job_id)
        except ContractRevert as exc:
            if exc.name not in NOT_YET | {"JobMarket__InvalidStatus"}:
                raise
            self.progress(f"job {sub.job_id}: not upheld yet ({exc.name}); trying again at the next pass")
            return None
        self.journal.set(sub.job_id, State.UPHELD, tx=tx)
        return Decision(
            sub.job_id, sub.batch_id, sub.provider, "upheld", "", "", None, tx, sub.challenge_deadline, answer_deadline
        )

    def _done(self, sub: Submission, state: State, reason: str, detail: str = "", source: str | None = None) -> Decision:
        self.journal.set(sub.job_id, state, reason, detail)
        return Decision(sub.job_id, sub.batch_id, sub.provider, state.value, reason, detail, source,
                        challenge_deadline=sub.challenge_deadline)  # fmt: skip


def _ours(challenger: str, signer: Signer) -> bool:
    return challenger.lower() == signer.address.lower()
