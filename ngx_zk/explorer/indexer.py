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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract

from ..chain.abi import abi
from ..chain.deployment import Deployment
from ..chain.tx import Chain
from .db import Database

log = logging.getLogger(__name__)

CONTRACTS = ("JobMarket", "ModelRegistry", "ProviderStaking", "Reputation", "RewardsPool")
"""The contracts the explorer follows (by artifact and deployment name)."""
BATCH_BLOCKS = 2_000
"""Most blocks one ``eth_getLogs`` call asks for."""
BATCH_CALLS = 200
"""Most requests (block headers, transactions, receipts) sent in one JSON-RPC batch."""
DEV_CONFIRMATIONS = 0
"""A local anvil devnet has no competing miners: index its head at once (a reorg there is still rewound)."""
CONFIRMATIONS = 12
"""Anywhere else: index a block once this many blocks sit on top of it."""

JOB_STATUS_BY_EVENT = {"JobPosted": "Open", "JobClaimed": "Claimed", "JobSettled": "Settled", "JobExpired": "Expired",
                       "JobCancelled": "Cancelled", "JobDeclined": "Cancelled"}
"""The status each lifecycle event leaves a job in, as ``IJobMarket.JobStatus`` names it (a decline cancels)."""
OUTCOME_BY_EVENT = {"JobSettled": "settled", "JobExpired": "expired", "JobCancelled": "cancelled", "JobDeclined": "declined"}
ACCOUNT_FIELDS = ("provider", "consumer", "account", "owner")
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


