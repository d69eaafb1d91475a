"""What a provider chooses for its worker, in one frozen record: :class:`WorkerOptions`.

The CLI (``ngx-zk worker``) builds one from its flags; tests build one with the few fields they
change. The worker's collaborators (settings, market, signer, circuits, journal, log, metrics) are
not options: :class:`~ngx_zk.worker.worker.Worker` takes them next to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .policy import ClaimPolicy

REORG_WINDOW_BLOCKS = 5
"""Each poll re-reads this many blocks below each event cursor: a reorg may re-include (or drop) events there."""


@dataclass(frozen=True)
class WorkerOptions:
    """A provider's choices for one worker run (``ngx-zk worker --help`` documents each flag)."""

    concurrency: int = 1
    """Jobs proved at the same time (``--concurrency``)."""
    poll_s: float = 0.5
    """Seconds between chain polls; a new block, an offer, an input or a finished proof wakes the loop sooner."""
    listen: tuple[str, int] | None = None
    """Serve the data-plane endpoint on this host and port (``--listen``); None: no endpoint."""
    offers: bool = True
    """With an endpoint: take jobs offered before they are posted (``--offers/--no-offers``)."""
    policy: ClaimPolicy = field(default_factory=ClaimPolicy)
    """The provider's terms: prices (``--price-per-gas`` prices callback gas into the floor), caps (``--max-fresh-jobs``,
    ``--max-fresh-collateral`` for consumers with no paid history), minimum consumer score. The worker records
    proving times in it."""
    min_price_by_name: Mapping[str, int] = field(default_factory=dict)
    """Price floors per served model, by circuit name (``--min-price NAME=NGX``): set in the policy once ids are known."""
    ray: str | None = None
    """Prove on this Ray cluster (``--ray``); None: in local child processes."""
    cpus_per_proof: int = 1
    """With ``ray``, on nodes without GPUs: cores each proof takes."""
    expire_overdue: bool = True
    """Expire other providers' claims past their prove deadline (the job reopens with a bounty)."""
    reorg_window: int = REORG_WINDOW_BLOCKS
    """Blocks re-read below each event cursor on every poll."""
    settle_batch: int = 1
    """Settle up to this many proved jobs in one transaction (``--settle-batch``; 1: each alone, as it is proved)."""
    settle_wait: float = 0.0
    """Seconds the oldest proved job may wait for others to fill a batch (``--settle-wait``); a job near its prove
    deadline never waits."""
    fill_batch: int = 16
    """Fill up to this many gasless orders in one ``fillOrders`` transaction (``--fill-batch``; 1: each alone, with
    ``fillOrder``)."""
    claim_spread: bool = True
    """Claim a new job at once only when this provider ranks among the first for it, else wait its turn
    (``--claim-spread/--no-claim-spread``; :mod:`~ngx_zk.worker.claim_spread`): claim races stay flat as providers grow."""
