"""Marketplace commands: deploy, model publish, provider, prove-job, job(s), reputation, withdraw.

Each reaches the chain through :func:`._common.chain_command`: one RPC resolution order and one way
to find the signer for all of them (see :class:`._common.ChainAccess`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import console
from ..errors import ChainError
from ._common import (
    ChainAccess,
    address_arg,
    chain_command,
    check_output_file,
    emit,
    fmt_ngx,
    json_option,
    parse_ngx,
    warn_insecure,
)

if TYPE_CHECKING:
    from ..artifacts import Circuit
    from ..chain.market import Marketplace
    from ..chain.signer import Signer
    from ..consumer import JobRecord


# --- deploy ----------------------------------------------------------------------------------------
@click.command("deploy")
@click.option("--treasury", help="Treasury address (required on non-dev chains).")
@click.option("--guardian", help="Guardian address, who can pause (required on non-dev chains).")
@click.option("--ecosystem", help="Ecosystem allocation address (required on non-dev chains).")
@click.option("--team", help="Team vesting beneficiary (required on non-dev chains).")
@json_option
@chain_command(signer=True)
def deploy_cmd(
    access: ChainAccess, treasury: str | None, guardian: str | None, ecosystem: str | None, team: str | None, as_json: bool
) -> None:
    """Deploy and wire all marketplace contracts; write deployments/<chain id>.json.

    On the local dev chain (id 31337) the dev accounts take every role: the dev deployer signs
    (no key needed), and the consumer, provider and auditor accounts are funded with NGX from the
    ecosystem allocation. Elsewhere pass the four role addresses and a key (--keystore,
    NGX_ZK_KEYSTORE or NGX_ZK_PRIVATE_KEY).

    \b
    Example:
      ngx-zk deploy                       # on the running devnet
      ngx-zk deploy --rpc-url https://rollup.example --keystore deployer.json \\
          --treasury 0x.. --guardian 0x.. --ecosystem 0x.. --team 0x..
    """
    from ..chain import deployment, devnet

    chain = access.chain
    with console.progress(f"deploying to chain {chain.chain_id}", quiet=as_json) as step:
        if access.is_dev:
            if any((treasury, guardian, ecosystem, team, access.keystore)) or access.account not in (None, "deployer"):
                raise click.UsageError(
                    "on the dev chain the dev accounts take every role (the deployer signs): "
                    "--treasury/--guardian/--ecosystem/--team/--keystore/--account apply to other chains"
                )
            deployed = devnet.deploy_dev(access.settings, chain, progress=step).deployment
        else:
            if not (treasury and guardian and ecosystem and team):
                raise click.UsageError("on a non-dev chain pass --treasury, --guardian, --ecosystem and --team")
            deployed = deployment.deploy_all(
                chain, access.signer, deployment.Roles(treasury, guardian, ecosystem, team), dev=False, progress=step
            )
            deployment.save(access.settings, deployed)
    path = deployment.path_for(access.settings, chain.chain_id)
    emit(
        as_json,
        {"chain_id": chain.chain_id, "deployments": str(path), "contracts": deployed.contracts},
        f"deployed {len(deployed.contracts)} contracts on chain {chain.chain_id} -> {path}\n"
        + "\n".join(f"  {k:<22} {v}" for k, v in deployed.contracts.items()),
    )


# --- model publish -----------------------------------------------------------------------------------
@click.command("publish")
@click.argument("name")
@click.option(
    "--verifier",
    "kind",
    type=click.Choice(["auto", "dedicated", "reusable"]),
    default="auto",
    show_default=True,
    help="auto: a dedicated verifier if it fits EIP-170, else the shared reusable verifier.",
)
@click.option(
    "--royalty-bps", type=click.IntRange(0, 2000), default=0, show_default=True, help="Royalty per job to the model owner."
)
@click.option(
    "--bundle-uri",
    "--metadata-uri",
    "bundle_uri",
    default="",
    help="Where `ngx-zk model pull` fetches the model's bundle (file:// or https://; see `ngx-zk model bundle`).",
)
@click.option(
    "--allow-unsalted",
    is_flag=True,
    help="Publish even though inputs are unsalted (a guessable input can be confirmed from its commitment).",
)
@click.option(
    "--allow-private-output",
    is_flag=True,
    help="Publish even though the output is not in the proof (a provider may return any output).",
)
@json_option
@chain_command(signer=True)
def model_publish(
    access: ChainAccess,
    name: str,
    kind: str,
    royalty_bps: int,
    bundle_uri: str,
    allow_unsalted: bool,
    allow_private_output: bool,
    as_json: bool,
) -> None:
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
      NGX_ZK_KEYSTORE=owner.json ngx-zk model publish mlp --rpc-url https://rollup.example
    """
    from ..circuit import load_circuit
    from ..publish import publish, publish_warnings
    from .models import report_publish

    settings = access.settings
    circuit = load_circuit(name, settings)
    publish_warnings(
        circuit, allow_unsalted=allow_unsalted, allow_private_output=allow_private_output
    )  # refuse before any chain work
    market, signer = access.market, access.signer
    with console.progress(f"publishing {name}", quiet=as_json) as step:
        published = publish(
            settings,
            market,
            signer,
            circuit,
            kind=kind,
            royalty_bps=royalty_bps,
            metadata_uri=bundle_uri,
            allow_unsalted=allow_unsalted,
            allow_private_output=allow_private_output,
            progress=step,
        )
    data = {**published.__dict__, "kind": published.kind.name.lower(), "chain_id": market.chain.chain_id}
    report_publish(published)  # on stderr, with --json too: what an allowance gives up must not go unseen
    emit(
        as_json,
        data,
        f"{'already published' if published.already_published else 'published'} {name} as model "
        f"{published.model_id} on chain {market.chain.chain_id} ({data['kind']} verifier {published.verifier}, "
        f"code hash {published.verifier_code_hash})",
    )


