"""Live figures no event carries (NRS, stake, a model's royalty and status), read from the chain through a
time-to-live cache.

A page lists at most one page of providers or models, and each entry's figures are read at most once
per ``ttl_s``: what a page view costs the node is bounded by the page size, not by how many entries
(junk registrations included) the registry holds. The cache holds at most ``max_entries`` keys.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..chain.market import Marketplace

T = TypeVar("T")

LIVE_TTL_S = 15.0
"""Seconds a live figure is served from the cache before it is read again."""
LIVE_MAX_ENTRIES = 4_096
"""Most keys the cache holds (least recently used go first)."""


class TtlCache:
    """A thread-safe, size-bounded map whose values expire ``ttl_s`` after they were computed."""

    def __init__(self, ttl_s: float = LIVE_TTL_S, max_entries: int = LIVE_MAX_ENTRIES) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            found = self._items.get(key)
            if found is not None and now - found[0] < self.ttl_s:
                self._items.move_to_end(key)
                return found[1]  # type: ignore[no-any-return]
        value = compute()  # outside the lock: one slow node read must not stall every other page
        with self._lock:
            self._items[key] = (now, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value


class Live:
    """The chain's live figures for the views; every read is cached (a failed read is cached as None too,
    so a node that is down is not asked again on every request)."""

    def __init__(self, market: Marketplace, ttl_s: float = LIVE_TTL_S) -> None:
        self.market = market
        self.cache = TtlCache(ttl_s)

    def provider(self, address: str) -> dict[str, Any] | None:
        return self.cache.get(("provider", address), lambda: _provider(self.market, address))

    def model(self, model_id: int) -> dict[str, Any] | None:
        return self.cache.get(("model", model_id), lambda: _model(self.market, model_id))

    def consumer(self, address: str) -> dict[str, Any] | None:
        return self.cache.get(("consumer", address), lambda: _consumer(self.market, address))


def _provider(market: Marketplace, address: str) -> dict[str, Any] | None:
    try:
        info = market.provider(address)
        nrs, (performance, reliability, longevity, peer) = market.nrs(address)
    except Exception:  # the node may be down: the indexed part still serves
        return None
    try:
        collateral: str | None = str(market.collateral_for(10 * 10**18, nrs))
    except Exception:
        collateral = None
    return {
        "nrs": nrs,
        "components": {"performance": performance, "reliability": reliability, "longevity": longevity, "peer": peer},
        "staked": str(info.staked),
        "locked": str(info.locked),
        "unbonding": str(info.unbonding),
        "collateral_per_10_ngx": collateral,
    }


def _model(market: Marketplace, model_id: int) -> dict[str, Any] | None:
    try:
        entry = market.model(model_id)
        on_chain = market.code_hash(entry.verifier)
        allowed = market.verifier_code_allowed(entry.verifier_code_hash) if entry.verifier_code_hash else False
    except Exception:
        return None
    return {
        "status": entry.status.value,
        "royalty_bps": entry.royalty_bps,
        "metadata_uri": entry.metadata_uri,
        "input_commitments": entry.input_commitment_count,
        "outputs": entry.output_count,
        "verifier_code_hash": "0x" + entry.verifier_code_hash.hex(),
        "provenance": {"code_matches_pin": on_chain == entry.verifier_code_hash, "allow_listed": allowed},
    }


def _consumer(market: Marketplace, address: str) -> dict[str, Any] | None:
    with contextlib.suppress(Exception):
        return {"score": market.consumer_score(address), "facts": market.consumer_facts(address)}
    return None


__all__ = ["LIVE_TTL_S", "Live", "TtlCache"]
