"""Shared pieces of the CLI: error handling, --json output, settings, output paths, and
:func:`chain_command`, the one way a command reaches the chain and its signer."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

from ..config import Settings, load_settings
from ..errors import NgxZkError, SignerError
from ..units import WEI, fmt_ngx

if TYPE_CHECKING:
    from ..artifacts import Circuit
    from ..chain.market import Marketplace
    from ..chain.signer import Signer
    from ..chain.tx import Chain

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")

INSECURE_NOTE = "circuit {name!r} was built on a local TEST SRS: its proofs are forgeable; use it on a dev chain only"
INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""


def handle_errors(fn: F) -> F:
    """Turn library errors into a clean one-line message and exit status 1; Ctrl-C into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NgxZkError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


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
    return path


# --- chain ---------------------------------------------------------------------------------------
class ChainAccess:
    """What a chain command gets: its settings, the chain, the marketplace and the signer, each
    resolved on first use, by the library's one order (:func:`ngx_zk.client.connect`, :func:`signer_for`).

    The signer: ``--account`` / ``--keystore``, else NGX_ZK_KEYSTORE / NGX_ZK_PRIVATE_KEY, else
    ``dev_account`` on the local dev chain for the commands that document one (``deploy``)."""

    def __init__(
        self,
        settings: Settings,
        rpc_url: str | None,
        *,
        account: str | None = None,
        keystore: Path | None = None,
        dev_account: str | None = None,
    ) -> None:
        self.settings = settings
        self.rpc_url = rpc_url
        self.account = account
        self.keystore = keystore
        self.dev_account = dev_account
        self._chain: Chain | None = None
        self._market: Marketplace | None = None
        self._signer: Signer | None = None

    @property
    def chain(self) -> Chain:
        if self._chain is None:
            from ..client import resolve_chain

            self._chain = resolve_chain(self.settings, self.rpc_url)
        return self._chain

    @property
    def is_dev(self) -> bool:
        from ..chain.devnet import DEV_CHAIN_ID

        return self.chain.chain_id == DEV_CHAIN_ID

    @property
    def market(self) -> Marketplace:
        if self._market is None:
            from ..client import connect

            self._market = connect(self.settings, chain=self.chain)
        return self._market

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            from ..client import signer_for

            account = self.account
            configured = self.keystore or self.settings.keystore or self.settings.private_key
            if account is None and not configured:
                if self.dev_account and self.is_dev:
                    account = self.dev_account
                else:
                    raise SignerError("no signing key given", self._signer_hint())
            self._signer = signer_for(self.settings, self.chain.chain_id, account=account, keystore=self.keystore)
        return self._signer

    def _signer_hint(self) -> str:
        real = "--keystore FILE (password in NGX_ZK_KEYSTORE_PASSWORD[_FILE]), NGX_ZK_KEYSTORE or NGX_ZK_PRIVATE_KEY"
        if self.is_dev:
            return f"on this dev chain pass --account ROLE (consumer, provider, deployer, ...), or {real}"
        return f"pass {real}"


def chain_command(
    *, signer: bool, dev_account: str | None = None
) -> Callable[[Callable[Concatenate[ChainAccess, P], R]], Callable[..., R]]:
    """Decorate a command that talks to the chain: adds --rpc-url (and --keystore/--account when it
    signs), hands the command a :class:`ChainAccess` as its first argument, and turns library errors
    into one-line messages. Put it below ``@click.command`` and the command's own options."""

    def decorate(fn: Callable[Concatenate[ChainAccess, P], R]) -> Callable[..., R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            rpc_url: str | None = kwargs.pop("rpc_url", None)  # type: ignore[assignment]
            keystore: Path | None = kwargs.pop("keystore", None)  # type: ignore[assignment]
            account: str | None = kwargs.pop("account", None)  # type: ignore[assignment]
            access = ChainAccess(
                settings_from(click.get_current_context()), rpc_url, account=account, keystore=keystore, dev_account=dev_account
            )
            return fn(access, *args, **kwargs)

        command: Callable[..., R] = handle_errors(wrapper)
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


def parse_ngx(text: str) -> int:
    """An NGX amount ("12.5") as base units (18 decimals)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a number of NGX") from None
    if not value.is_finite() or value < 0:
        raise click.BadParameter(f"{text!r} must be a non-negative amount")
    return int(value * WEI)


def address_arg(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: an Ethereum address (0x and 40 hex digits), checked before any chain work."""
    from eth_utils.address import is_address

    if value is not None and not is_address(value):
        raise click.BadParameter(f"{value!r} is not an Ethereum address (0x followed by 40 hex digits)", param=param)
    return value


__all__ = [
    "ChainAccess",
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