# --- provider ---------------------------------------------------------------------------------------
@click.command("register")
@click.option("--endpoint", default="", help="URI where consumers reach this provider (optional).")
@json_option
@chain_command(signer=True)
def provider_register(access: ChainAccess, endpoint: str, as_json: bool) -> None:
    """Register as a provider with an X25519 encryption key derived from the signing key.

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
    receipt = market.register_provider(signer, pub, endpoint)
    emit(
        as_json,
        {"provider": signer.address, "encryption_pubkey": "0x" + pub.hex(), "tx": receipt.tx},
        f"registered provider {signer.address} (encryption key 0x{pub.hex()[:16]}...)",
    )


@click.command("stake")
@click.argument("amount")
@json_option
@chain_command(signer=True)
def provider_stake(access: ChainAccess, amount: str, as_json: bool) -> None:
    """Stake AMOUNT NGX (approves the staking contract as needed).

    \b
    Example:
      ngx-zk provider stake 5000 --account provider
    """
    wei = parse_ngx(amount)
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
def provider_unstake(access: ChainAccess, amount: str, as_json: bool) -> None:
    """Request to unstake AMOUNT NGX; withdraw it after the unbonding delay with `provider withdraw`.

    \b
    Example:
      ngx-zk provider unstake 1000 --account provider
    """
    wei = parse_ngx(amount)
    market, signer = access.market, access.signer
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
def provider_withdraw(access: ChainAccess, as_json: bool) -> None:
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
def provider_status(access: ChainAccess, address: str | None, as_json: bool) -> None:
    """Show a provider's stake, locked collateral, unbonding, earnings and NRS.

    \b
    Example:
      ngx-zk provider status 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
    """
    market = access.market
    who = address or access.signer.address
    info = market.provider(who)
    nrs, _ = market.nrs(who)
    claimable, balance = market.claimable(who), market.balance(who)
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
        f"  earnings to withdraw {fmt_ngx(claimable)}, wallet {fmt_ngx(balance)}\n  NRS {nrs}"
        + (
            f"\n  fleet: {fleet['nodes']} nodes, queue {fleet['queue']}, proofs per node {fleet['proofs_per_node']}, "
            f"node failures {sum(fleet['node_failures'].values())}"
            if fleet
            else ""
        ),
    )


# --- consumer ---------------------------------------------------------------------------------------
@click.command("prove-job")
@click.argument("model")
@click.option("--input", "input_file", type=click.Path(path_type=Path), help="Input JSON (plain; a fresh salt is drawn).")
@click.option(
    "--inputs",
    "inputs_file",
    type=click.Path(path_type=Path),
    help="A batch job: JSON Lines, one input object per line; proved together by the model's circuit for that many inputs.",
)
@click.option("--price", default=None, help="Price in NGX, escrowed until the proof settles.  [default: 10]")
@click.option(
    "--min-price",
    help="An auction: the price starts here and rises to --max-price over --ramp seconds; the first claim locks it.",
)
@click.option("--max-price", help="An auction's highest price (escrowed; what a claim does not lock comes back).")
@click.option("--ramp", type=click.IntRange(1, None), help="An auction: seconds the price takes from --min-price to --max-price.")
@click.option(
    "--ramp-delay",
    type=click.IntRange(0, None),
    default=0,
    show_default=True,
    help="An auction: seconds after posting during which the price stays at --min-price.",
)
@click.option(
    "--claim-window", type=click.IntRange(1, None), default=300, show_default=True, help="Seconds a provider has to claim."
)
@click.option(
    "--prove-window",
    type=click.IntRange(1, None),
    default=600,
    show_default=True,
    help="Seconds the provider has to prove after claiming.",
)
@click.option("--min-reputation", type=click.IntRange(0, 100), default=0, show_default=True, help="Minimum provider NRS.")
@click.option("--approve", "use_approve", is_flag=True, help="Escrow with an approve transaction instead of an EIP-2612 permit.")
@click.option(
    "--private", is_flag=True, help="Require a model with hashed outputs: the output reaches you sealed, never on chain."
)
@click.option(
    "--provider",
    "offer_to",
    metavar="ADDRESS",
    callback=address_arg,
    help="Offer the job to this provider: its endpoint gets the sealed input at once and proves while it claims.",
)
@click.option(
    "--gasless",
    is_flag=True,
    help="Send no transaction: sign an order and a permit; the --provider posts and claims the job in one transaction it pays for.",
)
@click.option("--no-wait", is_flag=True, help="Post and return the job id; follow it later with `ngx-zk job wait ID`.")
@click.option("--timeout", type=float, help="Give up waiting after this many seconds (the job stays on chain).")
@click.option(
    "--poll",
    "poll_s",
    type=click.FloatRange(0.01, 60),
    default=0.25,
    show_default=True,
    help="Seconds between looks at the chain while waiting.",
)
@json_option
@chain_command(signer=True)
def prove_job(
    access: ChainAccess,
    model: str,
    input_file: Path | None,
    inputs_file: Path | None,
    price: str | None,
    min_price: str | None,
    max_price: str | None,
    ramp: int | None,
    ramp_delay: int,
    claim_window: int,
    prove_window: int,
    min_reputation: int,
    use_approve: bool,
    private: bool,
    offer_to: str | None,
    gasless: bool,
    no_wait: bool,
    timeout: float | None,
    poll_s: float,
    as_json: bool,
) -> None:
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

    With --gasless (and --provider) you need NGX but no ETH: you sign an order (EIP-712) and a permit
    of the escrow (EIP-2612), the provider's endpoint gets them with the sealed input, and the provider
    posts the job in your name and claims it in one transaction it pays for. An order unfilled after
    two minutes is void and costs nothing. A missed job is expired by others (workers do it for the
    second-prover bounty), since expiring takes gas.

    With --inputs FILE.jsonl (one input per line) the job carries all of them and settles with one
    proof: MODEL must have a published batch circuit for that many inputs (`model build --batch N`).
    Each input gets its own salt and commitment; one verified output is printed per input.

    With --min-price, --max-price and --ramp the job is a reverse Dutch auction: its price starts at
    --min-price and rises to --max-price over --ramp seconds (after --ramp-delay); the first provider
    whose own floor it reaches claims it and locks that price. The maximum is escrowed and the rest
    comes back at the claim. If the provider that claims misses its prove deadline it is slashed and
    the job reopens once for a second prover (paid a bounty from that slash); only if nobody finishes
    is the price refunded.

    \b
    Example:
      ngx-zk prove-job mlp --input models/mlp/input.json --price 10 --account consumer
      ngx-zk prove-job mlp --inputs models/mlp/batch4.jsonl --price 20 --account consumer
      ngx-zk prove-job mlp_private --private --input models/mlp/input.json --account consumer
      ngx-zk prove-job mlp --input models/mlp/input.json --account consumer --provider 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
      ngx-zk prove-job mlp --input models/mlp/input.json --account consumer --min-price 2 --max-price 10 --ramp 120
      ngx-zk prove-job mlp --input models/mlp/input.json --gasless --provider 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
    """
    from ..circuit import batch_job, load_circuit
    from ..consumer import post_job, require_private
    from ..inputs import load as load_input
    from ..inputs import read_lines

    if (input_file is None) == (inputs_file is None):
        raise click.UsageError("give one of --input FILE.json (one input) or --inputs FILE.jsonl (a batch job)")
    if gasless and offer_to is None:
        raise click.UsageError("--gasless needs --provider ADDRESS: the provider whose endpoint takes and fills the order")
    if gasless and (use_approve or inputs_file is not None):
        raise click.UsageError("--gasless sends no transaction (no --approve) and carries one input (no --inputs)")
    wei, low = _job_price(price, min_price, max_price, ramp, claim_window, ramp_delay)
    settings = access.settings
    if inputs_file is not None:
        circuit, data = batch_job(
            model, read_lines(inputs_file), settings, published=set(access.market.deployment.models), source=str(inputs_file)
        )
    else:
        assert input_file is not None
        circuit = load_circuit(model, settings)
        if circuit.manifest.batch > 1:
            raise click.UsageError(
                f"{circuit.name} proves {circuit.manifest.batch} inputs per job: pass them with --inputs FILE.jsonl"
            )
        data = load_input(input_file, circuit.manifest)
    if private:
        require_private(circuit)
    warn_insecure(circuit, as_json)
    market, signer = access.market, access.signer

    def note(text: str) -> None:
        if not as_json:
            console.stderr().print(text)

    record = post_job(
        settings,
        market,
        signer,
        circuit,
        data,
        price=wei,
        claim_window=claim_window,
        prove_window=prove_window,
        min_reputation=min_reputation,
        permit=not use_approve,
        offer_to=offer_to,
        progress=note,
        min_price=low,
        ramp=ramp or 0,
        ramp_delay=ramp_delay,
        gasless=gasless,
    )
    auction = f" (auction: {fmt_ngx(low)} rising to {fmt_ngx(wei)} over {ramp}s)" if low is not None else ""
    if gasless:
        note(f"{record.offered_to} filled your order: job {record.job_id} (tx {record.post_tx}); you sent no transaction")
    else:
        note(f"posted job {record.job_id} (tx {record.post_tx}); {fmt_ngx(wei)} in escrow{auction}")
    if no_wait:
        emit(
            as_json,
            {"job_id": record.job_id, "post_tx": record.post_tx, "commitments": record.commitments},
            f"job {record.job_id} posted; follow it with: ngx-zk job wait {record.job_id}",
        )
        return
    _wait_and_report(access, market, signer, circuit, record, timeout, as_json, poll_s)


