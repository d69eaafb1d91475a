"""The verdict: an isolation forest (scikit-learn) per role over :mod:`.features`, weighed with :mod:`.evidence`.

An actor is flagged when its evidence weighs :data:`FLAG_AT` or more, the forest's outlier verdict counting
one when the actor has any evidence at all: a strong graph tie flags alone, a weak ratio needs a second
line or the forest's agreement, and an outlier with no evidence is never flagged (nothing to show a person).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import RobustScaler

from . import features
from .evidence import KINDS, collect
from .graph import build
from .history import History
from .report import Flag, Report

FLAG_AT = 2
"""Evidence weight that flags an actor (strong evidence weighs 2, weak 1, the forest's outlier verdict 1)."""
MIN_ACTORS = 8
"""Fewest actors of a role the forest is fitted on: below it, nobody is an outlier and only evidence counts."""
TREES = 200
SEED = 0
"""The forest is seeded: the same index gives the same flags."""


def _forest(table: features.Table) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Each actor's anomaly score (higher: more unusual), outlier verdict, and what makes it unusual."""
    n = len(table.actors)
    if n < MIN_ACTORS:
        return np.zeros(n), np.zeros(n, dtype=bool), [""] * n
    scaled = RobustScaler().fit_transform(table.values)
    forest = IsolationForest(n_estimators=TREES, random_state=SEED).fit(scaled)
    scores, outlier = -forest.score_samples(scaled), forest.predict(scaled) == -1
    median = np.median(table.values, axis=0)
    notes = []
    for i in range(n):
        top = np.argsort(-np.abs(scaled[i]))[:2]
        notes.append(", ".join(f"{table.names[k]} {table.values[i, k]:.2f} (median {median[k]:.2f})" for k in top))
    return scores, outlier, notes


def detect(history: History) -> Report:
    """Flag the consumers and providers of ``history`` (see the module's rule)."""
    graphs = build(history)
    found = collect(history, graphs)
    report = Report()
    for role, table in (("consumer", features.consumers(history, graphs)), ("provider", features.providers(history, graphs))):
        report.weighed[role] = len(table.actors)
        scores, outlier, notes = _forest(table)
        for i, actor in enumerate(table.actors):
            evidence = found.get((role, actor), [])
            weight = sum(e.weight for e in evidence) + (1 if evidence and outlier[i] else 0)
            if weight < FLAG_AT:
                continue
            weights = {k: sum(e.weight for e in evidence if e.kind == k) for k in KINDS}
            kinds = tuple(sorted((k for k in KINDS if weights[k]), key=lambda k: -weights[k]))  # the primary kind first
            lines = [e.text for e in sorted(evidence, key=lambda e: -e.weight)]
            if outlier[i]:
                share = float(np.mean(scores <= scores[i]) * 100)
                lines.append(f"isolation forest: more unusual than {share:.0f} % of {role}s ({notes[i]})")
            report.flags.append(Flag(actor, role, kinds, round(float(scores[i]), 4), bool(outlier[i]), tuple(lines)))
    report.flags.sort(key=lambda f: (-f.score, f.role, f.address))
    return report


__all__ = ["FLAG_AT", "MIN_ACTORS", "detect"]
