"""A warm stop (the first SIGTERM/SIGINT): what the worker still waits for before it exits, and until when.

The worker stops claiming at once and finishes the jobs in hand (proves, submits, flushes its settle queue). An
optimistic result on chain is defended until its challenge window closes: a challenge inside the window is
answered (a challenge seen after the window, but made inside it, too). A result past its window and unchallenged
holds the stop only while the worker finalizes it (it is paid then), for at most :data:`FINALIZE_GRACE_S`; if that
did not happen (a guardian pause, a revert), its journal keeps it SUBMITTED and a restart (or anyone:
``finalizeBatch``) finalizes it. Each
time the set of things waited for changes, one ``worker.stopping`` line says what they are and until when
(chain time, unix seconds and UTC). A second signal exits at once; the journal lets a restart answer any open
challenge.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..chain.types import JobStatus
from ..errors import ChainError
from .journal import JobRecord, Step

Log = Callable[..., None]
FINALIZE_GRACE_S = 30.0
"""Wall seconds a stopping worker gives its own finalization of a result past its window before leaving it."""


@dataclass(frozen=True)
class Wait:
    """One thing a stopping worker waits for: ``what`` for job ``job_id``, until chain time ``until`` (0: unknown)."""

    job_id: int
    what: str
    until: int = 0

    def to_json(self) -> dict[str, object]:
        until = {"until": self.until, "until_utc": utc(self.until)} if self.until else {}
        return {"job_id": self.job_id, "for": self.what, **until}


def utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WarmStop:
    """:meth:`waits` is what holds the stop now; :meth:`left` what a stopped worker leaves to a restart."""

    def __init__(
        self,
        chain_now: Callable[[], float],
        status: Callable[[int], JobStatus],
        log: Log,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chain_now, self.status, self.log, self.clock = chain_now, status, log, clock
        self._logged: tuple[tuple[int, str], ...] | None = None
        self._closed_at: dict[int, float] = {}  # job id -> when (self.clock) the stop first saw its window closed

    def waits(self, unfinished: Iterable[JobRecord], claimed: set[int]) -> list[Wait]:
        """What the stop still waits for (logged when it changes); empty: the worker may exit. A node that does not
        answer holds the stop (nothing is known to be safe to leave): the next round asks again."""
        try:
            now, found = self.chain_now(), []
            for r in unfinished:
                wait = self._wait(r, now, claimed)
                if wait is not None:
                    found.append(wait)
        except ChainError as exc:
            now, found = 0.0, [Wait(0, f"the node to answer ({exc.message})")]
        key = tuple((w.job_id, w.what) for w in found)
        if key != self._logged:
            self._logged = key
            self.log("worker.stopping", waiting=[w.to_json() for w in found], **({"chain_now": int(now)} if now else {}))
        return found

    def _wait(self, r: JobRecord, now: float, claimed: set[int]) -> Wait | None:
        if r.step is Step.SUBMITTED:
            if not r.challenge_deadline:  # its batch not read back yet (adopted after a crash)
                return Wait(r.job_id, "its challenge window to close (a challenge is answered)")
            if now < r.challenge_deadline:
                return Wait(r.job_id, "its challenge window to close (a challenge is answered)", r.challenge_deadline)
            if self.status(r.job_id) is JobStatus.CHALLENGED:  # made inside the window, seen now: answer it
                return Wait(r.job_id, "the answer to its challenge")
            closed_at = self._closed_at.setdefault(r.job_id, self.clock())
            return Wait(r.job_id, "its finalization") if self.clock() < closed_at + FINALIZE_GRACE_S else None
        if r.step is Step.ANSWERING:
            return Wait(r.job_id, "the answer to its challenge")
        if r.step.holding or r.job_id in claimed:
            return Wait(r.job_id, f"the job in hand ({r.step.value})", r.prove_deadline)
        return None

    def left(self, unfinished: Iterable[JobRecord]) -> None:
        """At exit: the results left unfinalized (past their windows, unchallenged), logged for the operator."""
        left = [r for r in unfinished if r.step is Step.SUBMITTED]
        if left:
            self.log(
                "worker.stop_left",
                level="warning",
                jobs=[r.job_id for r in left],
                batches=sorted({r.batch_id for r in left if r.batch_id is not None}),
                note="results past their challenge windows, not finalized yet: a restart (or anyone) finalizes them",
            )
