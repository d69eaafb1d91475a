"""The watchtower (``ngx-zk watch``): anyone's guard over optimistic settlement.

An optimistic job pays its provider at finalization unless someone shows, within the challenge window, that
its committed result is wrong. This package is that someone. Read in this order: :mod:`.proofs` (a result
as the chain holds it, its proof as a provider or mirror serves it, and the offline check an answer would
have to pass), :mod:`.journal` (SQLite: the scan's cursor and the decision about each result, so a restart
does not re-challenge), :mod:`.tower` (the pass: scan, check, challenge, uphold, through the
:class:`~.tower.WatchView` protocol) and :mod:`.view` (the real chain behind that protocol, and the local
circuit that checks each model's proofs). The consumer's ``prove-job`` checks its own optimistic job with
the same :func:`.proofs.fetch_proof` and :func:`.proofs.check_proof`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .journal import State, WatchJournal
from .proofs import Problem, ProofCheck, ServedProof, Submission, check_proof, fetch_proof, http_fetch, sources
from .tower import GRACE_S, Decision, Watchtower, WatchView

if TYPE_CHECKING:
    from ..chain.market import Marketplace
    from ..chain.signer import Signer
    from ..config import Settings

JOURNAL_FILE = "watch.sqlite"


def open_watchtower(
    settings: Settings,
    market: Marketplace,
    signer: Signer,
    *,
    explorer: str | None = None,
    grace_s: int = GRACE_S,
    journal_path: str | None = None,
    report: Callable[[Decision], None] = lambda _: None,
    progress: Callable[[str], None] = lambda _: None,
) -> Watchtower:
    """A :class:`Watchtower` over ``market``: the real chain view, local circuits, the data-plane client's
    fetch rules, and the journal in the state folder (``journal_path`` overrides it)."""
    from .view import ChainWatch, circuit_finder

    view = ChainWatch(market)
    journal = WatchJournal(journal_path or settings.state_dir / JOURNAL_FILE, view.chain_id, view.market_address)
    return Watchtower(
        view,
        journal,
        signer,
        circuit_finder(settings, market),
        lambda circuit, sub, commitments, served: check_proof(settings, circuit, sub, commitments, served),
        http_fetch(market.dev_chain),
        explorer=explorer,
        grace_s=grace_s,
        report=report,
        progress=progress,
    )


__all__ = [
    "GRACE_S",
    "JOURNAL_FILE",
    "Decision",
    "Problem",
    "ProofCheck",
    "ServedProof",
    "State",
    "Submission",
    "WatchJournal",
    "WatchView",
    "Watchtower",
    "check_proof",
    "fetch_proof",
    "http_fetch",
    "open_watchtower",
    "sources",
]
