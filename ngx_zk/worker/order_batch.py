"""Many gasless orders in one transaction (``--fill-batch N``): every order that passes this round, in ``fillOrders``.

Each offered order is judged alone, exactly as a lone fill judges it (:meth:`OrderFiller.vet
<ngx_zk.worker.orders.OrderFiller.vet>`: same checks, same refusals). What a batch adds is the sum: the
orders picked so far count against the provider's caps (``--max-claimed``, the fresh-consumer caps, its free
stake, ``--max-jobs``) as if already held, and an order that no longer fits waits for the next round, where
it is judged again against the journal. The picked orders go out in ``fillOrders`` transactions of up to N
(at most 64); a batch of one takes ``fillOrder``, which costs less.

The market skips, rather than reverts on, an order that fails its own checks on chain (a nonce cancelled
after the order was judged, an escrow spent meanwhile): each outcome is read from the receipt's logs.
A filled order goes on as a lone fill does (:meth:`OrderFiller.taken <ngx_zk.worker.orders.OrderFiller.taken>`);
a skipped one is refused with the market's reason and its offer dropped, unless the reason is transient
(then it is tried again next round). A batch that reverts as a whole (a pause aside, which is waited out) is
filled again one order at a time, so that each revert names its own order.
"""

from __future__ import annotations

from ..chain.orders import MAX_FILL_BATCH
from ..errors import ChainError, ContractRevert
from .eligibility import Verdict
from .orders import RETRY_REVERTS, OrderFiller, Pending


class Room:
    """What the provider may still take this round, with the orders picked so far counted as held."""

    def __init__(self, filler: OrderFiller) -> None:
        lc = filler.lc
        self.filler, self.policy = filler, lc.policy
        self.held = lc.working
        self.fresh_held, self.fresh_collateral = lc.holding_fresh
        self.jobs_left = None if lc.max_jobs is None else lc.max_jobs - lc.stats.taken
        self.stake: int | None = None
        """Free stake, read at the first pick (a round with nothing to fill reads nothing)."""
        self.locked = 0

    def take(self, verdict: Verdict) -> bool:
        """Count one more order if it fits next to those picked (False: it waits for the next round)."""
        p = self.policy
        if self.jobs_left is not None and self.jobs_left <= 0:
            return False
        if p.max_claimed is not None and self.held >= p.max_claimed:
            return False
        if verdict.fresh and (
            (p.max_fresh_jobs is not None and self.fresh_held >= p.max_fresh_jobs)
            or (p.max_fresh_collateral is not None and self.fresh_collateral + verdict.collateral > p.max_fresh_collateral)
        ):
            return False
        if self.stake is None:
            self.stake = self.filler.market.free_stake(self.filler.lc.standing.me)
        if self.locked + verdict.collateral > self.stake:
            return False
        self.held += 1
        self.locked += verdict.collateral
        if self.jobs_left is not None:
            self.jobs_left -= 1
        if verdict.fresh:
            self.fresh_held += 1
            self.fresh_collateral += verdict.collateral
        return True


class OrderBatches:
    """The worker's order filling: one ``fillOrders`` per round for up to ``size`` orders (1: each alone)."""

    def __init__(self, filler: OrderFiller, size: int = 1) -> None:
        if not 1 <= size <= MAX_FILL_BATCH:
            raise ValueError(f"a fill batch holds 1 to {MAX_FILL_BATCH} orders, not {size}")
        self.filler, self.size = filler, size
        self.waiting = 0
        """Orders held back by the last retryable revert (a pause): logged when it changes, not every round."""

    def fill_all(self) -> bool:
        """Fill or refuse every offered order; True if a job was taken."""
        f = self.filler
        if self.size == 1:
            return f.fill_all()
        if f.lc.stopping:
            return False
        room = Room(f)
        picked: list[Pending] = []
        keys: set[tuple[str, int]] = set()
        for commitment, offered in f.lc.crew.offers.orders():
            p = f.vet(commitment, offered)
            if p is None or p.key in keys:  # a second order on one nonce: judged again (and refused) once one fills
                continue
            try:
                fits = room.take(p.verdict)
            except ChainError as exc:
                f.lc.crew.log("order.error", level="warning", consumer=offered.consumer, error=str(exc))
                return False
            if fits:
                keys.add(p.key)
                picked.append(p)
        moved = False
        for start in range(0, len(picked), self.size):
            chunk = picked[start : start + self.size]
            moved |= f.fill_one(chunk[0]) if len(chunk) == 1 else self.send(chunk)
        return moved

    def send(self, chunk: list[Pending]) -> bool:
        """One ``fillOrders`` for ``chunk``; then each order is taken, refused or kept for the next round."""
        f = self.filler
        c = f.lc.crew
        block = f.market.chain.block_number()
        for p in chunk:
            f.sent.setdefault(p.key, block)
        try:
            batch = f.market.fill_orders(c.signer, [p.signed for p in chunk])
        except ContractRevert as exc:
            for p in chunk:
                f.sent.pop(p.key, None)
            if exc.name in RETRY_REVERTS:
                if self.waiting != len(chunk):
                    self.waiting = len(chunk)
                    c.log("orders.waiting", level="warning", orders=len(chunk), reason=exc.name)
                return False
            c.log("orders.batch_reverted", level="warning", orders=len(chunk), error=exc.message)
            moved = False
            for p in chunk:
                moved |= f.fill_one(p)
            return moved
        except ChainError as exc:  # unknown whether it landed: the nonces make a repeat skip, the scan adopts ours
            c.log("order.error", level="warning", orders=len(chunk), error=str(exc))
            return False
        self.waiting = 0
        filled = sum(1 for o in batch.outcomes if isinstance(o, int))
        c.metrics.inc("ngx_worker_order_batches_total")
        c.log("orders.filled", tx=batch.receipt.tx, filled=filled, skipped=len(chunk) - filled, gas_used=batch.receipt.gas_used)
        moved = False
        for p, outcome in zip(chunk, batch.outcomes, strict=True):
            if isinstance(outcome, int):
                f.sent.pop(p.key, None)
                f.taken(p, outcome, batch.receipt)
                moved = True
                continue
            c.metrics.inc("ngx_worker_orders_skipped_total")
            if outcome.transient:
                f.sent.pop(p.key, None)
                c.log("order.skipped", level="warning", consumer=p.offered.consumer, nonce=p.key[1], reason=outcome.reason)
            elif not f.landed(p.signed):
                f.refuse(p.commitment, p.offered, f"the market skipped the order: {outcome.reason}")
        return moved
