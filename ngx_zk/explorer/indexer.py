"""Follow the market's contracts into the database: every log decoded by the ABI it was emitted under.

Logs are matched to events by topic (the ABIs are read from the exported artifacts at run time, so a
contract that gains an event field is decoded with its new shape once the artifacts are re-exported)
and stored whole as JSON, with the few key columns the views filter on. The job table is a fold of
each job's events by event name and field name, never by position.

Safety: only blocks at least ``confirmations`` deep are indexed; the hash of every indexed block
with logs (and of each batch's last block) is kept, and before each batch the last one is compared
with the chain's. On a mismatch the indexer walks back to the newest block the chain still holds
(the fork point), deletes everything above it and indexes again from there. A batch whose logs
name another hash than the block header fetched with them is dropped and retried.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..chain.deployment import Deployment
from ..chain.history import Transaction
from ..chain.tx import Chain
from ..chain.types import JobStatus, is_dev_chain
from ..watch.proofs import http_fetch
from .db import Database
from .proofs import ProofMirror

log = logging.getLogger(__name__)

CONTRACTS = ("JobMarket", "ModelRegistry", "ProviderStaking", "Reputation", "RewardsPool", "NGXToken")
"""The contracts the explorer follows (by artifact and deployment name); the token's transfers are the funding graph
of :mod:`ngx_zk.anomaly` (who funded whom)."""
BATCH_BLOCKS = 2_000
"""Most blocks one indexing batch covers (the chain layer cuts its ``eth_getLogs`` to the spans the node accepts)."""
DEV_CONFIRMATIONS = 0
"""A local anvil devnet has no competing miners: index its head at once (a reorg there is still rewound)."""
CONFIRMATIONS = 12
"""Anywhere else: index a block once this many blocks sit on top of it."""

JOB_STATUS_BY_EVENT = {
    "JobPosted": JobStatus.OPEN,
    "JobClaimed": JobStatus.CLAIMED,
    "JobSettled": JobStatus.SETTLED,
    "JobExpired": JobStatus.EXPIRED,
    "JobCancelled": JobStatus.CANCELLED,
    "JobDeclined": JobStatus.CANCELLED,
    "JobReopened": JobStatus.OPEN,
    "JobSubmitted": JobStatus.SUBMITTED,
    "JobChallenged": JobStatus.CHALLENGED,
    "ChallengeUpheld": JobStatus.EXPIRED,
}
"""The status each lifecycle event leaves a job in, as ``IJobMarket.JobStatus`` names it (a decline cancels)."""
OUTCOME_BY_EVENT = {
    "JobSettled": "settled", "JobExpired": "expired", "JobCancelled": "cancelled", "JobDeclined": "declined",
    "ChallengeUpheld": "expired",
}  # fmt: skip
IN_FLIGHT = {JobStatus.SUBMITTED: "claimed", JobStatus.CHALLENGED: "claimed"}
"""An optimistic job submitted or challenged is still in its provider's hands: its outcome (the stats' and filters'
word) stays ``claimed`` until it settles or is upheld (``expired``); its ``status`` says which step it is at."""
ACCOUNT_FIELDS = ("provider", "consumer", "account", "owner", "missedBy")
"""The first of these an event carries fills its ``account`` column."""


@dataclass
class SyncResult:
    """What one :meth:`Indexer.sync` did."""

    head: int
    """The chain's head when the sync started."""
    indexed_to: int
    """The last block indexed (the confirmed head, or less if ``max_blocks`` stopped it)."""
    events: int = 0
    rewound_to: int | None = None
    """The fork point a reorg rewound to, if one was found."""
    jobs: set[int] = field(default_factory=set)
    proofs_mirrored: int = 0
    """Optimistic jobs' proofs copied from their providers in this sync."""


