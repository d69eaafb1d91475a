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
from typing import TextIO

from rich.console import Console

_consoles: dict[int, Console] = {}


def stderr() -> Console:
    """A console on (a duplicate of) the current stderr, one per stderr object."""
    key = id(sys.stderr)
    if key not in _consoles:
        stream: TextIO
        try:
            stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
        except (AttributeError, OSError, ValueError):  # no real fd (e.g. under click's CliRunner)
            stream = sys.stderr
        _consoles[key] = Console(file=stream, stderr=True, highlight=False, soft_wrap=True)
    return _consoles[key]


@contextlib.contextmanager
def progress(title: str, *, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A spinner naming the current step; each finished step is printed with its duration."""
    if quiet:
        yield lambda _msg: None
        return
    console = stderr()
    steps = _Steps(console)
    with console.status(title) as status:

        def step(message: str) -> None:
            steps.start(message)
            status.update(f"{title}: {message}")

        yield step
    steps.start("")


class _Steps:
    """Prints each finished step with its duration."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.name = ""
        self.since = time.perf_counter()

    def start(self, name: str) -> None:
        if self.name and self.name != "done":
            self.console.print(f"  [green]✓[/] {self.name} [dim]({time.perf_counter() - self.since:.1f}s)[/]")
        self.name, self.since = name, time.perf_counter()


def warn(message: str) -> None:
    stderr().print(f"[yellow]warning:[/] {message}")
