"""Anomaly detection over the market's history (issue #26, item 2): who wash-trades, griefs, launders or harvests.

Read in this order: :mod:`.history` (what the explorer's index holds, as job facts, NGX transfers between
accounts, model owners), :mod:`.graph` (who pays whom and who funded whom, networkx), :mod:`.features` (one
numeric row per consumer and provider), :mod:`.evidence` (graph and history evidence, one readable line each,
per attack kind), :mod:`.model` (an isolation forest per role, weighed with the evidence: the flags),
:mod:`.report` (flags as JSON and text) and :mod:`.sources` (where a worker or consumer reads flags from).
A flag is evidence, not proof: it names what was seen so a person (or a worker's policy) can judge.
"""

from __future__ import annotations

from .report import AnomalyError, Flag, Report

__all__ = ["AnomalyError", "Flag", "Report"]