def jsonable(value: Any) -> Any:
    """Event arguments as JSON: bytes as 0x hex, addresses checksummed, big ints kept exact."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


class Indexer:
    """Indexes the deployment's contracts from ``deployment.block`` into ``db``."""

    def __init__(
        self,
        chain: Chain,
        deployment: Deployment,
        db: Database,
        *,
        confirmations: int | None = None,
        batch_blocks: int = BATCH_BLOCKS,
        mirror: ProofMirror | None = None,
    ) -> None:
        self.chain, self.deployment, self.db = chain, deployment, db
        dev = is_dev_chain(chain.chain_id)
        self.confirmations = (DEV_CONFIRMATIONS if dev else CONFIRMATIONS) if confirmations is None else confirmations
        self.batch_blocks = batch_blocks
        self.mirror = ProofMirror(db, http_fetch(dev)) if mirror is None else mirror
        """Copies optimistic jobs' proofs from their providers after each sync (:mod:`.proofs`)."""
        self.events = chain.contract_events(
            {name: deployment.contracts[name] for name in CONTRACTS if name in deployment.contracts}
        )
        self._check_database()

    def _check_database(self) -> None:
        chain_key = f"{self.chain.chain_id}:{self.deployment.contracts.get('JobMarket', '').lower()}"
        with self.db.transaction():
            found = self.db.get_meta("deployment")
            if found is None:
                self.db.set_meta("deployment", chain_key)
                self.db.set_meta("start_block", str(self.deployment.block))
            elif found != chain_key:
                from . import ExplorerError

                raise ExplorerError(
                    f"database {self.db.describe()} indexes another deployment ({found}), not {chain_key}",
                    "point --db at a new database for this chain",
                )
            # every contract of the deployment: transfers to and from them are escrow and payouts, not funding
            self.db.set_meta("contracts", json.dumps(sorted(a.lower() for a in self.deployment.contracts.values())))

    # --- progress --------------------------------------------------------------------------------
    @property
    def cursor(self) -> int:
        """The last block indexed (the block before the deployment when nothing is)."""
        value = self.db.get_meta("cursor")
        return int(value) if value is not None else self.deployment.block - 1

    def confirmed_head(self, head: int | None = None) -> int:
        return (self.chain.block_number() if head is None else head) - self.confirmations

    def sync(self, max_blocks: int | None = None) -> SyncResult:
        """Rewind past a reorg if there was one, then index up to the confirmed head (or ``max_blocks`` more)."""
        head = self.chain.block_number()
        result = SyncResult(head=head, indexed_to=self.cursor)
        fork = self._fork_point()
        if fork is not None:
            result.jobs |= self._rewind(fork)
            result.rewound_to = fork
        target = self.confirmed_head(head)
        if max_blocks is not None:
            target = min(target, self.cursor + max_blocks)
        start = self.cursor + 1
        while start <= target:
            stop = min(start + self.batch_blocks - 1, target)
            done = self._index_range(start, stop)
            if done is None:
                break  # the chain moved under the batch: the next sync sees the reorg
            result.events += done[0]
            result.jobs |= done[1]
            start = stop + 1
        result.indexed_to = self.cursor
        try:
            result.proofs_mirrored = self.mirror.run()
        except Exception as exc:  # a provider or a database hiccup must not stop the indexing
            log.warning("proof mirror: %s", exc)
        return result

    def follow(self, stop: threading.Event, *, poll_s: float = 1.0, on_sync: Callable[[SyncResult], None] | None = None) -> None:
        """Sync until ``stop`` is set; errors are logged and retried on the next poll."""
        while not stop.is_set():
            try:
                result = self.sync()
                if on_sync is not None:
                    on_sync(result)
            except Exception as exc:  # a node that drops out must not end the explorer
                log.warning("indexer: %s", exc)
            stop.wait(poll_s)

    # --- reorgs ----------------------------------------------------------------------------------
    def _chain_hash(self, number: int) -> str | None:
        block = self.chain.block(number)
        return None if block is None else block.hash

    def _fork_point(self) -> int | None:
        """None if the last indexed block is still on the chain; else the newest stored block that is."""
        cursor = self.cursor
        stored = self.db.scalar("SELECT hash FROM blocks WHERE number = ?", (cursor,))
        if stored is None or self._chain_hash(cursor) == stored:
            return None
        for row in self.db.query("SELECT number, hash FROM blocks WHERE number < ? ORDER BY number DESC", (cursor,)):
            if self._chain_hash(int(row["number"])) == row["hash"]:
                return int(row["number"])
        return self.deployment.block - 1

    def _rewind(self, fork: int) -> set[int]:
        log.info("indexer: reorg, rewinding to block %d", fork)
        with self.db.transaction():
            jobs = {
                int(r["job_id"])
                for r in self.db.query(
                    "SELECT DISTINCT job_id FROM events WHERE block_number > ? AND job_id IS NOT NULL", (fork,)
                )
            }
            for table in ("events", "txs"):
                self.db.execute(f"DELETE FROM {table} WHERE block_number > ?", (fork,))
            self.db.execute("DELETE FROM blocks WHERE number > ?", (fork,))
            self._refold(jobs)
            self.db.set_meta("cursor", str(fork))
        return jobs

    # --- indexing --------------------------------------------------------------------------------
    def _index_range(self, start: int, stop: int) -> tuple[int, set[int]] | None:
        logs = self.chain.logs(start, stop, self.events.addresses)
        numbers = sorted({entry.block_number for entry in logs} | {stop})
        headers = self.chain.blocks(numbers)
        rows, jobs, txs = [], set(), {}
        for entry in logs:
            n = entry.block_number
            if entry.block_hash != headers[n].hash:
                return None
            decoded = self.events.decode(entry)
            if decoded is None:
                continue
            args = dict(jsonable(decoded.args))
            job_id = args.get("jobId")
            if job_id is not None:
                jobs.add(int(job_id))
            account = next((str(args[k]).lower() for k in ACCOUNT_FIELDS if isinstance(args.get(k), str)), None)
            txs[entry.tx_hash] = n
            rows.append(
                (
                    n,
                    entry.log_index,
                    headers[n].hash,
                    entry.tx_hash,
                    decoded.contract,
                    decoded.name,
                    None if job_id is None else int(job_id),
                    None if args.get("modelId") is None else int(args["modelId"]),
                    account,
                    json.dumps(args),
                )
            )
        receipts = self.chain.receipts(list(txs))
        sent = self.chain.transactions(list(txs))
        calls = {h: self._call(sent[h]) for h in txs}
        with self.db.transaction():
            for row in rows:
                self.db.execute(
                    "INSERT INTO events (block_number, log_index, block_hash, tx_hash, contract, name, job_id, model_id, "
                    "account, args) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            for tx_hash, receipt in receipts.items():
                self.db.execute(
                    "INSERT INTO txs (tx_hash, block_number, sender, gas_used, method, proof_bytes) VALUES (?, ?, ?, ?, ?, ?)",
                    (tx_hash, txs[tx_hash], receipt.sender, receipt.gas_used, *calls[tx_hash]),
                )
            for n in numbers:
                self.db.execute("DELETE FROM blocks WHERE number = ?", (n,))
                self.db.execute(
                    "INSERT INTO blocks (number, hash, time) VALUES (?, ?, ?)", (n, headers[n].hash, headers[n].timestamp)
                )
            self._refold(jobs)
            self.db.set_meta("cursor", str(stop))
        return len(rows), jobs

    def _call(self, tx: Transaction) -> tuple[str | None, int | None]:
        """The contract function a transaction called (when it called a followed contract directly) and,
        for ``submitResult``, the proof's size in bytes."""
        called = self.events.decode_call(tx)
        if called is None:
            return None, None
        fn, args = called
        proof = args.get("proof")
        return fn, len(proof) if isinstance(proof, bytes | bytearray) else None

    # --- the job table ---------------------------------------------------------------------------
    def _refold(self, job_ids: Iterable[int]) -> None:
        for job_id in sorted(set(job_ids)):
            self.db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
            events = self.db.query(
                "SELECT e.name, e.args, e.tx_hash, e.block_number, b.time FROM events e JOIN blocks b ON b.number = e.block_number "
                "WHERE e.job_id = ? ORDER BY e.block_number, e.log_index",
                (job_id,),
            )
            row = fold_job(job_id, events)
            if row is None:
                continue
            row["proof_bytes"] = self.db.scalar(
                "SELECT MAX(proof_bytes) FROM txs WHERE tx_hash IN (SELECT tx_hash FROM events WHERE job_id = ? AND name = 'JobSettled')",
                (job_id,),
            )
            row["gas_used"] = int(
                self.db.scalar(
                    "SELECT COALESCE(SUM(gas_used), 0) FROM txs WHERE tx_hash IN (SELECT DISTINCT tx_hash FROM events WHERE job_id = ?)",
                    (job_id,),
                )
                or 0
            )
            self.db.execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))


