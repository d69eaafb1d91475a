"""What the API serves, derived from the indexed events by event and field names.

Amounts are wei as decimal strings (JSON numbers lose precision above 2**53); addresses are lower
case; input commitments are 0x hex (as the CLI prints them). Live figures that no event carries (NRS
and its components, current stake, a model's royalty and status) come from the chain through
:class:`~.live.Live` (cached) when the server has one, under ``live``. Every list is paged.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..chain.types import DeclineReason, JobStatus
from .db import Database

if TYPE_CHECKING:
    from .live import Live

STATUSES = tuple(s.value for s in JobStatus if s is not JobStatus.NONE)
OUTCOMES = ("open", "claimed", "settled", "expired", "cancelled", "declined", "reopened")
JOB_COLUMNS = (
    "job_id",
    "consumer",
    "provider",
    "model_id",
    "status",
    "outcome",
    "price",
    "posted_block",
    "posted_time",
    "ended_time",
    "provider_pay",
    "royalty",
    "fee",
    "reward",
    "gas_used",
    "proof_bytes",
    "inferences",
)
NO_NAMES: Mapping[int, str] = {}


@dataclass(frozen=True)
class JobFilter:
    status: str | None = None
    outcome: str | None = None
    provider: str | None = None
    consumer: str | None = None
    model_id: int | None = None


def _job(row: dict[str, Any], names: Mapping[int, str]) -> dict[str, Any]:
    job = {k: row[k] for k in JOB_COLUMNS}
    for k in ("job_id", "model_id", "posted_block", "posted_time", "ended_time", "gas_used", "proof_bytes", "inferences"):
        job[k] = None if job[k] is None else int(job[k])
    job["latency_s"] = (
        job["ended_time"] - job["posted_time"] if job["status"] == JobStatus.SETTLED and job["ended_time"] is not None else None
    )
    job["model_name"] = names.get(job["model_id"])
    return job


def _args(row: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(row["args"]))


def _sum(values: Any) -> str:
    return str(sum(int(v) for v in values if v is not None))


def list_jobs(db: Database, where: JobFilter, limit: int, offset: int, names: Mapping[int, str] = NO_NAMES) -> dict[str, Any]:
    """Jobs, newest first; ``names`` (registry id -> local circuit name) labels their models."""
    clauses, params = [], []
    for column, value in (
        ("status", where.status),
        ("outcome", where.outcome),
        ("provider", where.provider),
        ("consumer", where.consumer),
        ("model_id", where.model_id),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    total = int(db.scalar(f"SELECT COUNT(*) FROM jobs{condition}", params) or 0)
    rows = db.query(f"SELECT * FROM jobs{condition} ORDER BY job_id DESC LIMIT ? OFFSET ?", [*params, limit, offset])
    return {"total": total, "limit": limit, "offset": offset, "jobs": [_job(r, names) for r in rows]}


def get_job(db: Database, job_id: int, names: Mapping[int, str] = NO_NAMES) -> dict[str, Any] | None:
    rows = db.query("SELECT * FROM jobs WHERE job_id = ?", (job_id,))
    if not rows:
        return None
    job = _job(rows[0], names)
    events = db.query(
        "SELECT e.name, e.args, e.tx_hash, e.block_number, e.log_index, b.time, t.gas_used, t.method FROM events e "
        "JOIN blocks b ON b.number = e.block_number LEFT JOIN txs t ON t.tx_hash = e.tx_hash "
        "WHERE e.job_id = ? ORDER BY e.block_number, e.log_index",
        (job_id,),
    )
    timeline = []
    commitments: list[str] = []
    outputs: list[str] | None = None
    submitted: list[str] = []  # the latest JobSubmitted's outputs: a finalization's JobSettled logs none
    decline: dict[str, Any] | None = None
    for e in events:
        args = _args(e)
        timeline.append(
            {
                "event": e["name"],
                "block": int(e["block_number"]),
                "time": int(e["time"]),
                "tx_hash": e["tx_hash"],
                "method": e["method"],
                "gas_used": None if e["gas_used"] is None else int(e["gas_used"]),
                "args": _stringify(args),
            }
        )
        if e["name"] == "JobPosted":
            commitments = [f"0x{int(c):064x}" for c in args.get("inputCommitments", [])]
        if e["name"] == "JobSubmitted":
            submitted = [str(v) for v in args.get("outputs", [])]
        if e["name"] == "JobSettled" and "outputs" in args:
            outputs = [str(v) for v in args["outputs"]] or submitted
        if e["name"] == "JobDeclined":
            decline = {
                "reason": DeclineReason(int(args["reason"])).name.lower(),
                "free": bool(args["free"]),
                **{k: str(args.get(k, 0)) for k in ("slashed", "refund", "burned")},
            }
    parts = {k: job[k] for k in ("provider_pay", "royalty", "fee")}
    split = {
        **{k: v or "0" for k, v in parts.items()},
        "reward": job["reward"] or "0",
        "price": job["price"],
        "adds_up": job["status"] != JobStatus.SETTLED or _sum(parts.values()) == job["price"],
    }
    model = get_model_row(db, job["model_id"])
    return {
        **job,
        "timeline": timeline,
        "commitments": commitments,
        "outputs": outputs,
        "split": split,
        "decline": decline,
        "verifier": model["verifier"] if model else None,
        "verifier_kind": model["kind"] if model else None,
        "settlement": settlement_view(db, job_id, events),
    }


# --- optimistic settlement (the proof mirror is :mod:`.proofs`) -------------------------------------
def settlement_view(db: Database, job_id: int, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The job page's settlement block from the job's events (oldest first, each with ``name``, ``args`` JSON and
    ``tx_hash``): mode, batch, committed proof hash, challenge deadline, whether the proof is mirrored, challenges."""
    view: dict[str, Any] = {
        "mode": "eager",
        "batch_id": None,
        "proof_hash": None,
        "challenge_deadline": None,
        "proof_mirrored": False,
        "challenges": [],
    }
    for e in events:
        name, args = str(e["name"]), json.loads(e["args"])
        if name == "JobTermsSet" and int(args.get("settlement") or 0) == 1:
            view["mode"] = "optimistic"
        elif name == "JobSubmitted":
            view.update(mode="optimistic", batch_id=int(args["batchId"]), proof_hash=str(args["proofHash"]).lower())
            batch = db.query(
                "SELECT args FROM events WHERE tx_hash = ? AND name = 'ResultsSubmitted'", (e["tx_hash"],)
            )  # emitted by the same submitResults
            for b in batch:
                posted = json.loads(b["args"])
                if int(posted["batchId"]) == view["batch_id"]:
                    view["challenge_deadline"] = int(posted["challengeDeadline"])
        elif name == "JobChallenged":
            view["challenges"].append(
                {
                    "challenger": str(args["challenger"]).lower(),
                    "bond": str(args["bond"]),
                    "answer_deadline": int(args["answerDeadline"]),
                    "outcome": "open",
                    "tx_hash": e["tx_hash"],
                }
            )
        elif name in ("ChallengeAnswered", "ChallengeUpheld") and view["challenges"]:
            view["challenges"][-1]["outcome"] = "answered" if name == "ChallengeAnswered" else "upheld"
    view["proof_mirrored"] = bool(db.scalar("SELECT COUNT(*) FROM proofs WHERE job_id = ?", (job_id,)))
    return view


