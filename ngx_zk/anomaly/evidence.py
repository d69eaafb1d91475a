"""Graph and history evidence, one readable line each, for the four attacks of issue #23.

Each :class:`Evidence` names an attack kind and a weight: 2 (*strong*: a tie in the funding or payment graph
that honest traffic rarely has, enough to flag alone) or 1 (*weak*: a ratio that honest actors reach now and
then, flagged only with another line or the isolation forest's outlier verdict, see :mod:`.model`).

- ``wash-ring``: consumers funded by one account within the hour before their first job whose jobs go to one
  provider, often on fresh model ids; money that goes round.
- ``junk-input``: consumers, funded together, whose inputs providers decline as invalid.
- ``self-dealing`` (score laundering): settled jobs between accounts tied by money, on a model one of them owns.
- ``decline-harvest``: a provider declining as invalid the inputs of consumers that settle everywhere else.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from .features import INPUT_INVALID, fresh_model, tied_model
from .graph import Graphs
from .history import History, JobFact

KINDS = ("wash-ring", "junk-input", "self-dealing", "decline-harvest")
"""The attack kinds a flag can name."""
CLUSTER_MIN = 3
"""Fewest accounts funded together that make a funding cluster."""
STRONG, WEAK = 2, 1


@dataclass(frozen=True)
class Evidence:
    kind: str
    weight: int
    text: str


def _short(address: str) -> str:
    return f"{address[:8]}…{address[-4:]}"


def _pct(part: int, whole: int) -> str:
    return f"{part} of {whole}"


class Collector:
    """The evidence found for each actor (``role``: consumer or provider)."""

    def __init__(self, history: History, graphs: Graphs) -> None:
        self.history, self.graphs = history, graphs
        self.found: dict[tuple[str, str], list[Evidence]] = defaultdict(list)
        self.by_consumer: dict[str, list[JobFact]] = defaultdict(list)
        self.by_provider: dict[str, list[JobFact]] = defaultdict(list)
        self.by_model: dict[int, list[JobFact]] = defaultdict(list)
        for job in history.jobs:
            self.by_consumer[job.consumer].append(job)
            self.by_model[job.model_id].append(job)
            if job.provider is not None:
                self.by_provider[job.provider].append(job)

    def add(self, role: str, actor: str, kind: str, weight: int, text: str) -> None:
        self.found[(role, actor)].append(Evidence(kind, weight, text))

    def run(self) -> dict[tuple[str, str], list[Evidence]]:
        junk = self.clusters()
        for provider in self.by_provider:
            self.provider(provider, junk)
        harvesters = {
            actor for (role, actor), found in self.found.items()
            if role == "provider" and any(e.kind == "decline-harvest" and e.weight == STRONG for e in found)
        }  # fmt: skip
        for consumer in self.by_consumer:
            self.consumer(consumer, harvesters)
        self.rings()
        return dict(self.found)

    # --- funding clusters ------------------------------------------------------------------------------------
    def clusters(self) -> set[str]:
        """Evidence for every non-hub funding cluster that trades as one; returns the junk-input consumers."""
        junk: set[str] = set()
        for funder, members in self.graphs.quick_clusters().items():
            members = [m for m in members if m in self.by_consumer]
            if len(members) < CLUSTER_MIN or self.graphs.hub(funder):
                continue
            jobs = [j for m in members for j in self.by_consumer[m]]
            taken = Counter(j.provider for j in jobs if j.provider is not None)
            invalid = [j for j in jobs if j.decline_reason == INPUT_INVALID]
            head = f"funded by {funder} within the hour before its first job, like {len(members) - 1} other consumers"
            if taken:
                provider, count = taken.most_common(1)[0]
                if count >= 0.8 * len(jobs) and len(invalid) < 0.5 * len(jobs):
                    fresh = sum(1 for j in jobs if fresh_model(self.history, j))
                    models = f"; {_pct(fresh, len(jobs))} on model ids registered within a day" if fresh else ""
                    for m in members:
                        self.add(
                            "consumer",
                            m,
                            "wash-ring",
                            STRONG,
                            f"{head}; {_pct(count, len(jobs))} of their jobs went to provider {provider}{models}",
                        )
                    mine = len(self.by_provider[provider])
                    self.add(
                        "provider", provider, "wash-ring", STRONG,
                        f"{_pct(len(members), len({j.consumer for j in self.by_provider[provider]}))} consumers funded by {funder} within the hour "
                        f"before their first job; {_pct(count, mine)} of its jobs came from them{models}",
                    )  # fmt: skip
            if len(invalid) >= 0.5 * len(jobs):
                decliners = {j.provider for j in invalid}
                for m in members:
                    junk.add(m)
                    self.add(
                        "consumer", m, "junk-input", STRONG,
                        f"{head}; {_pct(len(invalid), len(jobs))} of their jobs were declined as invalid input by {len(decliners)} provider(s)",
                    )  # fmt: skip
        return junk

    # --- one consumer ----------------------------------------------------------------------------------------
    def consumer(self, actor: str, harvesters: set[str]) -> None:
        """Declines by a provider with strong decline-harvest evidence do not count against the consumer."""
        jobs = self.by_consumer[actor]
        invalid = [j for j in jobs if j.decline_reason == INPUT_INVALID and j.provider not in harvesters]
        decliners = {j.provider for j in invalid}
        junk = any(e.kind == "junk-input" for e in self.found.get(("consumer", actor), []))
        if not junk and len(invalid) >= 2 and len(invalid) >= 0.5 * len(jobs) and len(decliners) >= 2:
            self.add(
                "consumer",
                actor,
                "junk-input",
                WEAK,
                f"{_pct(len(invalid), len(jobs))} jobs declined as invalid input by {len(decliners)} providers",
            )
        settled = [j for j in jobs if j.outcome == "settled"]
        tied = [(j, why) for j in settled if (why := tied_model(self.history, self.graphs, j)) is not None]
        if len(tied) >= 3 and len(tied) >= 0.5 * len(settled):
            unrewarded = sum(1 for j, _ in tied if not j.reward)
            self.add(
                "consumer", actor, "self-dealing", STRONG,
                f"{_pct(len(tied), len(settled))} settled jobs on models whose owner is tied to it ({tied[0][1]}); "
                f"{unrewarded} without a reward",
            )  # fmt: skip
        providers = {j.provider for j in jobs if j.provider is not None}
        fresh = sum(1 for j in jobs if fresh_model(self.history, j))
        if len(jobs) >= 2 and len(providers) == 1 and fresh >= 0.5 * len(jobs) and len({j.model_id for j in jobs}) >= 2:
            self.add(
                "consumer", actor, "wash-ring", WEAK,
                f"all {len(jobs)} jobs with provider {next(iter(providers))}, {fresh} on model ids registered within a day",
            )  # fmt: skip

    # --- one provider ----------------------------------------------------------------------------------------
    def provider(self, actor: str, junk: set[str]) -> None:
        jobs = self.by_provider[actor]
        settled = [j for j in jobs if j.outcome == "settled"]
        tied = [(j, why) for j in settled if (why := self.graphs.related(j.consumer, actor)) is not None]
        if len(tied) >= 3 and len(tied) >= 0.5 * len(settled):
            self.add(
                "provider", actor, "self-dealing", STRONG,
                f"{_pct(len(tied), len(settled))} settled jobs from consumers tied to it by money ({tied[0][1]})",
            )  # fmt: skip
        invalid = [j for j in jobs if j.decline_reason == INPUT_INVALID and j.consumer not in junk]
        if len(invalid) >= 3:
            victims = {j.consumer for j in invalid}
            elsewhere = [j for v in victims for j in self.by_consumer[v] if j.provider not in (None, actor)]
            ok = sum(1 for j in elsewhere if j.outcome == "settled")
            if elsewhere and ok >= 0.7 * len(elsewhere) and len(invalid) >= 0.3 * len(jobs):
                self.add(
                    "provider", actor, "decline-harvest", STRONG,
                    f"declined as invalid the inputs of {len(victims)} consumers ({_pct(len(invalid), len(jobs))} of its jobs) "
                    f"whose jobs with other providers settle ({_pct(ok, len(elsewhere))})",
                )  # fmt: skip
            elif len(invalid) >= 0.3 * len(jobs):
                self.add(
                    "provider", actor, "decline-harvest", WEAK, f"declined {_pct(len(invalid), len(jobs))} jobs as invalid input"
                )
        fresh = {j.model_id for j in jobs if fresh_model(self.history, j)}
        alone = {m for m in fresh if all(j.provider in (None, actor) for j in self.by_model[m])}
        if len(alone) >= 3 and sum(1 for j in jobs if j.model_id in alone) >= 0.5 * len(jobs):
            self.add(
                "provider", actor, "wash-ring", WEAK,
                f"{len(alone)} model ids registered within a day before its jobs on them, served by no other provider",
            )  # fmt: skip

    # --- money that goes round -------------------------------------------------------------------------------
    def rings(self) -> None:
        for cycle in self.graphs.rings():
            paid = [(a, b) for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True) if self.graphs.payments.has_edge(a, b)]
            if not paid:
                continue
            text = "money goes round: " + " -> ".join(_short(a) for a in [*cycle, cycle[0]]) + " (NGX transfers and job payments)"
            for consumer, provider in paid:
                self.add("consumer", consumer, "wash-ring", WEAK, text)
                self.add("provider", provider, "wash-ring", WEAK, text)


def collect(history: History, graphs: Graphs) -> dict[tuple[str, str], list[Evidence]]:
    """(role, actor) -> the evidence found against it."""
    return Collector(history, graphs).run()


__all__ = ["KINDS", "Evidence", "collect"]
