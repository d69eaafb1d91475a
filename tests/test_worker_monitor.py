"""The worker's chain monitor (ngx_zk/worker/monitor.py): cursors kept across a restart, a log handed on once
even when it is read again inside the reorg window, and a log a reorg removed noticed.

The fast tests read logs from ``LogsFake`` (FAKE: an in-memory log table standing in for the chain's log
queries); the last one makes a real reorg on anvil with evm_snapshot/evm_revert.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk.chain.types import (
    ChainEvent,
    Job,
    JobClaimed,
    JobPosted,
    JobStatus,
    Logged,
    LogMeta,
    commitments_hash,
)
from ngx_zk.consumer import post_job
from ngx_zk.errors import ChainError
from ngx_zk.worker.crew import Stats
from ngx_zk.worker.journal import Journal, Step
from ngx_zk.worker.monitor import ChainMonitor, LogCursor
from ngx_zk.worker.observe import Metrics
from ngx_zk.worker.standing import GONE, Standing

from .chain_fixtures import Net
from .paths import MODELS

ME, OTHER, CONSUMER = "0x" + "11" * 20, "0x" + "33" * 20, "0x" + "22" * 20
NGX = 10**18


@dataclass
class HeadFake:
    head: int = 10
    now: int = 1_000_000

    def block_number(self) -> int:
        return self.head

    def timestamp(self) -> int:
        return self.now


@dataclass
class LogsFake:
    """FAKE: the chain's logs and job table in memory; ``reorg`` drops logs as a fork that won would."""

    chain: HeadFake = field(default_factory=HeadFake)
    deployment: Any = field(default_factory=lambda: SimpleNamespace(block=1))
    entries: list[Logged[Any]] = field(default_factory=list)
    jobs: dict[int, Job] = field(default_factory=dict)
    reads: list[tuple[str, int, int | None]] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    down: bool = False

    def add(self, event: ChainEvent, block: int, tx: str) -> None:
        self.entries.append(Logged(event, LogMeta(block, tx, 0)))
        self.chain.head = max(self.chain.head, block)

    def post(self, job_id: int, block: int, tx: str, commitments: tuple[int, ...] = (7,), model_id: int = 1) -> None:
        hashed = commitments_hash(commitments)
        self.jobs[job_id] = Job(job_id, CONSUMER, JobStatus.OPEN, None, NGX, 0, model_id, 0, 0, 600, 0, 0, hashed)
        self.add(JobPosted(job_id, CONSUMER, model_id, commitments, NGX, 0, 600, 0), block, tx)

    def reorg(self, from_block: int) -> None:
        """The blocks from ``from_block`` on are replaced by empty ones (as many): their logs and jobs are gone."""
        gone = {e.event.job_id for e in self.entries if e.meta.block_number >= from_block and isinstance(e.event, JobPosted)}
        self.entries = [e for e in self.entries if e.meta.block_number < from_block]
        for job_id in gone:
            del self.jobs[job_id]

    def logs(self, kind: type[Any], from_block: int, to_block: int | None = None, **filters: Any) -> list[Logged[Any]]:
        if self.down:
            raise ChainError("HTTP 503 from the node")
        self.reads.append((kind.__name__, from_block, to_block))
        top = self.chain.head if to_block is None else to_block
        return [e for e in self.entries if isinstance(e.event, kind) and from_block <= e.meta.block_number <= top]

    def job_count(self) -> int:
        return max(self.jobs, default=0)

    def job(self, job_id: int) -> Job:
        return self.jobs[job_id]

    def posted(self, job_id: int) -> Logged[JobPosted]:
        return next(e for e in self.entries if isinstance(e.event, JobPosted) and e.event.job_id == job_id)

    def expire(self, signer: Any, job_id: int) -> Any:
        self.expired.append(job_id)


def monitor(market: Any, journal: Journal, logged: list[tuple[str, dict[str, Any]]] | None = None) -> ChainMonitor:
    return ChainMonitor(
        market,
        journal,
        Standing(market, ME),
        SimpleNamespace(address=ME),  # type: ignore[arg-type]
        {1},
        stats=Stats(),
        log=lambda event, **fields: (logged if logged is not None else []).append((event, fields)),
        metrics=Metrics(),
        reorg_window=5,
    )


def test_cursors_survive_a_restart_and_a_log_read_again_is_handed_on_once(tmp_path: Path) -> None:
    chain = LogsFake()
    chain.post(1, block=8, tx="0xa")  # inside the window below head 10: every read reads it again
    journal = Journal(tmp_path / "journal.sqlite")
    cursor: LogCursor[JobPosted] = LogCursor(journal, chain, JobPosted, "posted")
    first = cursor.read(chain.chain.head, window=5)
    assert [e.event.job_id for e in first.new] == [1]
    cursor.done(first, lambda e: e.job_id)
    assert cursor.read(chain.chain.head, window=5).new == [], "read again inside the window: not new"
    journal.close()

    chain.post(2, block=11, tx="0xb")
    restarted = Journal(tmp_path / "journal.sqlite")
    again: LogCursor[JobPosted] = LogCursor(restarted, chain, JobPosted, "posted")
    assert restarted.cursor("posted", 0) == 11, "the cursor was kept in the journal"
    read = again.read(chain.chain.head, window=5)
    assert [e.event.job_id for e in read.new] == [2], "after a restart only the new log is handed on"
    assert chain.reads[-1] == ("JobPosted", 6, 11), "the restart reads on from the cursor, less the window"