def committed_proof_hash(db: Database, job_id: int) -> str | None:
    """The ``proofHash`` the last ``JobSubmitted`` of ``job_id`` committed (0x hex), or None."""
    rows = db.query("SELECT args FROM events WHERE job_id = ? AND name = 'JobSubmitted' ORDER BY block_number DESC", (job_id,))
    return str(json.loads(rows[0]["args"])["proofHash"]).lower() if rows else None


def provider_endpoint(db: Database, provider: str) -> str:
    """The data-plane endpoint ``provider`` registered last ("" when none)."""
    rows = db.query(
        "SELECT args FROM events WHERE account = ? AND name IN ('ProviderRegistered', 'ProviderProfileUpdated') "
        "ORDER BY block_number DESC, log_index DESC",
        (provider.lower(),),
    )
    return str(json.loads(rows[0]["args"]).get("endpointURI") or "") if rows else ""


def _stringify(value: Any) -> Any:
    """Integers as strings (they are wei, ids or field elements), everything else as it is."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    return str(value)


# --- providers ----------------------------------------------------------------------------------
PROVIDERS_SQL = (
    "SELECT account FROM events WHERE name = 'ProviderRegistered' AND account IS NOT NULL "
    "UNION SELECT provider AS account FROM jobs WHERE provider IS NOT NULL"
)


def _is_provider(db: Database, address: str) -> bool:
    return bool(db.scalar(f"SELECT COUNT(*) FROM ({PROVIDERS_SQL}) p WHERE account = ?", (address,)))


def provider_summary(db: Database, address: str, live: Live | None = None) -> dict[str, Any]:
    address = address.lower()
    events = db.query(
        "SELECT e.name, e.args, e.block_number, b.time FROM events e JOIN blocks b ON b.number = e.block_number "
        "WHERE e.account = ? ORDER BY e.block_number, e.log_index",
        (address,),
    )
    registered_at, endpoint, credited, withdrawn, slashed, rewards, rewards_claimed, reopened = None, None, 0, 0, 0, 0, 0, 0
    for e in events:
        args = _args(e)
        if e["name"] in ("ProviderRegistered", "ProviderProfileUpdated"):
            registered_at = registered_at or int(e["time"])
            endpoint = str(args.get("endpointURI", "")) or None
        elif e["name"] == "Credited":
            credited += int(args.get("amount", 0))
        elif e["name"] == "Withdrawn" and "amount" in args and "account" in args:
            withdrawn += int(args["amount"])  # JobMarket.Withdrawn (ProviderStaking's names its field `provider`)
        elif e["name"] == "Slashed":
            slashed += int(args.get("amount", 0))
        elif e["name"] == "RewardPaid":
            rewards += int(args.get("amount", 0))
        elif e["name"] == "RewardsClaimed":  # JobMarket.withdraw pays the pool's rewards too
            rewards_claimed += int(args.get("amount", 0))
        elif e["name"] == "JobReopened":  # a miss that reopened the job: it is another provider's now, but the miss is ours
            reopened += 1
    jobs = db.query("SELECT status, outcome, provider_pay, reward FROM jobs WHERE provider = ?", (address,))
    count: defaultdict[str, int] = defaultdict(int)
    for j in jobs:
        count[j["outcome"]] += 1
    return {
        "address": address,
        "registered_at": registered_at,
        "endpoint": endpoint,
        "jobs": {
            "settled": count["settled"],
            "expired": count["expired"] + reopened,
            "declined": count["declined"],
            "claimed": count["claimed"],
            "total": len(jobs),
        },
        "earnings": _sum(j["provider_pay"] for j in jobs),
        "rewards": str(rewards),
        "credited": str(credited),
        "withdrawn": str(withdrawn),
        "claimable": str(credited - withdrawn),
        "rewards_owed": str(rewards - rewards_claimed),
        "to_withdraw": str(credited - withdrawn + rewards - rewards_claimed),
        "slashed": str(slashed),
        "live": None if live is None else live.provider(address),
    }


def list_providers(db: Database, live: Live | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    total = int(db.scalar(f"SELECT COUNT(*) FROM ({PROVIDERS_SQL}) p") or 0)
    rows = db.query(f"SELECT account FROM ({PROVIDERS_SQL}) p ORDER BY account LIMIT ? OFFSET ?", (limit, offset))
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "providers": [provider_summary(db, str(r["account"]), live) for r in rows],
    }


def provider_detail(
    db: Database, address: str, live: Live | None, bucket_s: int, names: Mapping[int, str] = NO_NAMES
) -> dict[str, Any] | None:
    address = address.lower()
    if not _is_provider(db, address):
        return None
    summary = provider_summary(db, address, live)
    series: dict[int, int] = defaultdict(int)
    settled = (address, JobStatus.SETTLED)
    for j in db.query("SELECT ended_time, provider_pay FROM jobs WHERE provider = ? AND status = ?", settled):
        series[int(j["ended_time"]) // bucket_s * bucket_s] += int(j["provider_pay"] or 0)
    summary["earnings_over_time"] = [{"t": t, "earnings": str(v)} for t, v in sorted(series.items())]
    summary["recent_jobs"] = list_jobs(db, JobFilter(provider=address), 50, 0, names)["jobs"]
    return summary


# --- models ---------------------------------------------------------------------------------------
def get_model_row(db: Database, model_id: int) -> dict[str, Any] | None:
    rows = db.query(
        "SELECT e.args, b.time FROM events e JOIN blocks b ON b.number = e.block_number "
        "WHERE e.name = 'ModelRegistered' AND e.model_id = ?",
        (model_id,),
    )
    if not rows:
        return None
    args = _args(rows[0])
    return {
        "model_id": model_id,
        "owner": str(args.get("owner", "")).lower(),
        "verifier": str(args.get("verifier", "")),
        "kind": {0: "dedicated", 1: "reusable"}.get(int(args.get("kind", -1)), "unknown"),
        "onnx_hash": args.get("onnxHash"),
        "settings_hash": args.get("settingsHash"),
        "vk_digest": args.get("vkDigest"),
        "insecure_test_srs": bool(args.get("insecureTestSrs", False)),
        "registered_at": int(rows[0]["time"]),
    }


def model_summary(db: Database, model_id: int, live: Live | None, local: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """A registry entry with its jobs and royalties; ``local`` (id -> name, logrows, batch) describes the
    circuits this server has built or pulled."""
    model = get_model_row(db, model_id)
    if model is None:
        return None
    jobs = db.query("SELECT status, royalty FROM jobs WHERE model_id = ?", (model_id,))
    circuit = local.get(model_id)
    model.update(
        name=circuit["name"] if circuit else None,
        circuit={k: circuit[k] for k in ("logrows", "batch")} if circuit and "logrows" in circuit else None,
        jobs=len(jobs),
        settled=sum(1 for j in jobs if j["status"] == JobStatus.SETTLED),
        royalties=_sum(j["royalty"] for j in jobs),
        live=None if live is None else live.model(model_id),
    )
    return model


def list_models(
    db: Database, live: Live | None, local: dict[int, dict[str, Any]], limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    total = int(db.scalar("SELECT COUNT(*) FROM events WHERE name = 'ModelRegistered'") or 0)
    ids = [
        int(r["model_id"])
        for r in db.query(
            "SELECT model_id FROM events WHERE name = 'ModelRegistered' ORDER BY model_id LIMIT ? OFFSET ?", (limit, offset)
        )
    ]
    models = [m for i in ids if (m := model_summary(db, i, live, local)) is not None]
    return {"total": total, "limit": limit, "offset": offset, "models": models}


# --- consumers ------------------------------------------------------------------------------------
def consumer_summary(db: Database, address: str) -> dict[str, Any]:
    jobs = db.query("SELECT outcome, price FROM jobs WHERE consumer = ?", (address,))
    count: defaultdict[str, int] = defaultdict(int)
    for j in jobs:
        count[j["outcome"]] += 1
    return {
        "address": address,
        "jobs": len(jobs),
        **{o: count[o] for o in OUTCOMES},
        "spent": _sum(j["price"] for j in jobs if j["outcome"] == "settled"),
    }


def list_consumers(db: Database, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    total = int(db.scalar("SELECT COUNT(DISTINCT consumer) FROM jobs") or 0)
    rows = db.query("SELECT DISTINCT consumer FROM jobs ORDER BY consumer LIMIT ? OFFSET ?", (limit, offset))
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "consumers": [consumer_summary(db, str(r["consumer"])) for r in rows],
    }


def consumer_detail(
    db: Database, address: str, live: Live | None = None, names: Mapping[int, str] = NO_NAMES
) -> dict[str, Any] | None:
    address = address.lower()
    summary = consumer_summary(db, address)
    if not summary["jobs"]:
        return None
    summary["live"] = None if live is None else live.consumer(address)
    summary["recent_jobs"] = list_jobs(db, JobFilter(consumer=address), 50, 0, names)["jobs"]
    return summary


# --- market stats -----------------------------------------------------------------------------------
BUCKETS_S = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400)
"""The bucket sizes :func:`stats` picks from when none is asked for: the smallest giving at most 40 buckets."""


def stats(db: Database, bucket_s: int | None = None) -> dict[str, Any]:
    """Per time bucket (by the block time a job was posted, or ended for money): jobs by outcome,
    NGX volume, fees, royalties, median post-to-settle latency, gas per settled job, proofs verified."""
    buckets: dict[int, dict[str, Any]] = {}
    rows = db.query("SELECT * FROM jobs")
    if bucket_s is None:
        times = [int(j["posted_time"]) for j in rows] + [int(j["ended_time"]) for j in rows if j["ended_time"] is not None]
        span = max(times) - min(times) if times else 0
        bucket_s = next((b for b in BUCKETS_S if span / b <= 40), BUCKETS_S[-1])

    def bucket(t: int) -> dict[str, Any]:
        key = t // bucket_s * bucket_s
        return buckets.setdefault(
            key,
            {
                "t": key,
                "posted": 0,
                **{o: 0 for o in OUTCOMES},
                "volume": 0,
                "fees": 0,
                "royalties": 0,
                "rewards": 0,
                "latencies": [],
                "gas": [],
                "inferences": 0,
            },
        )

    for j in rows:
        bucket(int(j["posted_time"]))["posted"] += 1
        b = bucket(int(j["ended_time"] if j["ended_time"] is not None else j["posted_time"]))
        b[j["outcome"]] += 1
        if j["status"] == JobStatus.SETTLED:
            b["volume"] += int(j["price"])
            b["fees"] += int(j["fee"] or 0)
            b["royalties"] += int(j["royalty"] or 0)
            b["rewards"] += int(j["reward"] or 0)
            b["latencies"].append(int(j["ended_time"]) - int(j["posted_time"]))
            b["gas"].append(int(j["gas_used"]))
            b["inferences"] += int(j["inferences"])
    if buckets and (max(buckets) - min(buckets)) // bucket_s < 2_000:  # empty buckets too: a chart's x axis is time
        for key in range(min(buckets), max(buckets), bucket_s):
            bucket(key)
    series = []
    for key in sorted(buckets):
        b = buckets[key]
        lat, gas, inferences = b.pop("latencies"), b.pop("gas"), b.pop("inferences")
        series.append(
            {
                **b,
                "volume": str(b["volume"]),
                "fees": str(b["fees"]),
                "royalties": str(b["royalties"]),
                "rewards": str(b["rewards"]),
                "proofs_verified": b["settled"],
                "median_latency_s": statistics.median(lat) if lat else None,
                "gas_per_job": round(statistics.mean(gas)) if gas else None,
                "gas_per_inference": round(sum(gas) / inferences) if gas else None,
            }
        )
    totals = {
        "jobs": len(rows),
        **{o: sum(1 for j in rows if j["outcome"] == o) for o in OUTCOMES},
        "volume": _sum(j["price"] for j in rows if j["status"] == JobStatus.SETTLED),
        "fees": _sum(j["fee"] for j in rows),
        "royalties": _sum(j["royalty"] for j in rows),
    }
    return {"bucket_s": bucket_s, "totals": totals, "series": series}


__all__ = [
    "JobFilter",
    "consumer_detail",
    "get_job",
    "list_consumers",
    "list_jobs",
    "list_models",
    "list_providers",
    "model_summary",
    "provider_detail",
    "stats",
]