def _job_price(
    price: str | None, min_price: str | None, max_price: str | None, ramp: int | None, claim_window: int, ramp_delay: int
) -> tuple[int, int | None]:
    """(escrowed price, auction start price or None) from prove-job's price options, checked before any work."""
    auction = (min_price, max_price, ramp)
    if all(v is None for v in auction):
        if ramp_delay:
            raise click.UsageError("--ramp-delay belongs to an auction: give --min-price, --max-price and --ramp too")
        return parse_ngx(price or "10"), None
    if price is not None:
        raise click.UsageError("give either --price (a fixed price) or --min-price/--max-price/--ramp (an auction), not both")
    if any(v is None for v in auction):
        raise click.UsageError("an auction needs all of --min-price, --max-price and --ramp")
    assert min_price is not None and max_price is not None and ramp is not None
    low, high = parse_ngx(min_price), parse_ngx(max_price)
    if not 0 < low < high:
        raise click.BadParameter(
            f"the price must rise: --min-price {min_price} must be above 0 and below --max-price {max_price}",
            param_hint="--min-price",
        )
    if ramp_delay + ramp > claim_window:
        raise click.BadParameter(
            f"the ramp ({ramp_delay}s delay + {ramp}s) must end within the claim window ({claim_window}s)", param_hint="--ramp"
        )
    return high, low


