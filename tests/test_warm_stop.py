"""What a warm-stopping worker waits for (:class:`ngx_zk.worker.warm_stop.WarmStop`), in milliseconds: journal
records, a scripted chain clock and job statuses. The real worker's warm stop on anvil is in
test_worker_warm_stop_chain.py."""

from __future__ import annotations

from typing import Any

from ngx_zk.chain.types import JobStatus
from ngx_zk.errors import ChainError
from ngx_zk.worker.journal import JobRecord, Step
from ngx_zk.worker.warm_stop import FINALIZE_GRACE_S, WarmStop

NOW = 1_000_000


class World:
    def __init__(self) -> None:
        self.chain, self.wall = float(NOW), 0.0
        self.statuses: dict[int, JobStatus] = {}
        self.logged: list[tuple[str, dict[str, Any]]] = []
        self.stop = WarmStop(lambda: self.chain, lambda j: self.statuses.get(j, JobStatus.SUBMITTED), self.log, lambda: self.wall)

    def log(self, event: str, **fields: Any) -> None:
        self.logged.append((event, fields))

    def waits(self, *records: JobRecord, claimed: frozenset[int] = frozenset()) -> dict[int, str]:
        return {w.job_id: w.what for w in self.stop.waits(records, set(claimed))}


def submitted(job_id: int, deadline: int) -> JobRecord:
    return JobRecord(job_id, 1, Step.SUBMITTED, batch_id=7, challenge_deadline=deadline)


def test_it_waits_for_each_open_window_and_logs_what_until_when_once_per_change() -> None:
    w = World()
    a, b = submitted(1, NOW + 60), submitted(2, NOW + 120)
    assert set(w.waits(a, b)) == {1, 2}
    assert w.waits(a, b) and len(w.logged) == 1, "the same account is not logged again"
    event, fields = w.logged[0]
    assert event == "worker.stopping" and fields["chain_now"] == NOW
    assert [(x["job_id"], x["until"], x["until_utc"]) for x in fields["waiting"]] == [
        (1, NOW + 60, "1970-01-12T13:47:40Z"),
        (2, NOW + 120, "1970-01-12T13:48:40Z"),
    ]
    w.chain = NOW + 60
    assert w.waits(a, b) == {1: "its finalization", 2: "its challenge window to close (a challenge is answered)"}
    assert len(w.logged) == 2


def test_a_result_past_its_window_holds_the_stop_only_for_its_finalization_grace_or_an_answer() -> None:
    w = World()
    a = submitted(1, NOW - 1)
    assert w.waits(a) == {1: "its finalization"}
    w.wall += FINALIZE_GRACE_S
    assert w.waits(a) == {}, "left to a restart"
    w.statuses[1] = JobStatus.CHALLENGED  # challenged inside the window, seen after it: never left unanswered
    assert w.waits(a) == {1: "the answer to its challenge"}
    w.stop.left([a])
    assert w.logged[-1][0] == "worker.stop_left" and w.logged[-1][1]["jobs"] == [1] and w.logged[-1][1]["batches"] == [7]


def test_jobs_in_hand_and_answers_hold_the_stop_and_finished_ones_do_not() -> None:
    w = World()
    proving = JobRecord(3, 1, Step.PROVING, prove_deadline=NOW + 600)
    answering = JobRecord(4, 1, Step.ANSWERING)
    seen, done = JobRecord(5, 1, Step.SEEN), JobRecord(6, 1, Step.DONE)
    unread = JobRecord(8, 1, Step.SUBMITTED)  # adopted after a crash: its batch's deadline not read yet
    assert w.waits(proving, answering, seen, done, unread) == {
        3: "the job in hand (proving)",
        4: "the answer to its challenge",
        8: "its challenge window to close (a challenge is answered)",
    }
    assert w.waits(seen, claimed=frozenset({5})) == {5: "the job in hand (seen)"}, "a claim a reorg dropped is made again"
    assert w.waits(seen, done) == {}
    w.stop.left([done])
    assert w.logged[-1][0] == "worker.stopping", "nothing left: no warning"


def test_a_node_that_does_not_answer_holds_the_stop_instead_of_ending_the_worker() -> None:
    w = World()

    def down() -> float:
        raise ChainError("no RPC endpoint answered")

    w.stop.chain_now = down
    assert w.waits(submitted(1, NOW - 1)) == {0: "the node to answer (no RPC endpoint answered)"}
