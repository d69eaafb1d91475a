"""Running untrusted-size work (circuit builds of user-supplied models) under memory and time limits.

The work runs in a child process (spawned, not forked) with ``RLIMIT_AS`` set; the parent waits with a deadline and kills
the child when it is exceeded. Progress messages and the result (or the error's message) come back
over a pipe, so the caller sees the same behaviour as an in-process call, minus the risk.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .errors import NgxZkError

T = TypeVar("T")


class ResourceLimitError(NgxZkError):
    """The work exceeded its memory or time limit and was stopped."""


ARENA_MB = 512
"""glibc reserves 64 MB of address space per malloc arena and makes up to 8 per core: under a tight
RLIMIT_AS new arenas fail and every thread fights over the few there are (measured: a build under
300 MB spent 160 s sizing settings that take 1 s). A child gets one arena per ARENA_MB of its limit,
at least 2 and at most one per core."""


BASE_MB = 400
"""Memory of the Python process, EZKL and onnxruntime before any circuit work (and the address space
their threads reserve beyond it)."""

KB_PER_ROW = 16.0
KB_PER_ROW_PER_INNER_COL = 4.0
"""Peak memory of EZKL's setup or proof per row of the 2^logrows domain: fixed, and per inner column.
Measured here with EZKL 23: mnist_cnn (hashed input) at logrows 17 peaked at 1,582 MB in setup with 2
inner columns and 2,163 MB with 4, and at 2,674 MB proving the 2-column circuit (the proof is the
larger); a whole lenet_5 build at logrows 18 with 4 columns (setup, a timing proof, setup again in one
process) peaked at 8,334 MB, 31 KB a row. The figures cover both, rounded up: the estimate guards
against starting work that cannot finish. At logrows 20 with 2 columns it is about 25 GB: lenet_5's
default layout, whose timing proof ran a 16 GB build out of memory."""

MEMORY_SHARE = 0.85
"""The part of the build's memory limit that setup and proving may plan to use (the limit caps the
address space, which runs ahead of the memory in use)."""


def estimate_mb(logrows: int, num_inner_cols: int) -> int:
    """About the peak memory (MB) of setting up or proving a circuit of 2^logrows rows (see KB_PER_ROW)."""
    return int(BASE_MB + (1 << logrows) * (KB_PER_ROW + KB_PER_ROW_PER_INNER_COL * num_inner_cols) / 1024)


def memory_budget_mb(limit_mb: int) -> int:
    """What setup and proving may plan to use under a memory limit of ``limit_mb``."""
    return int(limit_mb * MEMORY_SHARE)


@contextlib.contextmanager
def _child_env(**values: str) -> Iterator[None]:
    """Environment for a child about to be spawned (it inherits the parent's at start)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def run_limited(
    fn: Callable[..., T],
    *args: Any,
    memory_mb: int,
    timeout_s: float,
    progress: Callable[[str], None] = lambda _: None,
    **kwargs: Any,
) -> T:
    """``fn(*args, progress=..., **kwargs)`` in a child process limited to ``memory_mb`` and ``timeout_s``."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: forking a process with native threads can deadlock
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(sender, fn, args, kwargs, memory_mb), daemon=True)
    arenas = max(2, min(os.cpu_count() or 2, memory_mb // ARENA_MB))
    with _child_env(MALLOC_ARENA_MAX=str(arenas)):
        child.start()
    sender.close()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ResourceLimitError(
                    f"stopped after the {timeout_s:.0f}s time limit", "raise NGX_ZK_BUILD_TIMEOUT_S for larger models"
                )
            if not receiver.poll(min(left, 0.2)):
                if not child.is_alive():
                    raise _died(child.exitcode, memory_mb)
                continue
            try:
                kind, payload = receiver.recv()
            except EOFError:
                child.join(5)
                raise _died(child.exitcode, memory_mb) from None
            if kind == "progress":
                progress(payload)
            elif kind == "ok":
                return payload  # type: ignore[no-any-return]
            else:
                error_type, message, hint, code = payload
                if error_type == "MemoryError":
                    raise ResourceLimitError(f"ran out of its {memory_mb} MB memory limit", "raise NGX_ZK_BUILD_MEMORY_MB")
                relayed = NgxZkError(message, hint)
                relayed.code = code  # the child's error family, for --json
                raise relayed
    finally:
        if child.is_alive() and child.pid is not None:
            os.kill(child.pid, signal.SIGKILL)
        child.join(5)
        receiver.close()


def _died(exitcode: int | None, memory_mb: int) -> ResourceLimitError:
    return ResourceLimitError(
        f"the build process died (exit {exitcode}), most likely out of its {memory_mb} MB memory limit",
        "raise NGX_ZK_BUILD_MEMORY_MB, or use a smaller model",
    )


def _child(sender: Any, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], memory_mb: int) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # results and progress travel over the pipe; native noise goes nowhere
    os.dup2(devnull, 2)
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        result = fn(*args, progress=lambda msg: sender.send(("progress", msg)), **kwargs)
        sender.send(("ok", result))
    except MemoryError:
        sender.send(("error", ("MemoryError", "", None, "")))
    except NgxZkError as exc:
        sender.send(("error", (type(exc).__name__, exc.message, exc.hint, exc.code)))
    except Exception as exc:  # an unexpected failure: report it rather than hang the parent
        sender.send(
            (
                "error",
                (type(exc).__name__, f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=3).splitlines()[-1], "internal"),
            )
        )
    finally:
        sender.close()
