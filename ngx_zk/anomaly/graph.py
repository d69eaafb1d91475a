"""Who pays whom and who funded whom, as networkx graphs.

``payments``: consumer -> provider, one edge per pair with the number of jobs, settled jobs and NGX paid.
``funding``: funder -> account, one edge per pair with the first transfer's time and the total sent (only
transfers between accounts; escrow and payouts are the market's, see :mod:`.history`).
A *quick* funding is one that reached an account within :data:`QUICK_FUNDING_S` before its first job, worth at
least that job's price (what a sybil needs for the escrow): the shape of a sybil set up for the job, and (over
many accounts) of a funding cluster. The price floor makes framing costly: to pull an honest account into a
cluster, an attacker must give it at least the price of its first job.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import networkx as nx

from .history import History

QUICK_FUNDING_S = 3600
"""A funding this close before an account's first job counts as the account set up for it."""
HUB_FUNDED = 25
"""A funder that funded more accounts than this is a hub (an exchange, a faucet): sharing it says nothing."""


@dataclass
class Graphs:
    """The two graphs and each account's first job time."""

    payments: nx.DiGraph = field(default_factory=nx.DiGraph)
    funding: nx.DiGraph = field(default_factory=nx.DiGraph)
    first_job: dict[str, int] = field(default_factory=dict)
    first_price: dict[str, int] = field(default_factory=dict)
    """A consumer's first job's price (the least a funding must be worth to count as setting it up)."""

    def quick_funder(self, account: str) -> str | None:
        """The account that funded ``account`` within the hour before its first job (the latest such), if any."""
        start = self.first_job.get(account)
        if start is None or account not in self.funding:
            return None
        found = [
            (data["first"], funder)
            for funder, _, data in self.funding.in_edges(account, data=True)
            if start - QUICK_FUNDING_S <= data["first"] <= start and data["value"] >= self.first_price.get(account, 0)
        ]
        return max(found)[1] if found else None

    def quick_clusters(self) -> dict[str, list[str]]:
        """Funder -> the accounts it funded quickly (each account under its :meth:`quick_funder`)."""
        clusters: dict[str, list[str]] = defaultdict(list)
        for account in self.first_job:
            funder = self.quick_funder(account)
            if funder is not None:
                clusters[funder].append(account)
        return {f: sorted(members) for f, members in clusters.items()}

    def funders(self, account: str) -> set[str]:
        """Who sent ``account`` NGX directly."""
        return set(self.funding.predecessors(account)) if account in self.funding else set()

    def hub(self, funder: str) -> bool:
        return funder in self.funding and self.funding.out_degree(funder) > HUB_FUNDED

    def related(self, a: str, b: str) -> str | None:
        """How ``a`` and ``b`` are tied by money other than jobs: one funded the other, or both have one funder
        that is not a hub; None when they are not."""
        if a == b:
            return "the same account"
        if self.funding.has_edge(a, b):
            return f"{a} funded {b}"
        if self.funding.has_edge(b, a):
            return f"{b} funded {a}"
        shared = sorted(f for f in self.funders(a) & self.funders(b) if not self.hub(f))
        return f"both funded by {shared[0]}" if shared else None

    def rings(self) -> list[list[str]]:
        """Cycles of money among accounts (funding and job payments together, hubs left out), shortest first: a
        wash ring sends its NGX round from the funder through its consumers and provider back to the funder."""
        money = nx.DiGraph()
        money.add_edges_from(self.funding.edges())
        money.add_edges_from(self.payments.edges())
        money.remove_nodes_from([a for a in list(money) if self.hub(a)])  # an exchange closes countless honest cycles
        cycles = [c for c in nx.simple_cycles(money, length_bound=4) if len(c) > 1]
        return sorted(cycles, key=len)


def build(history: History) -> Graphs:
    """The graphs of ``history``."""
    g = Graphs()
    for job in history.jobs:
        if job.posted < g.first_job.get(job.consumer, job.posted + 1):
            g.first_job[job.consumer], g.first_price[job.consumer] = job.posted, job.price
        if job.provider is None:
            continue
        start = job.claimed if job.claimed is not None else job.posted
        g.first_job[job.provider] = min(start, g.first_job.get(job.provider, start))
        if not g.payments.has_edge(job.consumer, job.provider):
            g.payments.add_edge(job.consumer, job.provider, jobs=0, settled=0, paid=0)
        edge = g.payments[job.consumer][job.provider]
        edge["jobs"] += 1
        if job.outcome == "settled":
            edge["settled"] += 1
            edge["paid"] += job.price
    for t in history.transfers:
        if t.source == t.target:
            continue
        if g.funding.has_edge(t.source, t.target):
            edge = g.funding[t.source][t.target]
            edge["first"], edge["value"] = min(edge["first"], t.time), edge["value"] + t.value
        else:
            g.funding.add_edge(t.source, t.target, first=t.time, value=t.value)
    return g


__all__ = ["HUB_FUNDED", "QUICK_FUNDING_S", "Graphs", "build"]
