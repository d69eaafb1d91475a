"""What is new on chain for this worker: jobs posted and reopened for its models, and other providers'
claims that run past their deadline. :class:`ChainMonitor` reads them once per poll.

Each event kind has a cursor (:class:`LogCursor`), kept in the journal, so a restarted worker reads on
from where it stopped. Each poll reads again the last ``reorg_window`` blocks below the cursor, where a
reorg may have re-included an event the worker never saw or removed one it acted on. The logs acted
on inside that window are remembered with the cursor (by transaction and log index): a log read twice
is acted on once, and one that is no longer there is noticed (a job whose JobPosted a reorg removed
is journaled lost). The cursor moves only after its logs were acted on, so a crash in between reads
them again, and journaling a job is idempotent.

The worker's own settlements are looked at again on every poll until they are ``reorg_window`` blocks
deep (the jobs journaled DONE at or above ``head - reorg_window``): one whose settlement a reorg dropped
goes back to where the chain now has it - still claimed by this worker: PROVED (sent again before the
prove deadline, from the proof file kept); an optimistic result of ours whose finalization went: SUBMITTED
(finalized again once the window closed, or a challenge answered); open again (the claim went too): SEEN
(claimed again); gone or someone else's: LOST. The contract pays a job once whatever is sent, so a settlement
re-included by the fork and a second one sent by the worker never pay twice (the later one reverts, read back
as settled).

Logs come typed from the chain layer (:meth:`Marketplace.logs <ngx_zk.chain.contracts.Contracts.logs>`),
which pages its reads to the node's limits.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from ..chain.signer import Signer
from ..chain.types import ChainEvent, JobClaimed, JobPosted, JobReopened, JobStatus, Logged
from ..errors import ChainError, ContractRevert
from .crew import Stats
from .journal import Journal, SeenLog, Step
from .market_view import MonitorView
from .observe import Metrics
from .options import REORG_WINDOW_BLOCKS
from .standing import GONE, Standing

E = TypeVar("E", bound=ChainEvent)

FRESH_ROUND: dict[str, Any] = {
    "claim_block": None,
    "claim_tx": "",
    "input_path": "",
    "reply_to": "",
    "proof_path": "",
    "submit_tx": "",
    "submit_sends": 0,
    "decline_reason": None,
    "reason": "",
    "errors": 0,
    "offered": False,
}
"""What a job's record forgets when it is reopened: the first round's claim, input and proof were someone else's."""


@dataclass(frozen=True)
class Pass(Generic[E]):
    """One read of a cursor's blocks: the logs not acted on yet, and those acted on that a reorg removed."""

    head: int
    start: int
    new: list[Logged[E]]
    vanished: list[SeenLog]


class LogCursor(Generic[E]):
    """One event kind's cursor: the next block to read, and the logs acted on inside the reorg window."""

    def __init__(self, journal: Journal, market: MonitorView, kind: type[E], name: str) -> None:
        self.journal, self.market, self.kind, self.name = journal, market, kind, name

    def read(self, head: int, window: int, *, replay: bool = False) -> Pass[E]:
        """The logs from ``window`` blocks below the cursor to ``head``, split into new and vanished
        (``replay``: hand on again those acted on already, to rebuild what a restart forgot)."""
        first = self.market.deployment.block
        cursor = self.journal.cursor(self.name, first)
        start = max(first, min(cursor, head + 1) - window)  # a reorg may have shortened the chain below the cursor
        found = self.market.logs(self.kind, start, head) if start <= head else []
        keys = {(f.meta.tx_hash, f.meta.log_index) for f in found}
        remembered = self.journal.seen_logs(self.name)
        vanished = [s for s in remembered if s.block >= start and s.key not in keys]
        acted = set() if replay else {s.key for s in remembered}
        new = [f for f in found if (f.meta.tx_hash, f.meta.log_index) not in acted]
        return Pass(head, start, new, vanished)

    def done(self, read: Pass[E], job_id: Callable[[E], int]) -> None:
        """The logs of ``read`` were acted on: remember them and move the cursor past its head."""
        seen = [SeenLog(f.meta.tx_hash, f.meta.log_index, f.meta.block_number, job_id(f.event)) for f in read.new]
        self.journal.move_cursor(self.name, read.head + 1, seen=seen, vanished=read.vanished, forget_below=read.start)


