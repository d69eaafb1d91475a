"""Per-actor features: one numeric row per consumer and per provider, for the isolation forest (:mod:`.model`).

Consumers: jobs, distinct providers, counterparty concentration (the top provider's share), declined as
invalid input, settled, settled without a reward, on fresh model ids, on models tied to the consumer by money,
time from its funding to its first job, price, the size of its funding cluster.
Providers: jobs, distinct consumers, concentration, declines (all and after an on-chain delivery), fresh
consumers, the top funder's share of its consumers, model-id churn, fresh model ids, latency, paid volume.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .graph import QUICK_FUNDING_S, Graphs
from .history import History, JobFact

FRESH_MODEL_S = 86_400
"""A model id registered this shortly before a job is fresh for it."""
FRESH_ACCOUNT_S = 86_400
"""A consumer whose first job came this shortly before the job is fresh for it."""
INPUT_INVALID = 2
"""``IJobMarket.DeclineReason.InputInvalid``."""

CONSUMER_FEATURES = (
    "log_jobs", "providers", "top_provider_share", "declined_invalid_share", "settled_share", "unrewarded_share",
    "fresh_model_share", "tied_model_share", "log_hours_funded_before", "log_mean_price", "log_cluster",
)  # fmt: skip
PROVIDER_FEATURES = (
    "log_jobs", "consumers", "top_consumer_share", "declined_share", "declined_delivered_share", "fresh_consumer_share",
    "top_funder_share", "model_churn", "fresh_model_share", "log_latency", "log_volume",
)  # fmt: skip


@dataclass
class Table:
    """Actors (addresses, lower case) and their features, one row each."""

    actors: list[str]
    names: tuple[str, ...]
    values: npt.NDArray[np.float64]
    jobs: dict[str, list[JobFact]]

    def row(self, actor: str) -> dict[str, float]:
        i = self.actors.index(actor)
        return {n: float(v) for n, v in zip(self.names, self.values[i], strict=True)}


def fresh_model(history: History, job: JobFact) -> bool:
    registered = history.models.get(job.model_id)
    return registered is not None and 0 <= job.posted - registered[1] <= FRESH_MODEL_S


def tied_model(history: History, graphs: Graphs, job: JobFact) -> str | None:
    """How the job's model owner is tied to its consumer (or to its provider, when the two are tied): None if not."""
    registered = history.models.get(job.model_id)
    if registered is None:
        return None
    owner = registered[0]
    why = graphs.related(job.consumer, owner)
    if why is None and job.provider is not None and graphs.related(job.consumer, job.provider) is not None:
        why = graphs.related(job.provider, owner)
    return why


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def consumers(history: History, graphs: Graphs) -> Table:
    by: dict[str, list[JobFact]] = defaultdict(list)
    for job in history.jobs:
        by[job.consumer].append(job)
    clusters = {m: len(ms) for ms in graphs.quick_clusters().values() for m in ms}
    rows = []
    for actor, jobs in by.items():
        n = len(jobs)
        providers = Counter(j.provider for j in jobs if j.provider is not None)
        settled = [j for j in jobs if j.outcome == "settled"]
        invalid = sum(1 for j in jobs if j.decline_reason == INPUT_INVALID)
        first = graphs.first_job[actor]
        funded = [d["first"] for _, _, d in graphs.funding.in_edges(actor, data=True)] if actor in graphs.funding else []
        before = [first - t for t in funded if t <= first]
        hours = min(before) / 3600 if before else 24 * 365
        rows.append(
            [
                np.log1p(n),
                len(providers),
                _share(max(providers.values(), default=0), sum(providers.values())),
                _share(invalid, n),
                _share(len(settled), n),
                _share(sum(1 for j in settled if not j.reward), len(settled)),
                _share(sum(1 for j in jobs if fresh_model(history, j)), n),
                _share(sum(1 for j in jobs if tied_model(history, graphs, j) is not None), n),
                np.log1p(hours),
                np.log1p(np.mean([j.price for j in jobs]) / 1e18),
                np.log1p(clusters.get(actor, 0)),
            ]
        )
    return Table(list(by), CONSUMER_FEATURES, np.asarray(rows, dtype=np.float64).reshape(-1, len(CONSUMER_FEATURES)), by)


def providers(history: History, graphs: Graphs) -> Table:
    by: dict[str, list[JobFact]] = defaultdict(list)
    for job in history.jobs:
        if job.provider is not None:
            by[job.provider].append(job)
    rows = []
    for jobs in by.values():
        n = len(jobs)
        consumers = Counter(j.consumer for j in jobs)
        declined = [j for j in jobs if j.outcome == "declined"]
        met: dict[str, int] = {}  # each consumer's first job with this provider
        for j in jobs:
            met[j.consumer] = min(j.posted, met.get(j.consumer, j.posted))
        fresh = sum(1 for c, t in met.items() if 0 <= t - graphs.first_job[c] <= FRESH_ACCOUNT_S)
        funders = Counter(f for c in consumers if (f := graphs.quick_funder(c)) is not None and not graphs.hub(f))
        latencies = [
            j.ended - j.claimed for j in jobs if j.outcome == "settled" and j.ended is not None and j.claimed is not None
        ]
        rows.append(
            [
                np.log1p(n),
                len(consumers),
                _share(max(consumers.values()), n),
                _share(len(declined), n),
                _share(sum(1 for j in declined if j.delivered_on_chain), n),
                _share(fresh, len(consumers)),
                _share(max(funders.values(), default=0), len(consumers)),
                _share(len({j.model_id for j in jobs}), n),
                _share(sum(1 for j in jobs if fresh_model(history, j)), n),
                np.log1p(float(np.median(latencies))) if latencies else 0.0,
                np.log1p(sum(j.price for j in jobs if j.outcome == "settled") / 1e18),
            ]
        )
    return Table(list(by), PROVIDER_FEATURES, np.asarray(rows, dtype=np.float64).reshape(-1, len(PROVIDER_FEATURES)), by)


__all__ = [
    "CONSUMER_FEATURES", "FRESH_MODEL_S", "INPUT_INVALID", "PROVIDER_FEATURES", "QUICK_FUNDING_S", "Table",
    "consumers", "fresh_model", "providers", "tied_model",
]  # fmt: skip
