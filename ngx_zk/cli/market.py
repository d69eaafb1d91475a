"""Marketplace commands: devnet, deploy, model publish, provider, prove-job, job(s), reputation, withdraw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import console, crypto
from ..chain import deployment, devnet
from ..circuit import load_circuit
from ..consumer import JobRecord, load_record, post_job, require_private, wait_for_result
from ..endpoint import check_endpoint
from ..errors import ChainError
from ..inputs import load as load_input
from ..publish import is_dev_chain, publish, publish_warnings
from . import main
from ._common import (
    address_arg,
    connect,
    emit,
    fmt_ngx,
    get_signer,
    handle_errors,
    json_option,
    parse_ngx,
    rpc_option,
    settings_from,
    signer_options,
    warn_insecure,
)
from .models import report_publish
from .pipeline import model as model_group

DEV_FUNDING = 100_000 * 10**18


# --- devnet ----------------------------------------------------------------------------------------
@main.group("devnet")
def devnet_group() -> None:
    """A local anvil chain for development, its state kept across restarts.

    \b
    Example:
      ngx-zk devnet up && ngx-zk deploy && ngx-zk devnet status
    """


@devnet_group.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=8545, show_default=True)
@click.option("--fresh", is_flag=True, help="Discard the saved chain state first.")
@json_option
@click.pass_context
@handle_errors
def devnet_up(ctx: click.Context, port: int, fresh: bool, as_json: bool) -> None:
    """Start anvil in the background (pinned npm build), with funded dev accounts.

    \b
    Example:
      ngx-zk devnet up --port 8545
    """
    st = devnet.up(settings_from(ctx), port=port, fresh=fresh)
    emit(as_json, st.__dict__, f"devnet running at {st.url} (chain {st.chain_id}, block {st.block}, pid {st.pid})")


@devnet_group.command("down")
@json_option
@click.pass_context
@handle_errors
def devnet_down(ctx: click.Context, as_json: bool) -> None:
    """Stop the devnet; its state is saved and comes back with the next `up`.

    \b
    Example:
      ngx-zk devnet down
    """
    stopped = devnet.down(settings_from(ctx))
    emit(as_json, {"stopped": stopped}, "devnet stopped (state saved)" if stopped else "devnet was not running")


@devnet_group.command("status")
@json_option
@click.pass_context
@handle_errors
def devnet_status(ctx: click.Context, as_json: bool) -> None:
    """Show whether the devnet runs, its URL, chain id, block and dev accounts (addresses only).

    \b
    Example:
      ngx-zk devnet status --json
    """
    st = devnet.status(settings_from(ctx))
    accounts = {role: devnet.dev_address(role) for role in devnet.ROLES}
    text = (f"devnet running at {st.url}: chain {st.chain_id}, block {st.block}, pid {st.pid}" if st.running else "devnet not running")
    if st.running:
        text += "\n" + "\n".join(f"  {role:<10} {addr}" for role, addr in accounts.items())
    emit(as_json, {**st.__dict__, "accounts": accounts}, text)


# --- deploy ----------------------------------------------------------------------------------------
@main.command("deploy")
@rpc_option
@signer_options
@click.option("--treasury", help="Treasury address (required on non-dev chains).")
@click.option("--guardian", help="Guardian address, who can pause (required on non-dev chains).")
@click.option("--ecosystem", help="Ecosystem allocation address (required on non-dev chains).")
@click.option("--team", help="Team vesting beneficiary (required on non-dev chains).")
@json_option
@click.pass_context
@handle_errors
def deploy_cmd(ctx: click.Context, rpc_url: str | None, keystore: Path | None, account: str | None, treasury: str | None,
               guardian: str | None, ecosystem: str | None, team: str | None, as_json: bool) -> None:
    """Deploy and wire all marketplace contracts; write deployments/<chain id>.json.

    On the local devnet the dev accounts take the roles and the consumer and provider accounts
    are funded with NGX from the ecosystem allocation.

    \b
    Example:
      ngx-zk deploy                       # on the running devnet
      ngx-zk deploy --rpc-url https://rollup.example --keystore deployer.json \\
          --treasury 0x.. --guardian 0x.. --ecosystem 0x.. --team 0x..
    """
    from ..chain.tx import Chain

    settings = settings_from(ctx)
    url = rpc_url or devnet.url(settings) or settings.rpc_url
    chain = Chain([u.strip() for u in url.split(",")])
    dev = chain.chain_id == devnet.DEV_CHAIN_ID
    if dev:
        signer = get_signer(ctx, chain, keystore, account or ("deployer" if not keystore else None))
        roles = deployment.Roles(*(treasury or devnet.dev_address("treasury"), guardian or devnet.dev_address("guardian"),
                                   ecosystem or devnet.dev_address("ecosystem"), team or devnet.dev_address("team")))
    else:
        if not all((treasury, guardian, ecosystem, team)):
            raise click.UsageError("on a non-dev chain pass --treasury, --guardian, --ecosystem and --team")
        signer = get_signer(ctx, chain, keystore, account)
        roles = deployment.Roles(treasury, guardian, ecosystem, team)  # type: ignore[arg-type]
    with console.progress(f"deploying to chain {chain.chain_id}", quiet=as_json) as step:
        deployed = deployment.deploy_all(chain, signer, roles, dev=dev, progress=step)
        path = deployment.save(settings, deployed)
        if dev:
            from ..chain.market import Marketplace

            market = Marketplace(chain, deployed)
            funder = devnet.dev_signer(settings, "ecosystem")
            for role in ("consumer", "consumer2", "provider", "provider2", "auditor"):
                step(f"funding the dev {role}")
                market.transfer(funder, devnet.dev_address(role), DEV_FUNDING)
    emit(as_json, {"chain_id": chain.chain_id, "deployments": str(path), "contracts": deployed.contracts},
         f"deployed {len(deployed.contracts)} contracts on chain {chain.chain_id} -> {path}\n"
         + "\n".join(f"  {k:<22} {v}" for k, v in deployed.contracts.items()))



# --- model publish -----------------------------------------------------------------------------------
@model_group.command("publish")
@click.argument("name")
@click.option("--verifier", "kind", type=click.Choice(["auto", "dedicated", "reusable"]), default="auto", show_default=True,
              help="auto: a dedicated verifier if it fits EIP-170, else the shared reusable verifier.")
@click.option("--royalty-bps", type=click.IntRange(0, 2000), default=0, show_default=True, help="Royalty per job to the model owner.")
@click.option("--bundle-uri", "--metadata-uri", "bundle_uri", default="",
              help="Where `ngx-zk model pull` fetches the model's bundle (file:// or https://; see `ngx-zk model bundle`).")
@click.option("--allow-unsalted", is_flag=True, help="Publish even though inputs are unsalted (a guessable input can be confirmed from its commitment).")
@click.option("--allow-private-output", is_flag=True, help="Publish even though the output is not in the proof (a provider may return any output).")
@rpc_option
@signer_options
@json_option
@click.pass_context
@handle_errors
def model_publish(ctx: click.Context, name: str, kind: str, royalty_bps: int, bundle_uri: str, allow_unsalted: bool,
                  allow_private_output: bool, rpc_url: str | None, keystore: Path | None, account: str | None, as_json: bool) -> None:
    """Publish a built circuit: deploy its verifier (or register its VKA), then its registry entry.

    The entry pins the verifier's code hash and the circuit's artifacts hash (sha256 of
    manifest.json); the model id is recorded for this chain, and consumers and workers find the model
    by that id only. Refused: a test-SRS circuit on any chain but the local devnet; unsalted inputs and
    private outputs unless --allow-unsalted / --allow-private-output. A verifier earns rewards and
    NRS only once governance allow-lists its code hash (done here on the devnet by its curator).

    \b
    Example:
      ngx-zk model bundle mlp --out mlp.tar.gz
      ngx-zk model publish mlp --account deployer --royalty-bps 100 --bundle-uri https://example.org/mlp.tar.gz
    """
    settings = settings_from(ctx)
    circuit = load_circuit(name, settings)
    publish_warnings(circuit, allow_unsalted=allow_unsalted, allow_private_output=allow_private_output)  # refuse before any chain work
    market = connect(ctx, rpc_url)
    signer = get_signer(ctx, market.chain, keystore, account or (None if keystore else "deployer"))
    with console.progress(f"publishing {name}", quiet=as_json) as step:
        published = publish(settings, market, signer, circuit, kind=kind, royalty_bps=royalty_bps, metadata_uri=bundle_uri,
                            allow_unsalted=allow_unsalted, allow_private_output=allow_private_output, progress=step)
    data = {**published.__dict__, "kind": published.kind.name.lower(), "chain_id": market.chain.chain_id}
    report_publish(published)  # on stderr, with --json too: what an allowance gives up must not go unseen
    emit(as_json, data, f"{'already published' if published.already_published else 'published'} {name} as model "
         f"{published.model_id} on chain {market.chain.chain_id} ({data['kind']} verifier {published.verifier}, "
         f"code hash {published.verifier_code_hash})")


# --- provider ---------------------------------------------------------------------------------------
@main.group("provider")
def provider_group() -> None:
    """Register, stake and unstake as a provider.

    \b
    Example:
      ngx-zk provider register --account provider && ngx-zk provider stake 5000 --account provider
    """


@provider_group.command("register")
@click.option("--endpoint", default="", help="URI where consumers reach this provider (optional).")
@rpc_option
@signer_options
@json_option
@click.pass_context
@handle_errors
def provider_register(ctx: click.Context, endpoint: str, rpc_url: str | None, keystore: Path | None, account: str | None,
                      as_json: bool) -> None:
    """Register as a provider with an X25519 encryption key derived from the signing key.

    \b
    Example:
      ngx-zk provider register --keystore provider.json --endpoint https://gpu1.example:8443
    """
    if endpoint:  # the check every consumer makes before connecting; private hosts only on the dev chain
        check_endpoint(endpoint, dev_chain=True)
    market = connect(ctx, rpc_url)
    if endpoint:
        check_endpoint(endpoint, dev_chain=is_dev_chain(market))
    signer = get_signer(ctx, market.chain, keystore, account)
    pub = crypto.public_bytes(crypto.derive_key(signer.encryption_key_material()))
    receipt = market.register_provider(signer, pub, endpoint)
    emit(as_json, {"provider": signer.address, "encryption_pubkey": "0x" + pub.hex(), "tx": receipt["tx"]},
         f"registered provider {signer.address} (encryption key 0x{pub.hex()[:16]}...)")


@provider_group.command("stake")
@click.argument("amount")
@rpc_option
@signer_options
@json_option
@click.pass_context
@handle_errors
def provider_stake(ctx: click.Context, amount: str, rpc_url: str | None, keystore: Path | None, account: str | None,
                   as_json: bool) -> None:
    """Stake AMOUNT NGX (approves the staking contract as needed).

    \b
    Example:
      ngx-zk provider stake 5000 --account provider
    """
    market = connect(ctx, rpc_url)
    signer = get_signer(ctx, market.chain, keystore, account)
    receipt = market.stake(signer, parse_ngx(amount))
    info = market.provider(signer.address)
    emit(as_json, {"provider": signer.address, "staked": info["staked"], "tx": receipt["tx"]},
         f"staked {amount} NGX; total stake {fmt_ngx(info['staked'])}")


@provider_group.command("unstake")
@click.argument("amount")
@rpc_option
@signer_options
@json_option
@click.pass_context
@handle_errors
def provider_unstake(ctx: click.Context, amount: str, rpc_url: str | None, keystore: Path | None, account: str | None,
                     as_json: bool) -> None:
    """Request to unstake AMOUNT NGX; withdraw it after the unbonding delay with `provider withdraw`.

    \b
    Example:
      ngx-zk provider unstake 1000 --account provider
    """
    market = connect(ctx, rpc_url)
    signer = get_signer(ctx, market.chain, keystore, account)
    receipt = market.request_unstake(signer, parse_ngx(amount))
    info = market.provider(signer.address)
    emit(as_json, {"provider": signer.address, "unbonding": info["unbonding"], "release_at": info["unbonding_release_at"],
                   "tx": receipt["tx"]},
         f"unstaking {amount} NGX; withdrawable at unix time {info['unbonding_release_at']}")


@provider_group.command("withdraw")
@rpc_option
@signer_options
@json_option
@click.pass_context
@handle_errors
def provider_withdraw(ctx: click.Context, rpc_url: str | None, keystore: Path | None, account: str | None, as_json: bool) -> None:
    """Withdraw stake whose unbonding delay has passed.

    \b
    Example:
      ngx-zk provider withdraw --account provider
    """
    market = connect(ctx, rpc_url)
    signer = get_signer(ctx, market.chain, keystore, account)
    receipt = market.withdraw_stake(signer)
    emit(as_json, {"tx": receipt["tx"]}, "unbonded stake withdrawn")


@provider_group.command("status")
@click.argument("address", required=False, callback=address_arg)
@rpc_option
@signer_options
@json_option
@click.pass_context
@handle_errors
def provider_status(ctx: click.Context, address: str | None, rpc_url: str | None, keystore: Path | None, account: str | None,
                    as_json: bool) -> None:
    """Show a provider's stake, locked collateral, unbonding, earnings and NRS.

    \b
    Example:
      ngx-zk provider status 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
    """
    market = connect(ctx, rpc_url)
    who = address or get_signer(ctx, market.chain, keystore, account).address
    info = market.provider(who)
    nrs, _ = market.nrs(who)
    data = {"provider": who, **{k: v for k, v in info.items() if k != "encryption_pubkey"}, "nrs": nrs,
            "claimable": market.claimable(who), "balance": market.balance(who)}
    emit(as_json, data, f"provider {who}: {'registered' if info['registered'] else 'NOT registered'}\n"
         f"  stake {fmt_ngx(info['staked'])} (locked {fmt_ngx(info['locked'])}, unbonding {fmt_ngx(info['unbonding'])})\n"
         f"  earnings to withdraw {fmt_ngx(data['claimable'])}, wallet {fmt_ngx(data['balance'])}\n  NRS {nrs}")


# --- consumer ---------------------------------------------------------------------------------------
@main.command("prove-job")
@click.argument("model")
@click.option("--input", "input_file", required=True, type=click.Path(path_type=Path), help="Input JSON (plain; a fresh salt is drawn).")
@click.option("--price", default="10", show_default=True, help="Price in NGX, escrowed until the proof settles.")
@click.option("--claim-window", type=click.IntRange(1, None), default=300, show_default=True, help="Seconds a provider has to claim.")
@click.option("--prove-window", type=click.IntRange(1, None), default=600, show_default=True, help="Seconds the provider has to prove after claiming.")
@click.option("--min-reputation", type=click.IntRange(0, 100), default=0, show_default=True, help="Minimum provider NRS.")
@click.option("--approve", "use_approve", is_flag=True, help="Escrow with an approve transaction instead of an EIP-2612 permit.")
@click.option("--private", is_flag=True, help="Require a model with hashed outputs: the output reaches you sealed, never on chain.")
@click.option("--provider", "offer_to", metavar="ADDRESS", callback=address_arg,
              help="Offer the job to this provider: its endpoint gets the sealed input at once and proves while it claims.")
@click.option("--no-wait", is_flag=True, help="Post and return the job id; follow it later with `ngx-zk job wait ID`.")
@click.option("--timeout", type=float, help="Give up waiting after this many seconds (the job stays on chain).")
@click.option("--poll", "poll_s", type=click.FloatRange(0.01, 60), default=0.25, show_default=True,
              help="Seconds between looks at the chain while waiting.")
@rpc_option
@signer_options
@json_option
@click.pass_context
@handle_errors
def prove_job(ctx: click.Context, model: str, input_file: Path, price: str, claim_window: int, prove_window: int,
              min_reputation: int, use_approve: bool, private: bool, offer_to: str | None, no_wait: bool, timeout: float | None,
              poll_s: float, rpc_url: str | None, keystore: Path | None, account: str | None, as_json: bool) -> None:
    """Post a job for MODEL on an input, pay into escrow, and get back a verified output.

    Commits to the input with a fresh secret salt, escrows the price, delivers the input encrypted
    to the provider that claims the job, waits until the job settles (or expires: then it is
    refunded), and re-verifies the proof before printing the output.

    Inputs never travel in the clear: they go sealed to the provider, through its endpoint or as an
    encrypted on-chain payload. With --private (a model built with hashed outputs) the output too
    stays off chain: only its Poseidon hash is public, and the provider hands it over sealed.

    With --provider the job is offered to a provider you pick (one with an endpoint) before it is
    posted: that worker gets the sealed input and proves while the job is posted and claimed, which
    takes the chain round trips off the job's latency. Any provider may still claim first; the input
    then goes to whoever claims.

    \b
    Example:
      ngx-zk prove-job mlp --input models/mlp/input.json --price 10 --account consumer
      ngx-zk prove-job mlp_private --private --input models/mlp/input.json --account consumer
      ngx-zk prove-job mlp --input models/mlp/input.json --account consumer --provider 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
    """
    settings = settings_from(ctx)
    circuit = load_circuit(model, settings)
    if private:
        require_private(circuit)
    warn_insecure(circuit, as_json)
    data = load_input(input_file, circuit.manifest)
    market = connect(ctx, rpc_url)
    signer = get_signer(ctx, market.chain, keystore, account)
    def note(text: str) -> None:
        if not as_json:
            console.stderr().print(text)

    record = post_job(settings, market, signer, circuit, data, price=parse_ngx(price), claim_window=claim_window,
                      prove_window=prove_window, min_reputation=min_reputation, permit=not use_approve, offer_to=offer_to,
                      progress=note)
    note(f"posted job {record.job_id} (tx {record.post_tx}); {price} NGX in escrow")
    if no_wait:
        emit(as_json, {"job_id": record.job_id, "post_tx": record.post_tx, "commitments": record.commitments},
             f"job {record.job_id} posted; follow it with: ngx-zk job wait {record.job_id}")
        return
    _wait_and_report(ctx, market, signer, circuit, record, timeout, as_json, poll_s)


def _wait_and_report(ctx: click.Context, market: Any, signer: Any, circuit: Any, record: JobRecord, timeout: float | None,
                     as_json: bool, poll_s: float | None = None) -> None:
    settings = settings_from(ctx)
    with console.progress(f"job {record.job_id}", quiet=as_json) as step:
        result = wait_for_result(settings, market, signer, circuit, record, progress=step, timeout_s=timeout, poll_s=poll_s)
    data = {**result.__dict__, "status": result.status.value, "outputs": list(result.outputs), "model": circuit.name}
    if result.status.value != "Settled":
        emit(as_json, data, f"job {result.job_id} ended {result.status.value}: {fmt_ngx(result.refund)} refunded "
             "to your balance in the market (ngx-zk withdraw)")
        ctx.exit(1)
    emit(as_json, data,
         f"job {result.job_id} settled in {result.seconds:.1f}s: proof verified on chain and locally\n"
         f"  output   {list(result.outputs)}\n  provider {result.provider}\n  paid     {fmt_ngx(result.price)}\n"
         + "\n".join(f"  tx {k:<8} {v}" for k, v in result.tx.items()))


@main.group("job")
def job_group() -> None:
    """Follow a job: show its state, or wait for it (delivering the input once claimed).

    \b
    Example:
      ngx-zk job show 1 && ngx-zk job wait 1 --account consumer
    """


@job_group.command("show")
@click.argument("job_id", type=int)
@rpc_option
@json_option
@click.pass_context
@handle_errors
def job_show(ctx: click.Context, job_id: int, rpc_url: str | None, as_json: bool) -> None:
    """Show a job's state on chain.

    \b
    Example:
      ngx-zk job show 1 --json
    """
    market = connect(ctx, rpc_url)
    job = market.job(job_id)
    data = {**job.__dict__, "status": job.status.value, "commitments_hash": "0x" + job.commitments_hash.hex()}
    if job.status.value == "Settled":
        data["outputs"] = [str(v) for v in market.outputs(job_id)]
    emit(as_json, data, f"job {job_id}: {job.status.value}, model {job.model_id}, price {fmt_ngx(job.price)}, "
         f"consumer {job.consumer}, provider {job.provider or '-'}")


@job_group.command("wait")
@click.argument("job_id", type=int)
@click.option("--timeout", type=float, help="Give up waiting after this many seconds.")
@rpc_option
@signer_options
@json_option
@click.pass_context
@handle_errors
def job_wait(ctx: click.Context, job_id: int, timeout: float | None, rpc_url: str | None, keystore: Path | None,
             account: str | None, as_json: bool) -> None:
    """Wait for one of your jobs to settle, delivering its input once claimed.

    \b
    Example:
      ngx-zk job wait 3 --account consumer
    """
    settings = settings_from(ctx)
    market = connect(ctx, rpc_url)
    record = load_record(settings, market.chain.chain_id, job_id)
    if record is None:
        raise ChainError(f"no local record of job {job_id} on chain {market.chain.chain_id}",
                         "only the consumer who posted it (on this machine) holds its secret input")
    signer = get_signer(ctx, market.chain, keystore, account)
    _wait_and_report(ctx, market, signer, load_circuit(record.model, settings), record, timeout, as_json)


@main.command("jobs")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@rpc_option
@json_option
@click.pass_context
@handle_errors
def jobs_cmd(ctx: click.Context, limit: int, rpc_url: str | None, as_json: bool) -> None:
    """List the most recent jobs and their state.

    \b
    Example:
      ngx-zk jobs --limit 5
    """
    market = connect(ctx, rpc_url)
    count = market.job_count()
    jobs = [market.job(i) for i in range(count, max(count - limit, 0), -1)]
    rows = [{"job_id": j.job_id, "status": j.status.value, "model_id": j.model_id, "price": j.price, "provider": j.provider} for j in jobs]
    emit(as_json, {"jobs": rows}, "\n".join(
        f"{r['job_id']:>5}  {r['status']:<9} model {r['model_id']:<3} {fmt_ngx(r['price']):>12}  {r['provider'] or '-'}" for r in rows
    ) or "no jobs yet")


@main.command("withdraw")
@rpc_option
@signer_options
@json_option
@click.pass_context
@handle_errors
def withdraw_cmd(ctx: click.Context, rpc_url: str | None, keystore: Path | None, account: str | None, as_json: bool) -> None:
    """Withdraw what the market credited you: provider pay, royalties, refunds.

    \b
    Example:
      ngx-zk withdraw --account provider
    """
    market = connect(ctx, rpc_url)
    signer = get_signer(ctx, market.chain, keystore, account)
    amount = market.claimable(signer.address)
    if amount == 0:
        raise ChainError(f"nothing to withdraw for {signer.address}")
    receipt = market.withdraw(signer)
    emit(as_json, {"amount": amount, "tx": receipt["tx"]}, f"withdrew {fmt_ngx(amount)}")


@main.command("reputation")
@click.argument("address", required=False, callback=address_arg)
@rpc_option
@json_option
@click.pass_context
@handle_errors
def reputation_cmd(ctx: click.Context, address: str | None, rpc_url: str | None, as_json: bool) -> None:
    """Show NRS = 0.4 Performance + 0.3 Reliability + 0.2 Longevity + 0.1 Peer rating, per provider.

    Without ADDRESS, every registered provider is shown.

    \b
    Example:
      ngx-zk reputation 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
    """
    market = connect(ctx, rpc_url)
    who = [address] if address else market.providers()
    rows = []
    for addr in who:
        nrs, (perf, rel, lon, peer) = market.nrs(addr)
        rows.append({"provider": addr, "nrs": nrs, "performance": perf, "reliability": rel, "longevity": lon, "peer_rating": peer,
                     **market.facts(addr)})
    emit(as_json, {"providers": rows}, "\n".join(
        f"{r['provider']}  NRS {r['nrs']:>3}  (performance {r['performance']}, reliability {r['reliability']}, "
        f"longevity {r['longevity']}, peer {r['peer_rating']}; {r['completed']} completed, {r['missed']} missed)" for r in rows
    ) or "no providers registered")