def jsonable(value: Any) -> Any:
    """Event arguments as JSON: bytes as 0x hex, addresses checksummed, big ints kept exact."""
    if isinstance(value, bytes | bytearray | HexBytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


class Indexer:
    """Indexes the deployment's contracts from ``deployment.block`` into ``db``."""

    def __init__(self, chain: Chain, deployment: Deployment, db: Database, *, confirmations: int | None = None,
                 batch_blocks: int = BATCH_BLOCKS) -> None:
        self.chain, self.deployment, self.db = chain, deployment, db
        dev = chain.chain_id == 31337
        self.confirmations = (DEV_CONFIRMATIONS if dev else CONFIRMATIONS) if confirmations is None else confirmations
        self.batch_blocks = batch_blocks
        self._batches = True
        self.contracts: dict[str, tuple[str, Contract]] = {}
        self.topics: dict[tuple[str, bytes], str] = {}
        """(lower-case address, topic0) -> event name."""
        for name in CONTRACTS:
            address = deployment.contracts.get(name)
            if address is None:
                continue
            contract = chain.contract(name, address)
            self.contracts[address.lower()] = (name, contract)
            for entry in abi(name):  # the exported artifact, read at run time
                if entry.get("type") == "event" and not entry.get("anonymous"):
                    topic = bytes(HexBytes(contract.events[str(entry["name"])]().topic))
                    self.topics[(address.lower(), topic)] = str(entry["name"])
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

                raise ExplorerError(f"database {self.db.describe()} indexes another deployment ({found}), not {chain_key}",
                                    "point --db at a new database for this chain")

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
        try:
            block = self.chain.w3.eth.get_block(number)
        except Exception:  # web3 raises BlockNotFound past the head
            return None
        return "0x" + bytes(block["hash"]).hex()

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
            jobs = {int(r["job_id"]) for r in self.db.query(
                "SELECT DISTINCT job_id FROM events WHERE block_number > ? AND job_id IS NOT NULL", (fork,))}
            for table in ("events", "txs"):
                self.db.execute(f"DELETE FROM {table} WHERE block_number > ?", (fork,))
            self.db.execute("DELETE FROM blocks WHERE number > ?", (fork,))
            self._refold(jobs)
            self.db.set_meta("cursor", str(fork))
        return jobs

    # --- indexing --------------------------------------------------------------------------------
    def _index_range(self, start: int, stop: int) -> tuple[int, set[int]] | None:
        logs = self.chain.w3.eth.get_logs({"fromBlock": start, "toBlock": stop,
                                           "address": [to_checksum_address(a) for a in self.contracts]})
        numbers = sorted({int(entry["blockNumber"]) for entry in logs} | {stop})
        headers = self._fetch(self.chain.w3.eth.get_block, numbers)
        hashes = {n: "0x" + bytes(h["hash"]).hex() for n, h in headers.items()}
        rows, jobs, txs = [], set(), {}
        for entry in logs:
            n = int(entry["blockNumber"])
            if "0x" + bytes(entry["blockHash"]).hex() != hashes[n]:
                return None
            decoded = self._decode(entry)
            if decoded is None:
                continue
            contract, name, args = decoded
            job_id = args.get("jobId")
            if job_id is not None:
                jobs.add(int(job_id))
            account = next((str(args[k]).lower() for k in ACCOUNT_FIELDS if isinstance(args.get(k), str)), None)
            tx_hash = "0x" + bytes(entry["transactionHash"]).hex()
            txs[tx_hash] = n
            rows.append((n, int(entry["logIndex"]), hashes[n], tx_hash, contract, name,
                         None if job_id is None else int(job_id), None if args.get("modelId") is None else int(args["modelId"]),
                         account, json.dumps(args)))
        receipts = self._fetch(self.chain.w3.eth.get_transaction_receipt, [HexBytes(h) for h in txs])
        sent = self._fetch(self.chain.w3.eth.get_transaction, [HexBytes(h) for h in txs])
        calls = {h: self._call(sent[HexBytes(h)]) for h in txs}
        receipts = {"0x" + bytes(h).hex(): r for h, r in receipts.items()}
        with self.db.transaction():
            for row in rows:
                self.db.execute("INSERT INTO events (block_number, log_index, block_hash, tx_hash, contract, name, job_id, model_id, "
                                "account, args) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            for tx_hash, receipt in receipts.items():
                self.db.execute("INSERT INTO txs (tx_hash, block_number, sender, gas_used, method, proof_bytes) VALUES (?, ?, ?, ?, ?, ?)",
                                (tx_hash, txs[tx_hash], str(receipt["from"]).lower(), int(receipt["gasUsed"]), *calls[tx_hash]))
            for n in numbers:
                self.db.execute("DELETE FROM blocks WHERE number = ?", (n,))
                self.db.execute("INSERT INTO blocks (number, hash, time) VALUES (?, ?, ?)", (n, hashes[n], int(headers[n]["timestamp"])))
            self._refold(jobs)
            self.db.set_meta("cursor", str(stop))
        return len(rows), jobs

    def _fetch(self, get: Callable[[Any], Any], keys: Sequence[Any]) -> dict[Any, Any]:
        """``{key: get(key)}``, asked in JSON-RPC batches (one round trip per BATCH_CALLS), one by one
        where the node refuses batches."""
        found: dict[Any, Any] = {}
        for i in range(0, len(keys), BATCH_CALLS):
            chunk = keys[i:i + BATCH_CALLS]
            if self._batches:
                try:
                    with self.chain.w3.batch_requests() as batch:
                        for key in chunk:
                            batch.add(get(key))
                        found.update(zip(chunk, batch.execute(), strict=True))
                    continue
                except Exception as exc:  # a node or proxy without batch support
                    log.info("indexer: JSON-RPC batches refused (%s): one request at a time", exc)
                    self._batches = False
            found.update((key, get(key)) for key in chunk)
        return found

    def _call(self, tx: Mapping[str, Any]) -> tuple[str | None, int | None]:
        """The contract function a transaction called (when it called a followed contract directly) and,
        for ``submitResult``, the proof's size in bytes."""
        to = str(tx.get("to") or "").lower()
        if to not in self.contracts:
            return None, None
        try:
            fn, args = self.contracts[to][1].decode_function_input(tx["input"])
        except ValueError:
            return None, None
        proof = args.get("proof")
        return str(fn.fn_name), len(proof) if isinstance(proof, bytes | bytearray) else None

    def _decode(self, entry: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
        address = str(entry["address"]).lower()
        topics = entry["topics"]
        name = self.topics.get((address, bytes(topics[0]))) if topics else None
        if name is None:
            return None
        contract_name, contract = self.contracts[address]
        event = contract.events[name]().process_log(entry)
        return contract_name, name, dict(jsonable(dict(event["args"])))

    # --- the job table ---------------------------------------------------------------------------
    def _refold(self, job_ids: Iterable[int]) -> None:
        for job_id in sorted(set(job_ids)):
            self.db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
            events = self.db.query(
                "SELECT e.name, e.args, e.tx_hash, e.block_number, b.time FROM events e JOIN blocks b ON b.number = e.block_number "
                "WHERE e.job_id = ? ORDER BY e.block_number, e.log_index", (job_id,))
            row = fold_job(job_id, events)
            if row is None:
                continue
            row["proof_bytes"] = self.db.scalar(
                "SELECT MAX(proof_bytes) FROM txs WHERE tx_hash IN (SELECT tx_hash FROM events WHERE job_id = ? AND name = 'JobSettled')",
                (job_id,))
            row["gas_used"] = int(self.db.scalar(
                "SELECT COALESCE(SUM(gas_used), 0) FROM txs WHERE tx_hash IN (SELECT DISTINCT tx_hash FROM events WHERE job_id = ?)",
                (job_id,)) or 0)
            self.db.execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))


def fold_job(job_id: int, events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The job row from its events (oldest first, each with ``name``, ``args`` (JSON) and ``time``);
    None if its JobPosted is not (or no longer) indexed."""
    job: dict[str, Any] | None = None
    for event in events:
        name, args = str(event["name"]), json.loads(event["args"])
        if name == "JobPosted":
            job = {"job_id": job_id, "consumer": str(args["consumer"]).lower(), "provider": None, "model_id": int(args["modelId"]),
                   "status": "Open", "outcome": "open", "price": str(args["price"]), "posted_block": int(event["block_number"]), "posted_time": int(event["time"]),
                   "ended_time": None, "provider_pay": None, "royalty": None, "fee": None, "reward": None, "proof_bytes": None,
                   "inferences": max(1, len(args.get("inputCommitments") or ()))}  # a batch job commits to each input
            continue
        if job is None:
            continue
        if "provider" in args and name in ("JobClaimed", "JobSettled"):
            job["provider"] = str(args["provider"]).lower()
        if name in JOB_STATUS_BY_EVENT:
            job["status"] = JOB_STATUS_BY_EVENT[name]
            job["outcome"] = OUTCOME_BY_EVENT.get(name, job["status"].lower())
        if name in OUTCOME_BY_EVENT:
            job["ended_time"] = int(event["time"])
        if name == "JobSettled":
            for key, column in (("providerPay", "provider_pay"), ("royalty", "royalty"), ("fee", "fee"), ("reward", "reward")):
                if key in args:
                    job[column] = str(args[key])
    return job


__all__ = ["CONTRACTS", "Indexer", "SyncResult", "fold_job", "jsonable"]
