"""The market's history as the anomaly detector reads it: one :class:`History` loaded from the explorer's index.

Only what the index holds (jobs folded from their events, the events themselves, block times): each job with
its claim, decline reason, on-chain delivery and reward; NGX transfers between accounts (the funding graph);
each model id's owner and registration time; the deployment's contract addresses (escrow, staking and payout
transfers are not "funding").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..explorer.db import Database

CONTRACTS_META = "contracts"
"""The ``meta`` key under which the indexer keeps the deployment's contract addresses (a JSON list)."""


@dataclass(frozen=True)
class JobFact:
    """One job as the detector weighs it (times are chain seconds; amounts wei)."""

    job_id: int
    consumer: str
    provider: str | None
    """Who claimed it last (a declined job keeps its decliner)."""
    model_id: int
    outcome: str
    price: int
    posted: int
    claimed: int | None = None
    ended: int | None = None
    reward: int | None = None
    decline_reason: int | None = None
    """``IJobMarket.DeclineReason`` (0 other, 1 input missing, 2 input invalid) when declined."""
    delivered_on_chain: bool = False


@dataclass(frozen=True)
class Transfer:
    """An NGX transfer between two accounts (neither a market contract)."""

    source: str
    target: str
    value: int
    time: int


@dataclass
class History:
    """Everything the features are computed from."""

    jobs: list[JobFact] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    models: dict[int, tuple[str, int]] = field(default_factory=dict)
    """Model id -> (owner, registration time)."""
    contracts: set[str] = field(default_factory=set)


def load(db: Database) -> History:
    """The history in ``db`` (an explorer index, SQLite or PostgreSQL)."""
    raw = db.get_meta(CONTRACTS_META)
    contracts = {str(a).lower() for a in json.loads(raw)} if raw else set()
    deployment = (db.get_meta("deployment") or "").partition(":")[2]
    if deployment:
        contracts.add(deployment.lower())
    claims: dict[int, int] = {}
    declines: dict[int, tuple[int, str]] = {}
    delivered: set[int] = set()
    models: dict[int, tuple[str, int]] = {}
    transfers: list[Transfer] = []
    rows = db.query(
        "SELECT e.name, e.job_id, e.model_id, e.args, b.time FROM events e JOIN blocks b ON b.number = e.block_number "
        "WHERE e.name IN ('JobClaimed', 'JobDeclined', 'InputDelivered', 'ModelRegistered', 'Transfer') "
        "ORDER BY e.block_number, e.log_index"
    )
    for row in rows:
        name, args, time = str(row["name"]), json.loads(row["args"]), int(row["time"])
        if name == "JobClaimed":
            claims[int(row["job_id"])] = time
        elif name == "JobDeclined":
            declines[int(row["job_id"])] = (int(args["reason"]), str(args["provider"]).lower())
        elif name == "InputDelivered":
            delivered.add(int(row["job_id"]))
        elif name == "ModelRegistered":
            models[int(row["model_id"])] = (str(args["owner"]).lower(), time)
        else:
            source, target = str(args.get("from", "")).lower(), str(args.get("to", "")).lower()
            if source in contracts or target in contracts or int(source or "0", 16) == 0 or int(target or "0", 16) == 0:
                continue  # escrow, stake, payouts, mints and burns: not one account funding another
            transfers.append(Transfer(source, target, int(args["value"]), time))
    jobs = []
    for job in db.query(
        "SELECT job_id, consumer, provider, model_id, outcome, price, posted_time, ended_time, reward FROM jobs ORDER BY job_id"
    ):
        job_id = int(job["job_id"])
        reason, decliner = declines.get(job_id, (None, None))
        jobs.append(
            JobFact(
                job_id=job_id,
                consumer=str(job["consumer"]),
                provider=job["provider"] or decliner,
                model_id=int(job["model_id"]),
                outcome=str(job["outcome"]),
                price=int(job["price"]),
                posted=int(job["posted_time"]),
                claimed=claims.get(job_id),
                ended=None if job["ended_time"] is None else int(job["ended_time"]),
                reward=None if job["reward"] is None else int(job["reward"]),
                decline_reason=reason if job["outcome"] == "declined" else None,
                delivered_on_chain=job_id in delivered,
            )
        )
    return History(jobs, transfers, models, contracts)


__all__ = ["CONTRACTS_META", "History", "JobFact", "Transfer", "load"]