def fold_job(job_id: int, events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The job row from its events (oldest first, each with ``name``, ``args`` (JSON) and ``time``);
    None if its JobPosted is not (or no longer) indexed."""
    job: dict[str, Any] | None = None
    for event in events:
        name, args = str(event["name"]), json.loads(event["args"])
        if name == "JobPosted":
            job = {
                "job_id": job_id,
                "consumer": str(args["consumer"]).lower(),
                "provider": None,
                "model_id": int(args["modelId"]),
                "status": JobStatus.OPEN,
                "outcome": "open",
                "price": str(args["price"]),
                "posted_block": int(event["block_number"]),
                "posted_time": int(event["time"]),
                "ended_time": None,
                "provider_pay": None,
                "royalty": None,
                "fee": None,
                "reward": None,
                "proof_bytes": None,
                "inferences": max(1, len(args.get("inputCommitments") or ())),
            }  # a batch job commits to each input
            continue
        if job is None:
            continue
        if "provider" in args and name in ("JobClaimed", "JobSettled"):
            job["provider"] = str(args["provider"]).lower()
        if name in JOB_STATUS_BY_EVENT:
            job["status"] = JOB_STATUS_BY_EVENT[name]
            job["outcome"] = OUTCOME_BY_EVENT.get(name, IN_FLIGHT.get(job["status"], job["status"].lower()))
        if name in OUTCOME_BY_EVENT:
            job["ended_time"] = int(event["time"])
        if name == "JobReopened":  # its provider missed it: open again for a second prover
            job["provider"], job["outcome"] = None, "reopened"
        if name == "JobPriceLocked":  # an auction's claim: the price paid, not the escrowed maximum
            job["price"] = str(args["price"])
        if name == "JobSettled":
            for key, column in (("providerPay", "provider_pay"), ("royalty", "royalty"), ("fee", "fee"), ("reward", "reward")):
                if key in args:
                    job[column] = str(args[key])
    return job


__all__ = ["CONTRACTS", "Indexer", "SyncResult", "fold_job", "jsonable"]