def _wait_and_report(
    access: ChainAccess,
    market: Marketplace,
    signer: Signer,
    circuit: Circuit,
    record: JobRecord,
    timeout: float | None,
    as_json: bool,
    poll_s: float | None = None,
) -> None:
    from ..consumer import wait_for_result

    settings = access.settings
    with console.progress(f"job {record.job_id}", quiet=as_json) as step:
        result = wait_for_result(settings, market, signer, circuit, record, progress=step, timeout_s=timeout, poll_s=poll_s)
    batch = circuit.manifest.batch
    data = {
        **{k: v for k, v in result.__dict__.items() if k != "by_input"},
        "status": result.status.value,
        "model": circuit.name,
        "batch": batch,
        "outputs": [list(o) for o in result.by_input] if batch > 1 else list(result.outputs),
    }
    if result.status.value != "Settled":
        emit(
            as_json,
            data,
            f"job {result.job_id} ended {result.status.value}: {fmt_ngx(result.refund)} refunded "
            "to your balance in the market (ngx-zk withdraw)",
        )
        raise click.exceptions.Exit(1)
    emit(
        as_json,
        data,
        f"job {result.job_id} settled in {result.seconds:.1f}s: proof verified on chain and locally\n"
        + (
            "".join(f"  output {k + 1:<3} {out}\n" for k, out in enumerate(data["outputs"]))
            if batch > 1
            else f"  output   {list(result.outputs)}\n"
        )
        + f"  provider {result.provider}\n  paid     {fmt_ngx(result.price)}"
        + (f" ({fmt_ngx(result.refund)} of the escrow came back)" if result.refund else "")
        + "\n"
        + "\n".join(f"  tx {k:<8} {v}" for k, v in result.tx.items()),
    )


