"""Posted jobs and offered orders that wait for room: refused only because a cap on what this worker holds is full
(``Verdict.wait``: ``--max-claimed``, the fresh caps, free stake while held jobs lock it), they stay (a job SEEN, an
order offered) and are looked at again once what the caps weigh fell (a held job ended), when their claim window
or order deadline closes (then they are skipped or refused), or after :data:`CAPPED_RECHECK_S` at the latest (another
provider may have taken one). Between those looks a waiting job or order costs no read: it is said once (journal or
log), not once per round. A job is keyed by its id, an order by (consumer, nonce).
"""

from __future__ import annotations

import time
from collections.abc import Hashable

from .journal import Journal

CAPPED_RECHECK_S = 300.0
"""Longest wait between two looks at a job a cap refused, when nothing held ended and its claim window is open."""

Load = tuple[int, int, int]


class CapWaits:
    """The jobs and orders waiting for room, and what this worker held when each was refused (:meth:`load`)."""

    def __init__(self, journal: Journal, claimed: set[int]) -> None:
        self.journal, self.claimed = journal, claimed
        """``claimed``: the jobs this run claimed (a claim a reorg dropped is still held: it is made again)."""
        self.jobs: dict[Hashable, tuple[Load, float]] = {}
        self._load: tuple[tuple[int, int], Load] | None = None

    def load(self) -> Load:
        """What the caps weigh, from the journal: jobs held that use the prover (not those waiting out a challenge
        window), jobs held of fresh consumers, and the collateral all held jobs lock. Read again only after a move."""
        key = (self.journal.moves, len(self.claimed))
        if self._load is None or self._load[0] != key:
            held = [r for r in self.journal.unfinished() if r.step.holding or r.job_id in self.claimed]
            self._load = key, (sum(not r.step.waiting for r in held), sum(r.fresh for r in held), sum(r.collateral for r in held))
        return self._load[1]

    def waiting(self, job_id: Hashable) -> bool:
        """Whether ``job_id`` waits still: refused by a cap, and nothing held has ended since nor its look come."""
        if job_id not in self.jobs:
            return False
        then, look = self.jobs[job_id]
        return time.monotonic() < look and all(now >= was for now, was in zip(self.load(), then, strict=True))

    def wait(self, job_id: Hashable, closes_in: float) -> None:
        """``job_id`` was refused by a cap, its claim window closing in ``closes_in`` seconds."""
        self.jobs[job_id] = (self.load(), time.monotonic() + max(1.0, min(closes_in, CAPPED_RECHECK_S)))

    def looked_at(self, job_id: Hashable) -> bool:
        """``job_id`` is being judged again (claimed or skipped, unless it waits again); whether it was waiting."""
        return self.jobs.pop(job_id, None) is not None
