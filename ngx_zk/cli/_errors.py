"""The one place where a command's failure becomes what the user sees.

Every command runs under :func:`run`, called by the root group's ``main``, so a new command inherits
this without doing anything. Whatever ends a command early ends the same way:

* one line on stderr, ``Error: WHAT IS WRONG (WHAT TO DO)`` (a usage error is preceded by the
  command's usage line);
* a non-zero exit status: 1 for an error, 2 for a usage error, 130 for Ctrl-C;
* with ``--json`` on the command line, also one JSON object on stdout:
  ``{"error": ..., "hint": ..., "code": ...}``, ``code`` being a stable short string per family
  (``usage``, ``input``, ``io``, ``rpc``, ``revert``, ``not_found``, ... see :mod:`ngx_zk.errors`).

What is caught: :class:`NgxZkError` (its message, hint and family code), click's usage errors (a bad
option value, a missing argument), ``OSError`` (a path that cannot be read or written), Ctrl-C, and,
as a last resort, any other exception: that is a bug in ngx-zk, reported as ``code: "internal"`` in
one line with the hint to re-run with ``NGX_ZK_DEBUG=1``, which lets the traceback through.
``click.exceptions.Exit`` (a command that printed its own result and chose its status, e.g.
``verify``'s 3 for "pending") and ``SystemExit`` pass through untouched.
"""

from __future__ import annotations

import errno
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from ..errors import Interrupted, NgxZkError

USAGE, ERROR, INTERRUPTED = 2, 1, 130
"""Exit statuses: click's usage status, any other failure, 128 + SIGINT (as shells report Ctrl-C)."""

DEBUG_HINT = "a bug in ngx-zk: re-run with NGX_ZK_DEBUG=1 to see the traceback, and report it"
MAX_INTERNAL = 200
"""Characters of an unexpected exception's message shown: its first line only, never a payload dump."""
BYTES = re.compile(r"b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\"|0x[0-9a-fA-F]{64,}")
"""Byte strings and long hex (signatures, permits, calldata) that a library's message may carry: never shown."""


FAMILY_HINTS = {
    "input": "check the file against the model: `ngx-zk model show NAME` lists its inputs and shapes",
    "invalid_proof": "pass a proof file that `ngx-zk prove --out` wrote for this model",
    "proof": "check the circuit with `ngx-zk model show NAME`, or rebuild it with ngx-zk model build",
    "not_found": "check the name or path: `ngx-zk model list` shows the built circuits",
    "model": "pass an ONNX file, or a folder holding network.onnx (`ngx-zk model export` writes one from PyTorch)",
    "circuit": "check the circuit with `ngx-zk model show NAME`, or rebuild it with ngx-zk model build",
    "config": "check the NGX_ZK_* settings (README, Configuration)",
    "rpc": "check --rpc-url / NGX_ZK_RPC_URL, or start a local chain with `ngx-zk devnet up`",
    "chain": "check --rpc-url / NGX_ZK_RPC_URL and the chain's state (`ngx-zk devnet status`)",
    "wrong_chain": "point --rpc-url / NGX_ZK_RPC_URL at the chain you meant",
    "deployment": "run `ngx-zk deploy` on this chain, or point --rpc-url at the chain you deployed to",
    "signer": "pass --account ROLE (dev chain) or --keystore FILE, or set NGX_ZK_KEYSTORE / NGX_ZK_PRIVATE_KEY",
    "transaction": "check the account's ETH for gas and the node, then try again",
    "revert": "check the state it depends on: `ngx-zk job show ID`, `ngx-zk provider status`",
}
"""What to do, per family, for an error raised without a hint of its own: every failure says what to do."""
GENERIC_HINT = "see the command's --help"


@dataclass(frozen=True)
class Failure:
    """What the user is told: the message, what to do, the family code, the exit status."""

    message: str
    hint: str | None
    code: str
    status: int = ERROR
    usage: str | None = None
    """The failing command's usage line (usage errors only)."""
    details: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        return f"Error: {self.message}" + (f" ({self.hint})" if self.hint else "")

    def to_json(self) -> dict[str, object]:
        return {"error": self.message, "hint": self.hint, "code": self.code, **self.details}