@click.command("show")
@click.argument("job_id", type=int)
@json_option
@chain_command(signer=False)
def job_show(access: ChainAccess, job_id: int, as_json: bool) -> None:
    """Show a job's state on chain.

    \b
    Example:
      ngx-zk job show 1 --json
    """
    market = access.market
    job = market.job(job_id)
    data = {**job.__dict__, "status": job.status.value, "commitments_hash": "0x" + job.commitments_hash.hex()}
    if job.status.value == "Settled":
        data["outputs"] = [str(v) for v in market.outputs(job_id)]
    extras = market.job_extras(job_id) if job.auction or job.reopened or job.has_deliverer else None
    lines = []
    if extras is not None:
        data["extras"] = extras.__dict__
        if job.auction:
            now = market.chain.timestamp()
            data["price_now"] = market.price_at(job_id, now)
            lines.append(
                f"  auction: {fmt_ngx(extras.min_price)} rising to {fmt_ngx(job.price)} from chain time "
                f"{extras.ramp_start} over {extras.ramp_length}s; a claim now locks {fmt_ngx(data['price_now'])}"
            )
        if extras.deliverer:
            lines.append(f"  deliverer: {extras.deliverer} (may hand over the input)")
        if extras.missed_by:
            lines.append(f"  reopened: {extras.missed_by} missed it; bounty for the second prover {fmt_ngx(extras.bounty)}")
    if job.callback_gas_limit:
        lines.append(f"  callback: {job.consumer}.onInferenceResult with {job.callback_gas_limit:,} gas at settlement")
    emit(
        as_json,
        data,
        "\n".join(
            [
                f"job {job_id}: {job.status.value}, model {job.model_id}, price {fmt_ngx(job.price)}, "
                f"consumer {job.consumer}, provider {job.provider or '-'}",
                *lines,
            ]
        ),
    )