def test_the_monitor_journals_a_posted_job_once_and_a_restarted_one_reads_on(tmp_path: Path) -> None:
    chain, logged = LogsFake(), []  # type: ignore[var-annotated]
    chain.post(1, block=3, tx="0xa")
    chain.post(2, block=4, tx="0xc", model_id=9)
    journal = Journal(tmp_path / "journal.sqlite")
    monitor(chain, journal, logged).scan()
    monitor(chain, journal, logged).scan()  # a restart (same journal): nothing new
    assert [(r.job_id, r.step) for r in journal.all()] == [(1, Step.SEEN)], "job 2 is not a served model's"
    assert [f["job_id"] for e, f in logged if e == "job.seen"] == [1]


def test_a_post_a_reorg_removed_is_noticed_and_its_job_never_claimed(tmp_path: Path) -> None:
    chain, logged = LogsFake(), []  # type: ignore[var-annotated]
    journal = Journal(":memory:")
    watch = monitor(chain, journal, logged)
    chain.post(1, block=9, tx="0xa")
    watch.scan()
    assert journal.get(1).step is Step.SEEN  # type: ignore[union-attr]

    chain.reorg(from_block=9)
    chain.post(1, block=10, tx="0xd", commitments=(8,))  # the new branch gives the id to another job
    watch.scan()

    assert journal.history(1)[1][:1] == ("lost",) and journal.history(1)[1][2] == GONE
    entry = journal.get(1)
    assert entry is not None and entry.step is Step.SEEN and entry.commitments == (8,), "the id's new job is seen"
    assert ("chain.reorged", {"level": "warning", "job_id": 1, "block": 9, "tx": "0xa"}) in logged
    assert watch.stats.lost == 1


def test_a_post_moved_to_another_block_by_a_reorg_is_not_lost_nor_seen_twice() -> None:
    chain = LogsFake()
    journal = Journal(":memory:")
    watch = monitor(chain, journal)
    chain.post(1, block=9, tx="0xa")
    watch.scan()
    chain.reorg(from_block=9)
    chain.post(1, block=10, tx="0xa")  # the same transaction, re-included one block later
    chain.entries[-1] = Logged(chain.entries[-1].event, LogMeta(10, "0xa", 3))
    watch.scan()
    assert [s for s, _, _ in journal.history(1)] == ["seen"]


def test_a_claim_a_reorg_removed_is_no_longer_watched_nor_expired() -> None:
    chain = LogsFake()
    journal = Journal(":memory:")
    watch = monitor(chain, journal)
    chain.post(1, block=4, tx="0xa")
    deadline = chain.chain.now + 100
    chain.add(JobClaimed(1, OTHER, NGX, deadline), block=6, tx="0xb")
    chain.jobs[1] = replace(chain.jobs[1], status=JobStatus.CLAIMED, provider=OTHER, prove_deadline=deadline)
    watch.scan()
    assert watch.overdue == {1: deadline}, "another provider's claim of a served model is watched"

    chain.reorg(from_block=6)
    chain.jobs[1] = replace(chain.jobs[1], status=JobStatus.OPEN, provider=None, prove_deadline=0)
    watch.scan()
    assert watch.overdue == {}, "the claim is gone: nothing to watch"
    chain.chain.now += 200
    watch.scan()
    assert chain.expired == []


def test_a_node_outage_moves_no_cursor() -> None:
    chain, logged = LogsFake(), []  # type: ignore[var-annotated]
    journal = Journal(":memory:")
    chain.post(1, block=3, tx="0xa")
    chain.down = True
    monitor(chain, journal, logged).scan()
    assert journal.get(1) is None and journal.cursor("posted", -1) == -1 and logged[0][0] == "chain.error"
    chain.down = False
    monitor(chain, journal, logged).scan()
    assert journal.get(1) is not None


@pytest.mark.chain
def test_a_real_reorg_on_anvil_loses_the_dropped_job_and_sees_its_reused_id_once(chain_snapshot: Net, tmp_path: Path) -> None:
    """evm_snapshot before a post, evm_revert after the monitor saw it: the post is gone, the job lost; the
    id's next job is seen, once, however many polls read its block again."""
    net, m = chain_snapshot, chain_snapshot.market
    journal, logged = Journal(":memory:"), []  # type: ignore[var-annotated]
    watch = ChainMonitor(
        m,
        journal,
        Standing(m, net.signer("provider").address),
        net.signer("provider"),
        {net.model_id},
        stats=Stats(),
        log=lambda event, **fields: logged.append((event, fields)),
        metrics=Metrics(),
    )
    settings = ngx.load_settings(
        {
            "NGX_ZK_HOME": str(net.home),
            "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
            "NGX_ZK_STATE_DIR": str(tmp_path / "consumer"),
        }
    )
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)

    def post() -> int:
        record = post_job(
            settings,
            m,
            net.signer("consumer"),
            net.circuit,
            data,
            price=10 * NGX,
            claim_window=600,
            prove_window=600,
            min_reputation=0,
        )
        return record.job_id

    watch.scan()
    snapshot = net.rpc("evm_snapshot")["result"]
    first = post()
    watch.scan()
    assert (entry := journal.get(first)) is not None and entry.step is Step.SEEN

    assert net.rpc("evm_revert", [snapshot])["result"] is True  # the fork without the post wins
    watch.scan()
    entry = journal.get(first)
    assert entry is not None and entry.step is Step.LOST and journal.history(first)[-1][2] == GONE
    assert any(e == "chain.reorged" and f["job_id"] == first for e, f in logged)

    second = post()
    assert second == first, "the id is free again"
    for _ in range(3):
        watch.scan()
    assert [s for s, _, _ in journal.history(second)] == ["seen", "lost", "seen"]
    assert [f["job_id"] for e, f in logged if e == "job.seen"] == [first, second]
