"""Waiting in tests: poll a condition until it holds, or run a call in the background and collect it later."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def until(condition: Callable[[], T], timeout: float = 30, what: str = "condition", every: float = 0.02) -> T:
    """Poll ``condition`` every ``every`` seconds until it returns something truthy (and return that), or fail
    after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)
    return value


def waiting(what: str, check: Callable[[], object], timeout: float = 240) -> None:
    """:func:`until` for a chain or a process: ``what`` first, a longer default, and a poll every 0.2 s (each
    check is an RPC call or a file read)."""
    until(check, timeout, what, every=0.2)


def background(fn: Callable[[], T]) -> Future[T]:
    """Run ``fn`` on its own thread; its result (or exception) comes back through the future."""
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future
