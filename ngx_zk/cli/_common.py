"""Shared pieces of the CLI: error handling, --json output, settings, chain connection, signers."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import click
from eth_utils.address import is_address

from .. import console
from ..artifacts import Circuit
from ..config import Settings, load_settings
from ..errors import NgxZkError

F = TypeVar("F", bound=Callable[..., Any])

INSECURE_NOTE = "circuit {name!r} was built on a local TEST SRS: its proofs are forgeable; use it on a dev chain only"


def handle_errors(fn: F) -> F:
    """Turn library errors into a clean one-line message and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NgxZkError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            raise click.ClickException("interrupted") from None

    return wrapper  # type: ignore[return-value]


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout (for scripts).")(fn)


def emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else text)


def settings_from(ctx: click.Context) -> Settings:
    return ctx.ensure_object(dict).setdefault("settings", load_settings())  # type: ignore[no-any-return]


def warn_insecure(circuit: Circuit, as_json: bool) -> None:
    if circuit.manifest.insecure and not as_json:
        console.warn(INSECURE_NOTE.format(name=circuit.name))




# --- chain ---------------------------------------------------------------------------------------
def rpc_option(fn: F) -> F:
    return click.option("--rpc-url", help="JSON-RPC URL(s), comma-separated (default: NGX_ZK_RPC_URL or the local devnet).")(fn)


def signer_options(fn: F) -> F:
    fn = click.option("--account", help="A dev-chain account by role (consumer, provider, deployer, ...). Dev chain only.")(fn)
    return click.option(
        "--keystore", type=click.Path(path_type=Path),
        help="Encrypted JSON keystore (password from NGX_ZK_KEYSTORE_PASSWORD[_FILE]). Default: NGX_ZK_KEYSTORE or NGX_ZK_PRIVATE_KEY.",
    )(fn)


def connect(ctx: click.Context, rpc_url: str | None) -> Any:
    """The marketplace on the configured chain, found through the chain's deployments file."""
    from ..chain import deployment, devnet
    from ..chain.market import Marketplace
    from ..chain.tx import Chain
    from ..config import with_overrides

    settings = with_overrides(settings_from(ctx), rpc_url=rpc_url)
    urls = settings.rpc_urls
    if rpc_url is None and "NGX_ZK_RPC_URL" not in os.environ:
        urls = (devnet.url(settings) or settings.rpc_url,)
    chain = Chain(urls)
    return Marketplace(chain, deployment.load(settings, chain.chain_id))


def get_signer(ctx: click.Context, chain: Any, keystore: Path | None, account: str | None) -> Any:
    """The signer for a command on ``chain``: a dev account by role (dev chain only) or the configured key."""
    from ..chain import devnet, signer
    from ..errors import SignerError

    if account:
        if chain.chain_id != devnet.DEV_CHAIN_ID:
            raise SignerError(f"--account {account} names a dev-chain account; this is chain {chain.chain_id}",
                              "use --keystore or NGX_ZK_KEYSTORE on real chains")
        return devnet.dev_signer(settings_from(ctx), account)
    return signer.from_settings(settings_from(ctx), keystore)


WEI = Decimal(10) ** 18


def parse_ngx(text: str) -> int:
    """An NGX amount ("12.5") as base units (18 decimals)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a number of NGX") from None
    if value < 0 or value != value:
        raise click.BadParameter(f"{text!r} must be a non-negative amount")
    return int(value * WEI)


def address_arg(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: an Ethereum address (0x and 40 hex digits), checked before any chain work."""
    if value is not None and not is_address(value):
        raise click.BadParameter(f"{value!r} is not an Ethereum address (0x followed by 40 hex digits)", param=param)
    return value


def fmt_ngx(amount: int) -> str:
    text = f"{Decimal(amount) / WEI:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} NGX"
