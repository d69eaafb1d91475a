"""How a job leaves the worker's hands: settled, declined, skipped, lost or failed; and what the lifecycle
does with a :class:`~ngx_zk.worker.standing.Verdict` (the chain's word on a job) or an unexpected error.

:meth:`Endings.decline` is also the DECLINING step's handler: giving a job back is a transaction, and
after a crash mid-decline the journal resumes it here.
"""

from __future__ import annotations

import time
from typing import Any

from ..chain.types import DeclineReason, Job, JobStatus
from ..errors import NgxZkError
from .crew import Crew
from .journal import JobRecord, Step
from .standing import Outcome, Verdict

MAX_STEP_ERRORS = 3
"""Unexpected errors in a row after which a job is given back instead of retried."""
RETRY_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits between dry runs of a submission that reverted for a reason that may clear (a pause)."""


class Endings:
    def __init__(self, crew: Crew) -> None:
        self.crew = crew

    def ours(self, record: JobRecord) -> Job | None:
        """The job if it is still claimed by us inside its prove window; journals what happened if not."""
        ours = self.crew.standing.still_ours(record)
        if isinstance(ours, Verdict):
            self.carry_out(record, ours)
            return None
        return ours

    def carry_out(self, record: JobRecord, verdict: Verdict, cause: BaseException | None = None) -> None:
        """Journal (and act on) what the chain says happened to ``record``'s job (``cause``: the revert read)."""
        c, note = self.crew, verdict.note
        match verdict.outcome:
            case Outcome.LOST:
                self.finish(record, Step.LOST, note)
            case Outcome.DONE:
                self.done(record, "", note=note)
            case Outcome.SKIPPED:
                self.finish(record, Step.SKIPPED, note, log_as="job.skipped")
            case Outcome.RECLAIM:
                c.journal.record(record.job_id, record.model_id, Step.SEEN, note=note)
                c.log("job.reorged", level="warning", job_id=record.job_id, reason="claim dropped")
            case Outcome.DECLINE_OTHER:
                c.journal.record(
                    record.job_id, record.model_id, Step.DECLINING, decline_reason=int(DeclineReason.OTHER), note=note
                )
            case Outcome.RETRY:
                _, attempts = c.retry_at.get(record.job_id, (0.0, 0))
                wait = RETRY_BACKOFF_S[min(attempts, len(RETRY_BACKOFF_S) - 1)]
                c.retry_at[record.job_id] = (time.monotonic() + wait, attempts + 1)
                c.log("job.revert", level="warning", job_id=record.job_id, error=note, retry_in_s=wait)
            case Outcome.GIVE_BACK:
                self.give_back(record, DeclineReason.OTHER, note)
            case Outcome.FAILED:
                self.finish(record, Step.FAILED, note)
            case Outcome.CONTAIN:
                self.contain(record, cause or RuntimeError(note))

    # --- DECLINING ---------------------------------------------------------------------------------
    def give_back(self, record: JobRecord, reason: DeclineReason, why: str) -> bool:
        c = self.crew
        c.journal.record(record.job_id, record.model_id, Step.DECLINING, note=why, decline_reason=int(reason), reason=why)
        fresh = c.journal.get(record.job_id)
        return self.decline(fresh) if fresh is not None else True

    def decline(self, record: JobRecord) -> bool:
        c = self.crew
        job = c.market.job(record.job_id)
        if job.status is JobStatus.SETTLED and c.standing.mine(job):
            self.done(record, "", note="already settled")
            return True
        if not (job.status is JobStatus.CLAIMED and c.standing.mine(job)):
            return self.finish(record, Step.LOST, f"job is {job.status.value}")
        if c.standing.now() >= job.prove_deadline:
            return self.finish(record, Step.LOST, "prove deadline passed before the decline")
        reason = DeclineReason(record.decline_reason or 0)
        c.market.decline(c.signer, record.job_id, reason)
        c.stats.declined += 1
        c.metrics.inc("ngx_worker_jobs_total", outcome="declined")
        c.log("job.declined", level="warning", job_id=record.job_id, reason=record.reason, decline=reason.name.lower())
        return self.finish(record, Step.DECLINED, record.reason)

    # --- final steps -------------------------------------------------------------------------------
    def done(self, record: JobRecord, tx: str, note: str = "", block: int | None = None) -> None:
        """Journal the job settled (``block``: the settling transaction's, watched by the monitor for a reorg)."""
        c = self.crew
        self.finish(record, Step.DONE, note, submit_tx=tx, settled_block=block)
        c.stats.completed += 1
        c.metrics.inc("ngx_worker_jobs_total", outcome="settled")
        c.log("job.settled", job_id=record.job_id, tx=tx)

    def finish(self, record: JobRecord, step: Step, note: str, log_as: str = "", **fields: Any) -> bool:
        """Journal a final step and drop the job's private files, early proof and mail."""
        c = self.crew
        c.journal.record(record.job_id, record.model_id, step, note=note, **fields)
        c.opener.discard(record.job_id)
        c.offers.forget(record.job_id)
        c.inflight.pop(record.job_id, None)
        c.retry_at.pop(record.job_id, None)
        if step is Step.DONE:  # a settled private job's sealed output waits for its consumer; its input goes
            c.mailbox.release_input(record.job_id)
        else:
            c.discard_mail(record.job_id)
        if step is Step.LOST:
            c.stats.lost += 1
            c.metrics.inc("ngx_worker_jobs_total", outcome="lost")
            c.log("job.lost", level="warning", job_id=record.job_id, reason=note)
        elif log_as:
            c.log(log_as, job_id=record.job_id, reason=note)
        return False

    def contain(self, record: JobRecord, exc: BaseException) -> None:
        """An unexpected error in one job's step: count it; give the job back (or drop it) after a few."""
        c, errors = self.crew, record.errors + 1
        c.log(
            "job.error",
            level="error",
            job_id=record.job_id,
            step=record.step.value,
            error=f"{type(exc).__name__}: {str(exc)[:300]}",
            errors=errors,
        )
        why = f"gave up after {errors} errors: {exc}"[:300]
        try:
            on_chain = record.step in (Step.SUBMITTED, Step.ANSWERING) or (record.optimistic and record.step is Step.SUBMITTING)
            if errors < MAX_STEP_ERRORS or on_chain:  # an optimistic result (maybe) on chain is never given up
                c.journal.record(record.job_id, record.model_id, record.step, note=f"error {errors}: {exc}"[:300], errors=errors)
            elif record.step is Step.SEEN:
                self.finish(record, Step.SKIPPED, why, log_as="job.skipped")
            elif record.step in (Step.CLAIMED, Step.PROVING, Step.PROVED, Step.QUEUED, Step.SUBMITTING):
                self.give_back(record, DeclineReason.OTHER, why)
            else:
                self.finish(record, Step.FAILED, why)
        except NgxZkError as again:  # the decline itself failed: the next round starts over from the journal
            c.log("job.error", level="error", job_id=record.job_id, error=str(again)[:300])
        except Exception as again:
            c.log("job.error", level="error", job_id=record.job_id, error=f"{type(again).__name__}: {str(again)[:300]}")
