"""Shared pieces of the CLI: --json output, settings, output paths, and
:func:`chain_command`, the one way a command reaches the chain and its signer (an :class:`ngx_zk.Client`)."""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

from ..client import Client
from ..config import Settings, load_settings
from ..units import fmt_ngx

if TYPE_CHECKING:
    from ..artifacts import Circuit

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")

INSECURE_NOTE = "circuit {name!r} was built on a local TEST SRS: its proofs are forgeable; use it on a dev chain only"


def handle_errors(fn: F) -> F:
    """Nothing to do any more: the root group's ``main`` turns every failure into a one-line error
    (and a JSON error object with --json); see :mod:`._errors`. Kept so older command modules import."""
    return fn


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout (for scripts).")(fn)


def emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else text)


def settings_from(ctx: click.Context) -> Settings:
    settings: Settings = ctx.ensure_object(dict).setdefault("settings", load_settings())
    return settings


def warn_insecure(circuit: Circuit, as_json: bool) -> None:
    from .. import console

    if circuit.manifest.insecure and not as_json:
        console.warn(INSECURE_NOTE.format(name=circuit.name))


def check_output_file(path: Path, option: str = "--out") -> Path:
    """Refuse an output path that cannot be written (a folder, under a file, read-only) before any
    work; missing folders are fine (the writers create them)."""
    if path.is_dir():
        raise click.BadParameter(f"{path} is a folder: name the file to write, e.g. {path / 'proof.json'}", param_hint=option)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise click.BadParameter(f"cannot write {path}: {folder} is not a folder", param_hint=option)
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise click.BadParameter(f"cannot write {path}: permission denied", param_hint=option)
    # os.access says yes to root everywhere, and /proc or a read-only mount refuse anyway: try it
    probe = folder / f".ngx-zk-write-test-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path}: {exc.strerror or exc}", param_hint=option) from None
    return path


# --- chain ---------------------------------------------------------------------------------------
def chain_command(
    *, signer: bool, dev_account: str | None = None
) -> Callable[[Callable[Concatenate[Client, P], R]], Callable[..., R]]:
    """Decorate a command that talks to the chain: adds --rpc-url (and --keystore/--account when it
    signs) and hands the command a :class:`ngx_zk.Client` (the library's one resolver of chain, market and
    signer, each on first use) as its first argument. ``dev_account`` is the dev-chain role the command
    signs as when no key is given (``deploy``). Put it below ``@click.command`` and the command's own options."""

    def decorate(fn: Callable[Concatenate[Client, P], R]) -> Callable[..., R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            rpc_url: str | None = kwargs.pop("rpc_url", None)  # type: ignore[assignment]
            keystore: Path | None = kwargs.pop("keystore", None)  # type: ignore[assignment]
            account: str | None = kwargs.pop("account", None)  # type: ignore[assignment]
            client = Client(
                settings_from(click.get_current_context()), rpc_url, account=account, keystore=keystore, dev_account=dev_account
            )
            return fn(client, *args, **kwargs)

        command: Callable[..., R] = wrapper
        if signer:
            command = click.option(
                "--account",
                metavar="ROLE",
                help="A dev-chain account by role (consumer, provider, deployer, ...). Dev chain only.",
            )(command)
            command = click.option(
                "--keystore",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Encrypted JSON keystore (password from NGX_ZK_KEYSTORE_PASSWORD[_FILE]). "
                "Default: NGX_ZK_KEYSTORE or NGX_ZK_PRIVATE_KEY.",
            )(command)
        return click.option(
            "--rpc-url",
            metavar="URL[,URL...]",
            help="JSON-RPC URL(s), comma-separated. Default: NGX_ZK_RPC_URL, else the running devnet, "
            "else http://127.0.0.1:8545.",
        )(command)

    return decorate


def parse_ngx(text: str, *, positive: bool = False) -> int:
    """An NGX amount ("12.5") as base units (18 decimals), refused as a usage error if it is not one
    exactly (:func:`ngx_zk.units.parse_ngx`, the one parser)."""
    from ..errors import InputError
    from ..units import parse_ngx as parse

    try:
        return parse(text, positive=positive)
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None


UINT32_MAX = 2**32 - 1
SECONDS = click.IntRange(1, UINT32_MAX)
"""A job window or ramp in seconds: the contract stores it as a uint32 (refused at parse time, not by web3)."""
JOB_ID = click.IntRange(1, 2**64 - 1)
"""A job id as the user types it (the market counts from 1)."""


class FiniteFloat(click.FloatRange):
    """A float option in a range that also refuses ``nan`` and ``inf`` (which every range lets through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        result = super().convert(value, param, ctx)
        if not math.isfinite(result):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return result


def address_arg(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: an Ethereum address (0x and 40 hex digits), checked before any chain work."""
    from eth_utils.address import is_address

    if value is not None and not is_address(value):
        raise click.BadParameter(f"{value!r} is not an Ethereum address (0x followed by 40 hex digits)", param=param)
    return value


__all__ = [
    "JOB_ID",
    "SECONDS",
    "Client",
    "FiniteFloat",
    "chain_command",
    "check_output_file",
    "emit",
    "fmt_ngx",
    "handle_errors",
    "json_option",
    "parse_ngx",
    "settings_from",
    "warn_insecure",
]
