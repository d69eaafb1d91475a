"""Terminal output for the CLI: progress on stderr, results on stdout.

EZKL's native code writes to file descriptors 1 and 2, which ngx-zk silences while it runs; this
console writes to a duplicate of the original stderr so progress stays visible meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

from rich.console import Console

_stderr: Console | None = None


def stderr() -> Console:
    global _stderr
    if _stderr is None:
        try:
            stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
        except (AttributeError, OSError, ValueError):  # no real fd (e.g. under CliRunner)
            stream = sys.stderr
        _stderr = Console(file=stream, stderr=True, highlight=False, soft_wrap=True)
    return _stderr


@contextlib.contextmanager
def progress(title: str, *, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A spinner naming the current step; each finished step is printed with its duration."""
    if quiet:
        yield lambda _msg: None
        return
    console = stderr()
    started = time.perf_counter()
    last = [started, ""]
    with console.status(title) as status:

        def step(message: str) -> None:
            now = time.perf_counter()
            if last[1]:
                console.print(f"  [green]✓[/] {last[1]} [dim]({now - float(last[0]):.1f}s)[/]")
            last[0], last[1] = now, message
            status.update(f"{title}: {message}")

        yield step
    if last[1] and last[1] != "done":
        console.print(f"  [green]✓[/] {last[1]} [dim]({time.perf_counter() - float(last[0]):.1f}s)[/]")


def warn(message: str) -> None:
    stderr().print(f"[yellow]warning:[/] {message}")