class ChainMonitor:
    """Reads what is new on chain each poll and journals the jobs this worker may take (see the module doc)."""

    def __init__(
        self,
        market: MonitorView,
        journal: Journal,
        standing: Standing,
        signer: Signer,
        served: Collection[int],
        *,
        stats: Stats,
        log: Callable[..., None],
        metrics: Metrics,
        reorg_window: int = REORG_WINDOW_BLOCKS,
        expire_overdue: bool = True,
    ) -> None:
        self.market, self.journal, self.standing, self.signer, self.served = market, journal, standing, signer, served
        self.stats, self.log, self.metrics = stats, log, metrics
        self.reorg_window, self.expire_overdue = reorg_window, expire_overdue
        self.overdue: dict[int, int] = {}
        """Job id -> prove deadline of another provider's claim of a served model (expired once it passes)."""
        self._replayed = False  # the first poll rebuilds ``overdue`` from the claims inside the window

    def _cursor(self, kind: type[E], name: str) -> LogCursor[E]:
        return LogCursor(self.journal, self.market, kind, name)

    def scan(self) -> None:
        """One poll: journal new jobs, reopened jobs and jobs a reorg removed; expire overdue claims. A node
        outage is logged and retried on the next poll (the cursors moved only past what was acted on)."""
        try:
            head = self.market.chain.block_number()
            self._posted(head)
            self._reopened(head)
            self._claimed(head)
            self._settled(head)
            self._expire_overdue()
            self.metrics.set("ngx_worker_last_block", head)
        except ChainError as exc:
            self.log("chain.error", level="warning", error=str(exc))

    # --- JobPosted -----------------------------------------------------------------------------
    def _posted(self, head: int) -> None:
        cursor = self._cursor(JobPosted, "posted")
        read = cursor.read(head, self.reorg_window)
        for gone in read.vanished:  # first: a job the reorg dropped may have given its id to a new one
            self._vanished(gone)
        for posted in read.new:
            event = posted.event
            known = self.journal.get(event.job_id)
            if event.model_id not in self.served or (
                known is not None and not (known.step.final and known.commitments != event.input_commitments)
            ):
                continue  # a finished entry with other commitments: a reorg gave its id to a new job
            self.journal.record(
                event.job_id,
                event.model_id,
                Step.SEEN,
                commitments=event.input_commitments,
                price=event.price,
                seen_block=posted.meta.block_number,
            )
            self.log("job.seen", job_id=event.job_id, model_id=event.model_id, price=event.price)
        cursor.done(read, lambda e: e.job_id)

    def _vanished(self, gone: SeenLog) -> None:
        """A JobPosted acted on is no longer on chain: a job not claimed yet is lost if the chain lost it too
        (a reorg may only have moved the post to another block); a claimed one is the lifecycle's to find out."""
        self.log("chain.reorged", level="warning", job_id=gone.job_id, block=gone.block, tx=gone.tx)
        record = self.journal.get(gone.job_id)
        if record is None or record.step is not Step.SEEN or self.standing.job_as_seen(record) is not None:
            return
        self.journal.record(record.job_id, record.model_id, Step.LOST, note=GONE)
        self.stats.lost += 1
        self.log("job.lost", level="warning", job_id=record.job_id, reason=GONE)

    # --- JobReopened ---------------------------------------------------------------------------
    def _reopened(self, head: int) -> None:
        """Journal jobs of served models reopened for a second prover as SEEN again, once each."""
        cursor = self._cursor(JobReopened, "reopened")
        read = cursor.read(head, self.reorg_window)
        for gone in read.vanished:  # the lifecycle finds the job claimed again, and skips it
            self.log("chain.reorged", level="warning", job_id=gone.job_id, block=gone.block, tx=gone.tx)
        for reopened in read.new:
            event = reopened.event
            known = self.journal.get(event.job_id)
            if known is not None and (known.reopened or not known.step.final):
                continue  # seen this round already, or still in hand (the lifecycle finds it is not ours)
            if known is None:
                job = self.market.job(event.job_id)
                if job.model_id not in self.served:
                    continue
                commitments = self.market.posted(event.job_id).event.input_commitments
                model_id, price = job.model_id, job.price
            else:
                model_id, commitments, price = known.model_id, known.commitments, known.price
            self.journal.record(
                event.job_id,
                model_id,
                Step.SEEN,
                commitments=commitments,
                price=price,
                reopened=True,
                seen_block=reopened.meta.block_number,
                note=f"reopened: {event.missed_by} missed it",
                **FRESH_ROUND,
            )
            self.log("job.reopened", job_id=event.job_id, model_id=model_id, missed_by=event.missed_by, bounty=event.bounty)
        cursor.done(read, lambda e: e.job_id)

    # --- JobClaimed by others, overdue -----------------------------------------------------------
    def _claimed(self, head: int) -> None:
        """Watch other providers' claims of served models' jobs this worker saw (their deadlines)."""
        cursor = self._cursor(JobClaimed, "claimed")
        read = cursor.read(head, self.reorg_window, replay=not self._replayed)
        for gone in read.vanished:
            self.overdue.pop(gone.job_id, None)
        for claimed in read.new:
            event = claimed.event
            known = self.journal.get(event.job_id)
            if known is not None and known.model_id in self.served and event.provider.lower() != self.standing.me:
                self.overdue[known.job_id] = event.prove_deadline
        cursor.done(read, lambda e: e.job_id)
        self._replayed = True

    # --- our own settlements, until no reorg can drop them -----------------------------------------
    def _settled(self, head: int) -> None:
        """Each job this worker settled inside the reorg window: still settled by us? (see the module doc)"""
        for record in self.journal.settled_since(head - self.reorg_window):
            job = self.standing.job_as_seen(record)
            if job is not None and job.status is JobStatus.SETTLED and self.standing.mine(job):
                continue
            self.stats.completed = max(0, self.stats.completed - 1)
            if job is None:
                step, note = Step.LOST, GONE
            elif job.status is JobStatus.OPEN:
                step, note = Step.SEEN, "a reorg dropped our claim and settlement; claiming again"
            elif job.status in (JobStatus.SUBMITTED, JobStatus.CHALLENGED) and self.standing.mine(job):
                step, note = Step.SUBMITTED, "a reorg dropped our finalization; finalizing again once the window closed"
            elif job.status is not JobStatus.CLAIMED or not self.standing.mine(job):
                step, note = Step.LOST, f"a reorg dropped our settlement; the job is {job.status.value}"
            elif self.standing.now() >= job.prove_deadline or not (record.proof_path and Path(record.proof_path).is_file()):
                step, note = Step.LOST, "a reorg dropped our settlement and it can no longer be sent again"
            else:
                step, note = Step.PROVED, "a reorg dropped our settlement; submitting again"
            self.log("job.unsettled", level="warning", job_id=record.job_id, block=record.settled_block, now=step.value)
            if step is Step.SEEN:
                fields = {"commitments": record.commitments, "price": record.price, **FRESH_ROUND}
                self.journal.record(record.job_id, record.model_id, step, note=note, **fields)
            else:
                self.journal.record(record.job_id, record.model_id, step, note=note, settled_block=None)
            if step is Step.LOST:
                self.stats.lost += 1
                self.log("job.lost", level="warning", job_id=record.job_id, reason=note)

    def _expire_overdue(self) -> None:
        """Expire other providers' claims of served models whose prove deadline passed (once, after the
        deadline): the job reopens with a bounty this worker may then earn, and the consumer, who may not be
        watching, is not left waiting on a dead provider. A read first: a lost race costs no gas."""
        if not self.expire_overdue or not self.overdue:
            return
        now = self.market.chain.timestamp()
        for job_id, deadline in sorted(self.overdue.items()):
            if now < deadline:
                continue
            del self.overdue[job_id]
            job = self.market.job(job_id)
            if job.status is not JobStatus.CLAIMED or job.prove_deadline > now or self.standing.mine(job):
                continue
            try:
                self.market.expire(self.signer, job_id)
            except ContractRevert as exc:  # someone else expired it first, or it settled at the last second
                self.log("job.expire_skipped", job_id=job_id, reason=exc.name)
                continue
            self.log("job.expired_overdue", job_id=job_id, provider=job.provider, reopened=not job.reopened)
