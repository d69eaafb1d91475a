"""How far the indexer trails the chain under load: :class:`LagProbe`, for benchmarks and tests.

It runs an :class:`~ngx_zk.explorer.indexer.Indexer` in a background thread, polling as the explorer
does, and records for every sync the head it saw and the block it reached. ``catch_up()`` waits for
the indexer to reach the chain's head once the load is over and reports the figures.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field

from .indexer import Indexer


@dataclass
class LagReport:
    syncs: int
    events: int
    max_lag_blocks: int
    """Most blocks the chain's head was ahead of the index when a sync started."""
    median_lag_blocks: float
    median_sync_s: float
    max_sync_s: float
    catch_up_s: float
    """Seconds from the end of the load until the index reached the head."""
    events_per_s: float
    """Events indexed per second of syncing."""

    def line(self) -> str:
        return (
            f"indexer lag: max {self.max_lag_blocks} blocks (median {self.median_lag_blocks:g}) over {self.syncs} syncs, "
            f"sync median {self.median_sync_s * 1000:.0f} ms / max {self.max_sync_s * 1000:.0f} ms, "
            f"caught up {self.catch_up_s:.2f} s after the load, {self.events_per_s:.0f} events/s"
        )


@dataclass
class LagProbe:
    indexer: Indexer
    poll_s: float = 0.2
    _samples: list[tuple[int, float, int]] = field(default_factory=list)
    """(blocks behind at the start of a sync, sync seconds, events indexed)."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> LagProbe:
        self._thread = threading.Thread(target=self._run, name="lag-probe", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sync_once()
            self._stop.wait(self.poll_s)

    def _sync_once(self) -> None:
        behind = self.indexer.confirmed_head() - self.indexer.cursor
        started = time.perf_counter()
        result = self.indexer.sync()
        self._samples.append((max(0, behind), time.perf_counter() - started, result.events))

    def catch_up(self, timeout_s: float = 120.0) -> LagReport:
        """Stop the probe once the index reaches the chain's confirmed head; the figures."""
        load_over = time.perf_counter()
        deadline = load_over + timeout_s
        while self.indexer.cursor < self.indexer.confirmed_head():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the indexer did not catch up within {timeout_s:g} s")
            time.sleep(0.02)
        caught = time.perf_counter() - load_over
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        lags, secs, events = zip(*self._samples, strict=True) if self._samples else ((0,), (0.0,), (0,))
        busy = sum(s for s, e in zip(secs, events, strict=True) if e)
        return LagReport(
            syncs=len(self._samples),
            events=sum(events),
            max_lag_blocks=max(lags),
            median_lag_blocks=statistics.median(lags),
            median_sync_s=statistics.median(secs),
            max_sync_s=max(secs),
            catch_up_s=caught,
            events_per_s=sum(events) / busy if busy else 0.0,
        )


__all__ = ["LagProbe", "LagReport"]