@click.command("wait")
@click.argument("job_id", type=int)
@click.option("--timeout", type=float, help="Give up waiting after this many seconds.")
@json_option
@chain_command(signer=True)
def job_wait(access: ChainAccess, job_id: int, timeout: float | None, as_json: bool) -> None:
    """Wait for one of your jobs to settle, delivering its input once claimed.

    \b
    Example:
      ngx-zk job wait 3 --account consumer
    """
    from ..circuit import load_circuit
    from ..consumer import load_record

    settings, market = access.settings, access.market
    record = load_record(settings, market.chain.chain_id, job_id)
    if record is None:
        raise ChainError(
            f"no local record of job {job_id} on chain {market.chain.chain_id}",
            "only the consumer who posted it (on this machine) holds its secret input",
        )
    _wait_and_report(access, market, access.signer, load_circuit(record.model, settings), record, timeout, as_json)


@click.command("deliver")
@click.argument("job_id", type=int)
@click.option(
    "--input",
    "input_file",
    type=click.Path(path_type=Path),
    required=True,
    help="The salted input whose commitments the contract posted (from `ngx-zk commit --out`).",
)
@click.option("--model", "model", required=True, help="The circuit the job was posted for.")
@click.option("--timeout", type=float, help="Give up waiting after this many seconds (the job stays on chain).")
@json_option
@chain_command(signer=True)
def job_deliver(access: ChainAccess, job_id: int, input_file: Path, model: str, timeout: float | None, as_json: bool) -> None:
    """Hand over the input of a job a contract consumer posted, naming you its deliverer.

    A contract cannot keep a secret input: it posts the commitments of an input held by a party it
    trusts (a borrower, an oracle), named as the job's deliverer. This command checks the salted
    input opens the job's posted commitments, hands it sealed to whoever claims the job (as
    prove-job does), waits for the settlement, and re-verifies the proof. The contract receives
    the verified output through its callback; you see it here too.

    \b
    Example:
      ngx-zk commit features.json --model credit --out salted.json     # post its commitments via the contract
      ngx-zk job deliver 7 --input salted.json --model credit --account borrower
    """
    from ..circuit import load_circuit
    from ..consumer import adopt_as_deliverer
    from ..inputs import load as load_input

    settings, market = access.settings, access.market
    circuit = load_circuit(model, settings)
    salted = load_input(input_file, circuit.manifest)
    record = adopt_as_deliverer(settings, market, access.signer, circuit, job_id, salted)
    if not as_json:
        console.stderr().print(
            f"job {job_id} (consumer {record.consumer}): the input opens its commitments; delivering it sealed to whoever claims"
        )
    _wait_and_report(access, market, access.signer, circuit, record, timeout, as_json)


