"""Provider and payout commands: ``provider register|stake|unstake|withdraw|status``, ``withdraw``
(what the market and the RewardsPool owe you) and ``reputation``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import ChainError
from ._common import (
    Client,
    address_arg,
    chain_command,
    emit,
    fmt_ngx,
    json_option,
    parse_ngx,
)

if TYPE_CHECKING:
    pass


@click.command("register")
@click.option("--endpoint", default="", help="URI where consumers reach this provider (optional).")
@json_option
@chain_command(signer=True)
def provider_register(access: Client, endpoint: str, as_json: bool) -> None:
    """Register as a provider with an X25519 encryption key derived from the signing key.

    Run again by a registered provider, it updates the profile: the endpoint given (or none) and the key.

    \b
    Example:
      ngx-zk provider register --keystore provider.json --endpoint https://gpu1.example:8443
    """
    from .. import crypto
    from ..endpoint import check_endpoint

    if endpoint:  # the check every consumer makes before connecting; private hosts only on the dev chain
        check_endpoint(endpoint, dev_chain=True)
    market = access.market
    if endpoint:
        check_endpoint(endpoint, dev_chain=access.is_dev)
    signer = access.signer
    pub = crypto.public_bytes(crypto.derive_key(signer.encryption_key_material()))
    before = market.provider(signer.address)
    if before.registered and (before.encryption_pub_key, before.endpoint_uri) == (pub, endpoint):
        raise ChainError(
            f"{signer.address} is already registered as a provider with this key and endpoint {endpoint or '(none)'}",
            "nothing to change; to change the endpoint: ngx-zk provider register --endpoint URL",
        )
    if before.registered:
        receipt = market.update_provider(signer, pub, endpoint)
        text = f"updated provider {signer.address}: endpoint {before.endpoint_uri or '(none)'} -> {endpoint or '(none)'}"
    else:
        receipt = market.register_provider(signer, pub, endpoint)
        text = f"registered provider {signer.address} (encryption key 0x{pub.hex()[:16]}...)"
    emit(
        as_json,
        {
            "provider": signer.address,
            "encryption_pubkey": "0x" + pub.hex(),
            "endpoint": endpoint,
            "updated": before.registered,
            "tx": receipt.tx,
        },
        text,
    )


@click.command("stake")
@click.argument("amount")
@json_option
@chain_command(signer=True)
def provider_stake(access: Client, amount: str, as_json: bool) -> None:
    """Stake AMOUNT NGX (approves the staking contract as needed).

    \b
    Example:
      ngx-zk provider stake 5000 --account provider
    """
    wei = parse_ngx(amount, positive=True)
    market, signer = access.market, access.signer
    receipt = market.stake(signer, wei)
    info = market.provider(signer.address)
    emit(
        as_json,
        {"provider": signer.address, "staked": info.staked, "tx": receipt.tx},
        f"staked {fmt_ngx(wei)}; total stake {fmt_ngx(info.staked)}",
    )


@click.command("unstake")
@click.argument("amount")
@json_option
@chain_command(signer=True)
def provider_unstake(access: Client, amount: str, as_json: bool) -> None:
    """Request to unstake AMOUNT NGX; withdraw it after the unbonding delay with `provider withdraw`.

    \b
    Example:
      ngx-zk provider unstake 1000 --account provider
    """
    wei = parse_ngx(amount, positive=True)
    market, signer = access.market, access.signer
    now = market.provider(signer.address)
    free = now.staked - now.locked
    if wei > now.staked:
        raise ChainError(
            f"cannot unstake {fmt_ngx(wei)}: {signer.address} stakes {fmt_ngx(now.staked)}",
            f"unstake at most {fmt_ngx(free)}" if free else "nothing is staked to unstake",
        )
    if wei > free:
        raise ChainError(
            f"cannot unstake {fmt_ngx(wei)}: {fmt_ngx(now.locked)} of the {fmt_ngx(now.staked)} stake is locked as "
            "collateral for live jobs",
            f"unstake at most {fmt_ngx(free)} now, the rest once those jobs end",
        )
    receipt = market.request_unstake(signer, wei)
    info = market.provider(signer.address)
    emit(
        as_json,
        {"provider": signer.address, "unbonding": info.unbonding, "release_at": info.unbonding_release_at, "tx": receipt.tx},
        f"unstaking {fmt_ngx(wei)}; withdrawable at unix time {info.unbonding_release_at}",
    )


@click.command("withdraw")
@json_option
@chain_command(signer=True)
def provider_withdraw(access: Client, as_json: bool) -> None:
    """Withdraw stake whose unbonding delay has passed.

    \b
    Example:
      ngx-zk provider withdraw --account provider
    """
    receipt = access.market.withdraw_stake(access.signer)
    emit(as_json, {"tx": receipt.tx}, "unbonded stake withdrawn")


@click.command("status")
@click.argument("address", required=False, callback=address_arg)
@json_option
@chain_command(signer=True)
def provider_status(access: Client, address: str | None, as_json: bool) -> None:
    """Show a provider's stake, locked collateral, unbonding, earnings and NRS.

    \b
    Example:
      ngx-zk provider status 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
    """
    market = access.market
    who = address or access.signer.address
    info = market.provider(who)
    nrs, _ = market.nrs(who)
    claimable, rewards, balance = market.claimable(who), market.rewards_owed(who), market.balance(who)
    data = {
        "provider": who,
        "staked": info.staked,
        "locked": info.locked,
        "unbonding": info.unbonding,
        "unbonding_release_at": info.unbonding_release_at,
        "registered_at": info.registered_at,
        "registered": info.registered,
        "endpoint": info.endpoint_uri,
        "nrs": nrs,
        "claimable": claimable,
        "rewards": rewards,
        "to_withdraw": claimable + rewards,
        "balance": balance,
    }
    from ..worker.observe import FLEET_FILE, read_fleet

    # a worker proving on a Ray cluster (--ray) keeps its fleet's figures beside its journal
    fleet = read_fleet(access.settings.state_dir / "worker" / f"{market.chain.chain_id}-{who.lower()}" / FLEET_FILE)
    if fleet is not None:
        data["fleet"] = fleet
    emit(
        as_json,
        data,
        f"provider {who}: {'registered' if info.registered else 'NOT registered'}\n"
        f"  stake {fmt_ngx(info.staked)} (locked {fmt_ngx(info.locked)}, unbonding {fmt_ngx(info.unbonding)})\n"
        f"  to withdraw {fmt_ngx(claimable + rewards)} (earnings {fmt_ngx(claimable)} + rewards {fmt_ngx(rewards)}), "
        f"wallet {fmt_ngx(balance)}\n  NRS {nrs}"
        + (
            f"\n  fleet: {fleet['nodes']} nodes, queue {fleet['queue']}, proofs per node {fleet['proofs_per_node']}, "
            f"node failures {sum(fleet['node_failures'].values())}"
            if fleet
            else ""
        ),
    )


@click.command("withdraw")
@json_option
@chain_command(signer=True)
def withdraw_cmd(access: Client, as_json: bool) -> None:
    """Withdraw what the market credited you: provider pay, royalties, refunds.

    The NGX rewards the RewardsPool owes a provider are paid in the same transaction, and shown apart.

    \b
    Example:
      ngx-zk withdraw --account provider
    """
    market, signer = access.market, access.signer
    credited, rewards = market.claimable(signer.address), market.rewards_owed(signer.address)
    if credited + rewards == 0:
        raise ChainError(
            f"nothing to withdraw for {signer.address}", f"see what is owed with: ngx-zk provider status {signer.address}"
        )
    before = market.balance(signer.address)
    receipt = market.withdraw(signer)
    arrived = market.balance(signer.address) - before  # what the wallet got: the market's credit and the pool's rewards
    emit(
        as_json,
        {"amount": arrived, "credited": credited, "rewards": rewards, "tx": receipt.tx},
        f"withdrew {fmt_ngx(arrived)} (earnings and refunds {fmt_ngx(credited)} + rewards {fmt_ngx(rewards)})",
    )


ANOMALIES_FROM_HELP = (
    "Where anomaly flags come from: an explorer URL (its /api/v1/anomalies) or an explorer index (SQLite path or "
    "postgresql://...) scored here. Default: this machine's index, $NGX_ZK_HOME/explorer/<chain id>.sqlite "
    "(kept by `ngx-zk explorer`)."
)


@click.command("reputation")
@click.argument("address", required=False, callback=address_arg)
@click.option(
    "--anomalies",
    is_flag=True,
    help="Show actors flagged by anomaly detection over the market's history (wash rings, junk inputs, "
    "self-dealing, decline harvesting) with their evidence, instead of NRS.",
)
@click.option("--anomalies-from", "anomalies_from", metavar="URL|PATH", help=ANOMALIES_FROM_HELP + " Implies --anomalies.")
@json_option
@chain_command(signer=False)
def reputation_cmd(access: Client, address: str | None, anomalies: bool, anomalies_from: str | None, as_json: bool) -> None:
    """Show NRS = 0.4 Performance + 0.3 Reliability + 0.2 Longevity + 0.1 Peer rating, per provider.

    Without ADDRESS, every registered provider is shown. With --anomalies, the actors that anomaly
    detection flags (with ADDRESS: that address's flags only); a flag is evidence, not proof.

    \b
    Example:
      ngx-zk reputation 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
      ngx-zk reputation --anomalies                    # from this machine's explorer index
      ngx-zk reputation --anomalies-from http://127.0.0.1:8080 --json
    """
    if anomalies or anomalies_from:
        from ..anomaly.sources import read_report, resolve

        source = resolve(anomalies_from, access.settings.home, lambda: access.chain.chain_id)
        report = read_report(source, dev_chain=True)  # a source the user names is trusted as named (a private host too)
        if address:
            report.flags = [f for f in report.flags if f.address == address.lower()]
        emit(as_json, report.to_json(), report.text())
        return
    market = access.market
    who = [address] if address else market.providers()
    rows = []
    for addr in who:
        nrs, (perf, rel, lon, peer) = market.nrs(addr)
        rows.append(
            {
                "provider": addr,
                "nrs": nrs,
                "performance": perf,
                "reliability": rel,
                "longevity": lon,
                "peer_rating": peer,
                **market.facts(addr),
            }
        )
    emit(
        as_json,
        {"providers": rows},
        "\n".join(
            f"{r['provider']}  NRS {r['nrs']:>3}  (performance {r['performance']}, reliability {r['reliability']}, "
            f"longevity {r['longevity']}, peer {r['peer_rating']}; {r['completed']} completed, {r['missed']} missed)"
            for r in rows
        )
        or "no providers registered",
    )
