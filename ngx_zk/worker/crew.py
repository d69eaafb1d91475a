"""What the lifecycle's rooms share: its collaborators and its in-memory state, in one :class:`Crew`.

The rooms (:mod:`~ngx_zk.worker.lifecycle` for SEEN and CLAIMING, :mod:`~ngx_zk.worker.proving` for
CLAIMED to SUBMITTING, :mod:`~ngx_zk.worker.endings` for DECLINING and every final step) each hold the
same crew, so a collaborator swapped in one place (a test's fake) is seen by all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..artifacts import Circuit
from ..chain.signer import Signer
from ..inputs import InputData
from .jobfiles import InputOpener, Served
from .journal import Journal
from .market_view import MarketView
from .observe import Metrics
from .offers import OfferBook
from .policy import ClaimPolicy
from .provers import ProofRun
from .standing import Standing


class Provers(Protocol):
    def submit(self, circuit: Circuit, salted: InputData, out: Path) -> Future[ProofRun]: ...


class Mailbox(Protocol):
    def get(self, job_id: int, kind: str) -> bytes | None: ...
    def put(self, job_id: int, kind: str, data: bytes) -> None: ...
    def release_input(self, job_id: int) -> None: ...


@dataclass
class Stats:
    completed: int = 0
    declined: int = 0
    lost: int = 0
    claimed_ids: set[int] = field(default_factory=set)
    """Jobs this run claimed (a claim a reorg dropped and the worker made again counts once)."""
    resumed: int = 0
    """Jobs already in hand (claimed, unfinished) when this run started: they count towards ``max_jobs``."""
    prove_seconds: list[float] = field(default_factory=list)

    @property
    def taken(self) -> int:
        """This run's jobs: those it claimed plus those it resumed (old finished jobs do not count)."""
        return len(self.claimed_ids) + self.resumed


@dataclass
class Crew:
    """The lifecycle's collaborators (fakes in tests/test_lifecycle.py) and the state its rooms share."""

    market: MarketView
    signer: Signer
    journal: Journal
    served: Mapping[int, Served]
    opener: InputOpener
    offers: OfferBook
    provers: Provers
    policy: ClaimPolicy
    mailbox: Mailbox
    wake: threading.Event
    log: Callable[..., None]
    metrics: Metrics
    standing: Standing
    crash_point: Callable[[str], None]
    """FAULT INJECTION (tests only): the worker's crash points, named after the step just journaled."""
    calldata: Callable[[Path, int, tuple[int, int]], tuple[bytes, list[int]]]
    """A proof file's calldata: (proof bytes, public instances); args: polycommit points, weight-hash slice."""
    discard_mail: Callable[[int], None]
    stats: Stats = field(default_factory=Stats)
    inflight: dict[int, Future[ProofRun]] = field(default_factory=dict)
    """Proofs of claimed jobs, running or done and not yet journaled."""
    retry_at: dict[int, tuple[float, int]] = field(default_factory=dict)
    """Job id -> (monotonic time of its next try, tries so far): a step waiting on a revert that may clear."""

    def running(self) -> list[Future[ProofRun]]:
        return [f for f in self.inflight.values() if not f.done()]