@click.command("disclose")
@click.argument("job_id", type=int)
@click.option(
    "--inference",
    "number",
    type=click.IntRange(1, None),
    default=1,
    show_default=True,
    help="Which input of a batch job (1 = the first line of the --inputs file).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The disclosure JSON to write.")
@json_option
@chain_command(signer=False)
def job_disclose(access: ChainAccess, job_id: int, number: int, out: Path, as_json: bool) -> None:
    """Write a file that shows one inference of your settled job to a third party.

    The file holds that inference's input, its salt and its proven output: anyone with the model's
    circuit checks it against the chain (`ngx-zk verify --disclosure FILE --model NAME`). The job's
    other inputs stay hidden behind their own salted commitments. Reads the secret job record this
    machine kept when it posted the job.

    \b
    Example:
      ngx-zk job disclose 4 --inference 2 --out job4-input2.json
      ngx-zk verify --disclosure job4-input2.json --model mlp_b4
    """
    from ..circuit import load_circuit
    from ..consumer import load_record
    from ..disclosure import disclose
    from ..files import write_private

    settings, market = access.settings, access.market
    record = load_record(settings, market.chain.chain_id, job_id)
    if record is None:
        raise ChainError(
            f"no local record of job {job_id} on chain {market.chain.chain_id}",
            "only the consumer who posted it (on this machine) holds its salted input",
        )
    circuit = load_circuit(record.model, settings)
    check_output_file(out)
    d = disclose(market, circuit, job_id, record.salted_input, number - 1, record.output_felts)
    write_private(out, (json.dumps(d.to_json(), indent=2) + "\n").encode())  # it holds an input and its salt
    emit(
        as_json,
        {"job_id": job_id, "inference": number, "out": str(out), "model": circuit.name},
        f"wrote {out}: inference {number} of job {job_id} ({circuit.name}); check it with:\n"
        f"  ngx-zk verify --disclosure {out} --model {circuit.name}",
    )


@click.command("jobs")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
@chain_command(signer=False)
def jobs_cmd(access: ChainAccess, limit: int, as_json: bool) -> None:
    """List the most recent jobs and their state.

    \b
    Example:
      ngx-zk jobs --limit 5
    """
    market = access.market
    count = market.job_count()
    jobs = [market.job(i) for i in range(count, max(count - limit, 0), -1)]
    rows = [
        {"job_id": j.job_id, "status": j.status.value, "model_id": j.model_id, "price": j.price, "provider": j.provider}
        for j in jobs
    ]
    emit(
        as_json,
        {"jobs": rows},
        "\n".join(
            f"{j.job_id:>5}  {j.status.value:<9} model {j.model_id:<3} {fmt_ngx(j.price):>12}  {j.provider or '-'}" for j in jobs
        )
        or "no jobs yet",
    )


@click.command("withdraw")
@json_option
@chain_command(signer=True)
def withdraw_cmd(access: ChainAccess, as_json: bool) -> None:
    """Withdraw what the market credited you: provider pay, royalties, refunds.

    \b
    Example:
      ngx-zk withdraw --account provider
    """
    market, signer = access.market, access.signer
    amount = market.claimable(signer.address)
    if amount == 0:
        raise ChainError(f"nothing to withdraw for {signer.address}")
    receipt = market.withdraw(signer)
    emit(as_json, {"amount": amount, "tx": receipt.tx}, f"withdrew {fmt_ngx(amount)}")


@click.command("reputation")
@click.argument("address", required=False, callback=address_arg)
@json_option
@chain_command(signer=False)
def reputation_cmd(access: ChainAccess, address: str | None, as_json: bool) -> None:
    """Show NRS = 0.4 Performance + 0.3 Reliability + 0.2 Longevity + 0.1 Peer rating, per provider.

    Without ADDRESS, every registered provider is shown.

    \b
    Example:
      ngx-zk reputation 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
    """
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
