"""``ngx-zk account new|show|transfer``: the keys and NGX of each role on a chain that is not the devnet.

On the devnet ``--account ROLE`` picks a public dev account; anywhere else every role (deployer,
treasury, guardian, provider, consumer, ...) signs with its own encrypted keystore, made here from a
fresh random key that never appears on the command line or on screen.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from ..errors import SignerError
from ._common import Client, address_arg, chain_command, emit, fmt_ngx, json_option, parse_ngx, settings_from

MIN_PASSWORD_CHARS = 12
"""A keystore guards a key that holds funds: refuse passwords shorter than this."""


@click.command("new")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_context
def account_new(ctx: click.Context, path: Path, as_json: bool) -> None:
    """Make a new account: a random key, encrypted into keystore PATH (mode 0600); print its address.

    The password comes from NGX_ZK_KEYSTORE_PASSWORD_FILE (or NGX_ZK_KEYSTORE_PASSWORD), as for every
    command that signs with --keystore. An existing file is never overwritten.

    \b
    Example:
      NGX_ZK_KEYSTORE_PASSWORD_FILE=~/.ngx-zk/password ngx-zk account new keys/provider.json
    """
    from ..chain.signer import write_keystore
    from ..config import Secret
    from ._common import check_output_file

    settings = settings_from(ctx)
    if path.exists():
        raise click.BadParameter(f"{path} already exists: a keystore is never overwritten", param_hint="PATH")
    check_output_file(path, "PATH")
    password = settings.keystore_password
    if password is None:
        raise SignerError(
            f"no password for the new keystore {path}",
            "put one in a file readable only by you and set NGX_ZK_KEYSTORE_PASSWORD_FILE to it",
        )
    if len(password.reveal()) < MIN_PASSWORD_CHARS:
        raise SignerError(
            f"the keystore password is shorter than {MIN_PASSWORD_CHARS} characters",
            "use a longer one, e.g. the output of `openssl rand -hex 16`",
        )
    address = write_keystore(path, Secret(secrets.token_hex(32)), password)
    emit(as_json, {"address": address, "keystore": str(path)}, f"{address}  (keystore {path})")


@click.command("address")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def account_address(path: Path) -> None:
    """Print the address of keystore PATH (read from the file: no password, no chain), for scripts.

    \b
    Example:
      ngx-zk deploy --keystore keys/deployer.json --treasury $(ngx-zk account address keys/treasury.json) ...
    """
    from eth_utils.address import is_address, to_checksum_address

    from .. import safejson
    from ..errors import InputError

    try:
        data = safejson.loads(path.read_bytes(), what=str(path))
        raw = str(data.get("address", "")) if isinstance(data, dict) else ""
    except (InputError, OSError):
        raw = ""
    address = raw if raw.startswith("0x") else "0x" + raw
    if not is_address(address):
        raise SignerError(f"{path} is not a JSON keystore with an address", "make one with: ngx-zk account new PATH")
    click.echo(to_checksum_address(address))


@click.command("show")
@click.argument("address", required=False, callback=address_arg)
@json_option
@chain_command(signer=True)
def account_show(access: Client, address: str | None, as_json: bool) -> None:
    """Show an account's address, ETH (for gas) and NGX on this chain: ADDRESS, else your own.

    The NGX balance needs the marketplace deployed on the chain; before that only ETH is shown.

    \b
    Example:
      ngx-zk account show --keystore keys/provider.json
    """
    from ..errors import DeploymentError

    who = address or access.signer.address
    chain = access.chain
    eth = int(chain.w3.eth.get_balance(chain.w3.to_checksum_address(who)))
    try:
        ngx: int | None = access.market.balance(who)
    except DeploymentError:
        ngx = None
    data = {"address": who, "chain_id": chain.chain_id, "eth_wei": str(eth), "ngx": None if ngx is None else str(ngx)}
    text = f"{who} on chain {chain.chain_id}: {eth / 10**18:.6f} ETH" + ("" if ngx is None else f", {fmt_ngx(ngx)}")
    emit(as_json, data, text)


@click.command("transfer")
@click.argument("amount")
@click.option("--to", "to", required=True, callback=address_arg, help="The receiving address.")
@json_option
@chain_command(signer=True)
def account_transfer(access: Client, amount: str, to: str, as_json: bool) -> None:
    """Send AMOUNT NGX to --to (e.g. from the ecosystem allocation to a provider or a consumer).

    \b
    Example:
      ngx-zk account transfer 5000 --to 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --keystore keys/ecosystem.json
    """
    from ..errors import ChainError

    value = parse_ngx(amount, positive=True)
    market, signer = access.market, access.signer
    held = market.balance(signer.address)
    if held < value:
        raise ChainError(
            f"{signer.address} holds {fmt_ngx(held)}, less than the {fmt_ngx(value)} to send",
            "send less, or from the account that holds the NGX (after deploy: the ecosystem allocation)",
        )
    receipt = market.transfer(signer, to, value)
    emit(as_json, {"tx": receipt.tx, "from": signer.address, "to": to, "amount": str(value)}, f"sent {fmt_ngx(value)} to {to}")
