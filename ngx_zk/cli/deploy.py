"""``ngx-zk deploy``: deploy and wire the marketplace contracts on a chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .. import console
from ._common import (
    Client,
    address_arg,
    chain_command,
    emit,
    json_option,
)

if TYPE_CHECKING:
    pass


@click.command("deploy")
@click.option("--treasury", callback=address_arg, help="Treasury address (required on non-dev chains).")
@click.option("--guardian", callback=address_arg, help="Guardian address, who can pause (required on non-dev chains).")
@click.option("--ecosystem", callback=address_arg, help="Ecosystem allocation address (required on non-dev chains).")
@click.option("--team", callback=address_arg, help="Team vesting beneficiary (required on non-dev chains).")
@click.option(
    "--curator",
    callback=address_arg,
    help="Who may allow-list verifier code besides governance (non-dev chains; default: the deployer, "
    "which then allow-lists the shared reusable verifier).",
)
@click.option(
    "--force", is_flag=True, help="Deploy even though this chain has a live deployment (its file is kept as .json.replaced-TIME)."
)
@json_option
@chain_command(signer=True)
def deploy_cmd(
    access: Client,
    treasury: str | None,
    guardian: str | None,
    ecosystem: str | None,
    team: str | None,
    curator: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Deploy and wire all marketplace contracts; write deployments/<chain id>.json.

    On the local dev chain (id 31337) the dev accounts take every role: the dev deployer signs
    (no key needed), and the consumer, provider and auditor accounts are funded with NGX from the
    ecosystem allocation. Elsewhere pass the four role addresses (and --curator) and a key (--keystore,
    NGX_ZK_KEYSTORE or NGX_ZK_PRIVATE_KEY); each role is an account of its own (`ngx-zk account new`).

    A chain whose recorded deployment is live (its market has code there) is not deployed to again
    without --force: a new deployment starts empty, and this machine would forget the old one's
    models, registrations and stakes. With --force the old deployments file is kept beside the new.

    \b
    Example:
      ngx-zk deploy                       # on the running devnet
      ngx-zk deploy --rpc-url https://rollup.example --keystore deployer.json \\
          --treasury 0x.. --guardian 0x.. --ecosystem 0x.. --team 0x.. --curator 0x..
    """
    from ..chain import deployment, devnet
    from ._guards import guard_live_deployment

    chain = access.chain
    kept = guard_live_deployment(access.settings, chain, force)
    with console.progress(f"deploying to chain {chain.chain_id}", quiet=as_json) as step:
        if access.is_dev:
            if any((treasury, guardian, ecosystem, team, curator, access.keystore)) or access.account not in (None, "deployer"):
                raise click.UsageError(
                    "on the dev chain the dev accounts take every role (the deployer signs): "
                    "--treasury/--guardian/--ecosystem/--team/--curator/--keystore/--account apply to other chains"
                )
            deployed = devnet.deploy_dev(access.settings, chain, progress=step).deployment
        else:
            if not (treasury and guardian and ecosystem and team):
                raise click.UsageError("on a non-dev chain pass --treasury, --guardian, --ecosystem and --team")
            deployed = deployment.deploy_all(
                chain,
                access.signer,
                deployment.Roles(treasury, guardian, ecosystem, team, curator),
                dev=False,
                progress=step,
            )
            deployment.save(access.settings, deployed)
    path = deployment.path_for(access.settings, chain.chain_id)
    if kept is not None and not as_json:
        console.warn(f"the previous deployments file is kept as {kept}")
    emit(
        as_json,
        {
            "chain_id": chain.chain_id,
            "deployments": str(path),
            "contracts": deployed.contracts,
            "replaced": str(kept) if kept else None,
        },
        f"deployed {len(deployed.contracts)} contracts on chain {chain.chain_id} -> {path}\n"
        + "\n".join(f"  {k:<22} {v}" for k, v in deployed.contracts.items()),
    )