def describe(exc: BaseException) -> Failure:
    """The failure to report for ``exc`` (any exception but ``SystemExit``/``click.exceptions.Exit``)."""
    if isinstance(exc, Interrupted):
        return Failure(exc.message, exc.hint, exc.code, INTERRUPTED, details=dict(exc.details))
    if isinstance(exc, NgxZkError):
        return Failure(exc.message, exc.hint or FAMILY_HINTS.get(exc.code, GENERIC_HINT), exc.code)
    if isinstance(exc, click.UsageError):
        ctx = exc.ctx
        path = ctx.command_path if ctx is not None else "ngx-zk"
        usage = ctx.get_usage() if ctx is not None else None
        return Failure(exc.format_message(), f"see: {path} --help", "usage", USAGE, usage)
    if isinstance(exc, click.FileError):
        return Failure(exc.format_message(), "check the path and its permissions", "io")
    if isinstance(exc, click.ClickException):
        return Failure(exc.format_message(), None, "error", exc.exit_code)
    if isinstance(exc, KeyboardInterrupt) or (isinstance(exc, click.Abort) and isinstance(exc.__cause__, KeyboardInterrupt)):
        return Failure("interrupted", None, "interrupted", INTERRUPTED)
    if isinstance(exc, click.Abort):
        return Failure("aborted", None, "aborted")
    if isinstance(exc, OSError):
        return _os_failure(exc)
    first = BYTES.sub("<bytes>", (str(exc).strip().splitlines() or [""])[0])
    if len(first) > MAX_INTERNAL:
        first = first[:MAX_INTERNAL] + "..."
    return Failure(f"internal error: {type(exc).__name__}" + (f": {first}" if first else ""), DEBUG_HINT, "internal")


def _os_failure(exc: OSError) -> Failure:
    what = exc.strerror or str(exc) or type(exc).__name__
    where = f": {exc.filename}" if exc.filename is not None else ""
    hints = {
        errno.ENOENT: "check the path",
        errno.EACCES: "check the permissions, or pick another path",
        errno.EPERM: "check the permissions, or pick another path",
        errno.EISDIR: "name a file, not a folder",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.ENOSPC: "free some disk space",
        errno.EROFS: "pick a path on a writable file system",
    }
    return Failure(f"{what}{where}", hints.get(exc.errno or 0, "check the path and its permissions"), "io")


def wants_json(args: Sequence[str]) -> bool:
    """``--json`` is among the options (before a ``--`` that ends them)."""
    options = list(args)
    if "--" in options:
        options = options[: options.index("--")]
    return "--json" in options


def report(failure: Failure, as_json: bool) -> None:
    """Print ``failure``: the JSON object on stdout (with --json), the one line on stderr."""
    if as_json:
        click.echo(json.dumps(failure.to_json()))
    if failure.usage:
        click.echo(failure.usage, err=True)
    click.echo(failure.line(), err=True)


def run(invoke: Callable[[], Any], args: Sequence[str]) -> int:
    """Run the command line (``invoke``, click's non-standalone main) and return its exit status."""
    from ..config import debug_enabled

    try:
        status = invoke()
    except click.exceptions.Exit as done:  # raised outside a context (e.g. by a parameter callback)
        return done.exit_code
    except BrokenPipeError:
        _silence_stdout()  # the reader went away (`ngx-zk jobs | head -1`): nothing more to say, to nobody
        return ERROR
    except click.exceptions.NoArgsIsHelpError as bare:  # `ngx-zk model` alone: its help, as click shows it
        bare.show()
        return bare.exit_code
    except (Exception, KeyboardInterrupt) as exc:
        failure = describe(exc)
        if failure.code == "internal" and debug_enabled():
            raise
        try:
            report(failure, wants_json(args))
        except BrokenPipeError:
            _silence_stdout()
        return failure.status
    return status if isinstance(status, int) else 0


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (a test runner's buffer)
        pass


__all__ = ["Failure", "describe", "report", "run", "wants_json"]
