"""Private-weights licences: `model license` (the owner seals a hashed-weights model's files to one provider) and
`model install-license` (the provider checks and installs them). See :mod:`ngx_zk.licensing`."""

from __future__ import annotations

from pathlib import Path

import click
from eth_utils.address import is_address

from ._common import Client, chain_command, check_output_file, emit, json_option


def _address(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not is_address(value):
        raise click.BadParameter(f"{value[:60]!r} is not an address (0x followed by 40 hex digits)")
    return value


@click.command("license")
@click.argument("name")
@click.option("--provider", required=True, callback=_address, metavar="ADDR", help="The registered provider to license.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The licence file to write (default: NAME-<provider>.licence.json). Send it to the provider.",
)
@json_option
@chain_command(signer=False)
def model_license(access: Client, name: str, provider: str, out: Path | None, as_json: bool) -> None:
    """Seal a hashed-weights model's weights to one provider (owner side).

    Reads the X25519 encryption key PROVIDER registered on chain and seals the files that hold the weights
    (compiled circuit, circuit ONNX) to it, bound to this chain, market, model id and provider: only that
    provider's key opens the licence, and only for this model. The provider installs it with
    `ngx-zk model install-license FILE`, which checks every file against the published manifest. A licensed
    provider holds the weights in clear and can copy them: license only providers you trust (README,
    "Private weights").

    \b
    Example:
      ngx-zk model build models/mlp --name mlp_private --weights hashed
      ngx-zk model publish mlp_private --account deployer
      ngx-zk model license mlp_private --provider 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --out mlp.licence.json
    """
    from ..catalog import resolve_model
    from ..circuit import load_circuit
    from ..licensing import grant, write

    out = check_output_file(out or Path(f"{name}-{provider[:10].lower()}.licence.json"))
    settings = access.settings
    circuit = load_circuit(name, settings)  # a missing circuit is refused before any chain read
    market = access.market
    entry = resolve_model(settings, market, circuit)
    licence = grant(settings, market, circuit, entry.model_id, provider)
    write(licence, out)
    emit(
        as_json,
        {"name": name, "model_id": entry.model_id, "provider": licence.provider, "path": str(out), "bytes": out.stat().st_size},
        f"licensed model {entry.model_id} ({name}) to provider {licence.provider} -> {out} "
        "(only that provider's key opens it; a licensed provider can copy the weights)",
    )


@click.command("install-license")
@click.argument("licence_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@chain_command(signer=True)
def model_install_license(access: Client, licence_file: Path, as_json: bool) -> None:
    """Install a licence for a hashed-weights model (provider side).

    Opens FILE with this provider's key, checks each file against the sha256 the pulled model's manifest
    pins (the registry pins that manifest), and puts them into the circuit's folder. Files that do not match
    (other weights, another build) are refused and nothing is installed. Pull the model first
    (`ngx-zk model pull ID`); then the worker serves it (`ngx-zk worker --model NAME`). Without a licence the
    worker does not claim the model's jobs.

    \b
    Example:
      ngx-zk model pull 3
      ngx-zk model install-license mlp.licence.json --account provider
      ngx-zk worker --model mlp_private --account provider
    """
    from ..licensing import Licence, install

    licence = Licence.read(licence_file)  # a file that is no licence is refused before any chain read
    circuit = install(access.settings, access.market, access.signer, licence)
    emit(
        as_json,
        {"name": circuit.name, "path": str(circuit.path)},
        f"installed the licensed weights of {circuit.name} -> {circuit.path} (checked against its manifest)",
    )
