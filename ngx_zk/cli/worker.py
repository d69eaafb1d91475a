"""The provider's daemon: ``ngx-zk worker``."""

from __future__ import annotations

import functools
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import console

if TYPE_CHECKING:
    from ..chain.fees import FeeModel
    from ..chain.market import Marketplace
from ._common import Client, chain_command, check_output_file, emit, json_option, parse_ngx


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"{text!r} is not HOST:PORT", param_hint="--listen")
    return host or "127.0.0.1", int(port)


RAY_CONNECT_TIMEOUT_S = 5.0
"""How long the Ray head at ``--ray HOST:PORT`` may take to answer: ray.init itself retries without end."""
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
"""A gRPC client's first bytes (the connection preface and an empty SETTINGS frame); a gRPC server,
as Ray's GCS is, answers with a SETTINGS frame (type 4) of its own."""


def _check_ray_address(address: str) -> None:
    """Refuse, in bounded time, a --ray address where no gRPC server (a Ray head) answers
    (``auto`` starts a local cluster if none runs)."""
    from ..errors import ConfigError

    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{address!r} is not HOST:PORT (or ray://HOST:PORT, or auto)", param_hint="--ray")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_TIMEOUT_S) as conn:
            conn.sendall(HTTP2_PREFACE)
            head = conn.recv(9)
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
    else:
        if len(head) >= 4 and head[3] == 4:
            return
        why = "it does not speak gRPC"
    raise ConfigError(
        f"no Ray cluster answers at {address} ({why})",
        "start one with `ray start --head` and pass the address it prints, or pass --ray auto",
    )


def _min_prices(values: tuple[str, ...]) -> tuple[int, dict[str, int]]:
    """``--min-price 2 --min-price mlp=5`` -> (2 NGX in wei, {"mlp": 5 NGX in wei})."""
    floor, by_name = 0, {}
    for text in values:
        name, equals, amount = text.rpartition("=")
        if equals and not name.strip():
            raise click.BadParameter(f"{text!r} names no model before '='", param_hint="--min-price")
        try:
            wei = parse_ngx(amount)
        except click.BadParameter as exc:
            raise click.BadParameter(f"{text!r}: {exc.message}", param_hint="--min-price") from None
        if name:
            by_name[name] = wei
        else:
            floor = wei
    return floor, by_name


def _ngx_option(text: str, option: str) -> int:
    """An NGX amount given to ``option``, in base units (a bad one names the option)."""
    try:
        return parse_ngx(text)
    except click.BadParameter as exc:
        raise click.BadParameter(exc.message, param_hint=option) from None


def _gwei_option(text: str | None, option: str) -> int | None:
    """A fee in gwei given to ``option`` (or its variable), in wei; None when not given."""
    from ..chain.fees import parse_gwei
    from ..errors import ConfigError

    if text is None or not text.strip():
        return None
    try:
        return parse_gwei(text, option)
    except ConfigError as exc:
        raise click.BadParameter(f"{text!r} is not a positive number of gwei (e.g. {option} 50)", param_hint=option) from exc


def _apply_fee_terms(market: Marketplace, fee_cap: int | None, tip_cap: int | None, ngx_per_eth: int) -> FeeModel | None:
    """Set the operator's fee caps on the chain (over NGX_ZK_MAX_*_GWEI); the fee model when transactions are priced."""
    from ..chain.fees import FeeModel

    chain = market.chain
    if fee_cap is not None:
        chain.max_fee_per_gas = fee_cap
    if tip_cap is not None:
        chain.max_priority_fee_per_gas = tip_cap
    fee, tip = chain.max_fee_per_gas, chain.max_priority_fee_per_gas
    if fee is not None and tip is not None and tip > fee:
        raise click.BadParameter(
            f"the tip cap ({tip / 10**9:g} gwei) is above the fee cap ({fee / 10**9:g} gwei): lower it",
            param_hint="--max-priority-fee-gwei",
        )
    return FeeModel(chain) if ngx_per_eth else None


@click.command("worker")
@click.option("--model", "models", multiple=True, required=True, help="A built and published circuit to serve (repeatable).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True, help="Jobs proved at the same time.")
@click.option("--max-jobs", type=click.IntRange(1, None), help="Exit after finishing this many jobs.")
@click.option("--burst", is_flag=True, help="Process what is there, then exit.")
@click.option(
    "--poll",
    "poll_s",
    type=click.FloatRange(0.05, 60),
    default=0.25,
    show_default=True,
    help="Seconds between chain polls (new blocks also wake the worker, when the node has a WebSocket).",
)
@click.option("--metrics-port", type=click.IntRange(0, 65535), help="Serve Prometheus metrics on 127.0.0.1:PORT/metrics.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON-lines logs here instead of stderr.")
@click.option(
    "--listen", metavar="HOST:PORT", help="Serve the data-plane endpoint (register it with `provider register --endpoint`)."
)
@click.option(
    "--offers/--no-offers",
    default=True,
    show_default=True,
    help="With --listen: take jobs offered before they are posted (`prove-job --provider`) and prove them at once.",
)
@click.option(
    "--min-price",
    "min_prices",
    multiple=True,
    metavar="[MODEL=]NGX",
    help="Claim no job paying less (all models, or one model with MODEL=NGX; repeatable).",
)
@click.option(
    "--price-per-second",
    metavar="NGX",
    default="0",
    show_default=True,
    help="Claim no job paying less than this per second of proving, as measured on this machine (a floor next to --min-price).",
)
@click.option(
    "--max-callback-gas",
    type=click.IntRange(0, 2_000_000),
    default=500_000,
    show_default=True,
    help="Claim no job whose contract consumer asks for a larger callback gas limit (the provider pays that gas).",
)
@click.option(
    "--price-per-gas",
    metavar="NGX",
    default="0",
    show_default=True,
    help="NGX per unit of the consumer's callback gas limit, added to the price floor (the provider pays that gas in "
    "its settlement; 0: callback gas unpriced, --max-callback-gas still caps it).",
)
@click.option(
    "--max-fee-gwei",
    metavar="GWEI",
    help="Never offer more than this maxFeePerGas (first try and fee-bumped replacements of a stuck transaction). "
    "While the base fee is above it nothing is sent: the worker waits and logs it once; a claimed job whose prove "
    "deadline comes first is given back, above the cap, only if that costs less than its slash. "
    "Default: NGX_ZK_MAX_FEE_GWEI, else no cap (replacements up to 4x the first fee).",
)
@click.option(
    "--max-priority-fee-gwei",
    metavar="GWEI",
    help="Never offer a larger tip (maxPriorityFeePerGas). Default: NGX_ZK_MAX_PRIORITY_FEE_GWEI, else the node's suggestion.",
)
@click.option(
    "--ngx-per-eth",
    metavar="NGX",
    default="0",
    show_default=True,
    help="What 1 unit of the chain's gas token (ETH) is worth in NGX to you: the price floor then adds what a job's "
    "claim and submission cost now (L2 gas at the next block's fee and, on an OP-stack chain, the L1 data fee from the "
    "GasPriceOracle predeploy). 0: transaction costs are not in the floor.",
)
@click.option("--max-claimed", type=click.IntRange(1, None), help="Hold at most this many claimed, unfinished jobs at once.")
@click.option(
    "--max-fresh-jobs",
    type=click.IntRange(0, None),
    default=2,  # worker.policy.DEFAULT_MAX_FRESH_JOBS (tests/test_eligibility.py checks); not imported: lazy CLI
    show_default=True,
    help="Hold at most this many jobs at once of consumers with no rewarded paid history (a swarm of new addresses "
    "with junk inputs ties up no more; 0: take none of theirs).",
)
@click.option(
    "--max-fresh-collateral",
    metavar="NGX",
    help="Lock at most this much collateral at once in jobs of consumers with no rewarded paid history (default: no cap).",
)
@click.option(
    "--expire-overdue/--no-expire-overdue",
    default=True,
    show_default=True,
    help="Expire other providers' claims past their prove deadline (the job reopens with a bounty this worker may earn).",
)
@click.option(
    "--claim-spread/--no-claim-spread",
    default=True,
    show_default=True,
    help="Claim a new job at once only if this provider ranks among the first 2 for it (keccak of the job id, its "
    "salted commitments and the address, among registered providers), else wait 2 s per doubling of rank and look "
    "again (under 20 s among 1,000 providers): about 2 claims race per job however many providers there are; a lone "
    "provider, or one holding the job's offered or uploaded input, claims at once.",
)
@click.option(
    "--min-consumer-score",
    type=click.IntRange(0, 100),
    default=60,  # worker.policy.DEFAULT_MIN_CONSUMER_SCORE (tests/test_policy.py checks); not imported: lazy CLI
    show_default=True,
    help="Refuse jobs of consumers whose on-chain record (inputs withheld or invalid) scores below this "
    "(a new consumer scores 100, one with two withheld inputs and no paid jobs 50; 0: take all).",
)
@click.option(
    "--ray",
    "ray_address",
    metavar="ADDRESS",
    help="Prove on a Ray cluster (a proving fleet): its address, or `auto` to join the local one (started if none runs). "
    f"An address that accepts no connection within {RAY_CONNECT_TIMEOUT_S:.0f}s is refused.",
)
@click.option(
    "--cpus-per-proof",
    type=click.IntRange(1, 1024),
    default=1,
    show_default=True,
    help="With --ray on nodes without GPUs: cores each proof takes (one proof per GPU where the cluster has GPUs).",
)
@click.option(
    "--settle-batch",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Settle up to N proved jobs in one transaction (eager jobs: settleResults; optimistic jobs: one batch of "
    "results); 1: each job as soon as it is proved.",
)
@click.option(
    "--settle-wait",
    metavar="SECONDS",
    type=click.FloatRange(0, 86_400),
    default=0,
    show_default=True,
    help="With --settle-batch: how long the oldest proved job may wait for others to fill the batch "
    "(a job near its prove deadline is sent at once).",
)
@click.option(
    "--fill-batch",
    type=click.IntRange(1, 64),
    default=16,
    show_default=True,
    help="Fill up to N gasless orders (prove-job --gasless) in one fillOrders transaction: every order that passes "
    "the worker's checks in one round goes in the same batch (an order the market skips on chain is refused with "
    "its reason); 1: each order alone with fillOrder.",
)
@click.option(
    "--avoid-flagged",
    is_flag=True,
    help="Refuse jobs of consumers (and deliverers) that anomaly detection flags (junk inputs, wash rings, "
    "self-dealing); the refusal and its evidence go to the log and the journal. Flags are re-read every 5 min.",
)
@click.option(
    "--anomalies-from",
    "anomalies_from",
    metavar="URL|PATH",
    help="With --avoid-flagged: an explorer URL (its /api/v1/anomalies) or an explorer index (SQLite path or "
    "postgresql://...) scored here. Default: this machine's index, $NGX_ZK_HOME/explorer/<chain id>.sqlite.",
)
@json_option
@chain_command(signer=True)
def worker_cmd(
    access: Client,
    models: tuple[str, ...],
    concurrency: int,
    max_jobs: int | None,
    burst: bool,
    poll_s: float,
    metrics_port: int | None,
    log_file: Path | None,
    listen: str | None,
    offers: bool,
    min_prices: tuple[str, ...],
    price_per_second: str,
    max_callback_gas: int,
    price_per_gas: str,
    max_fee_gwei: str | None,
    max_priority_fee_gwei: str | None,
    ngx_per_eth: str,
    max_claimed: int | None,
    max_fresh_jobs: int,
    max_fresh_collateral: str | None,
    expire_overdue: bool,
    claim_spread: bool,
    min_consumer_score: int,
    ray_address: str | None,
    cpus_per_proof: int,
    settle_batch: int,
    settle_wait: float,
    fill_batch: int,
    avoid_flagged: bool,
    anomalies_from: str | None,
    as_json: bool,
) -> None:
    """Serve jobs as a provider: claim, prove, submit, get paid.

    Watches the chain for jobs on the served models, claims those it is eligible for, decrypts the
    delivered input, checks it against the job's commitment (declining without slash if it does not
    match), runs the model with onnxruntime, proves with EZKL in warm child processes (one per
    --concurrency), dry-runs the submission with eth_call (the model's on-chain verifier), then
    submits. Every step is journaled first, so a restart resumes without double claims or
    submissions. SIGTERM/SIGINT once: finish the jobs in hand and exit; twice: exit now (status 130).

    The log is JSON lines, on stderr or in --log-file. At exit the worker prints a summary on stdout:
    one line, or with --json one JSON object (provider, chain_id, claimed, resumed, completed,
    declined, lost, stopped: "done", "signal" or "cold").

    With --listen, consumers reach the worker directly: sealed inputs after a claim, and offers of
    jobs about to be posted (`prove-job --provider`), which the worker proves while the job is
    posted and claimed. Anyone who signs may offer; at most 8 offers (or --fill-batch, if more) wait at
    once, each dropped if its job is not posted within 2 minutes (--no-offers turns them off). Gasless
    orders that come with offers are filled together, up to --fill-batch in one transaction.

    \b
    Before claiming, the worker checks its own terms: --min-price, --price-per-second (plus the
    callback's gas at --price-per-gas), --max-claimed, --min-consumer-score (of the consumer, and of
    the job's deliverer if it names one), --max-callback-gas, --max-fresh-jobs and
    --max-fresh-collateral (for consumers with no rewarded paid history), and that the prove window
    leaves time, after the consumer's input deadline (half the window), for a proof at this
    machine's measured speed plus a submission margin. With --ngx-per-eth the floor also counts the
    job's claim and submission at today's fees (the L1 data fee too, on an OP-stack chain). A job whose input is missing at the input
    deadline, invalid on chain, or too late is declined (free within the market's allowance); junk
    sent off chain is dropped and the consumer may still deliver until the input deadline. A
    submission that cannot succeed is given back before its deadline.

    \b
    Auctions and second rounds: an auction job's price rises while it is open; below this worker's
    floor now, it is claimed the moment its price reaches the floor (so the cheapest worker wins).
    A job whose provider missed its deadline is reopened for a second prover, paying its price plus
    a bounty out of the first provider's slash; the worker claims it like a new job, and expires
    such overdue claims of served models itself (--no-expire-overdue: leave that to others).

    Claim races: with many providers, each new job is claimed at once only by the ~2 that rank first
    for it (--claim-spread, on by default); the others look again a few seconds later, so losing
    claims (mined reverts, gas lost) do not grow with the number of providers.

    With --ray, the worker stays the one process with the key, the chain and the journal; proofs run
    as Ray tasks on the cluster's nodes (one per GPU, or per --cpus-per-proof cores). Artifacts and
    proving keys reach each node once, checked against their hashes; a node lost mid-proof has the
    proof run again elsewhere if the deadline allows, else the job is given back before it is slashed.

    Settlement at market cost: --settle-batch N settles up to N proved jobs in one transaction, waiting
    at most --settle-wait seconds for the batch to fill. An optimistic job's result (its outputs and the
    hash of its proof) is submitted without on-chain verification and finalizes after the challenge
    window: the worker serves the proof at GET /v1/proofs/ID (with --listen), answers every challenge
    with it (also after a restart, from its journal), and finalizes its own batches (it is paid then).
    A warm stop (one SIGTERM) stops claiming at once, finishes and submits the jobs in hand, and keeps
    answering challenges until each optimistic result is past its challenge window or answered (the log's
    worker.stopping lines say what it waits for, until when); a result it could not finalize is left to a
    restart. A second signal exits at once: restart the worker before a challenge's answer deadline (it
    answers from its journal), or the provider is slashed.

    \b
    Example:
      ngx-zk worker --model mlp --account provider --metrics-port 9464
      ngx-zk worker --model mlp --account provider --ray auto --concurrency 4
      ngx-zk worker --model mlp --account provider --listen 0.0.0.0:7070 --min-price 2 --max-claimed 4
      ngx-zk worker --model mlp --account provider --min-price mlp=5 --price-per-second 0.5
      ngx-zk worker --model mlp --account provider --price-per-gas 0.000001 --max-fresh-jobs 1 --max-fresh-collateral 20
      ngx-zk worker --model mlp --account provider --max-fee-gwei 50 --max-priority-fee-gwei 2 --ngx-per-eth 3000
      ngx-zk worker --model mlp --account provider --listen 0.0.0.0:7070 --settle-batch 16 --settle-wait 30
      ngx-zk worker --model mlp --account provider --listen 0.0.0.0:7070 --fill-batch 32
      ngx-zk worker --model mlp --account provider --no-claim-spread
      ngx-zk worker --model mlp --account provider --avoid-flagged --anomalies-from http://127.0.0.1:8080
    """
    from ..circuit import load_circuit
    from ..config import drop_secrets_from_environ
    from ..worker import Worker, WorkerOptions
    from ..worker.observe import JsonLog, Metrics
    from ..worker.policy import ClaimPolicy

    per_second = _ngx_option(price_per_second, "--price-per-second")
    per_gas = _ngx_option(price_per_gas, "--price-per-gas")
    per_eth = _ngx_option(ngx_per_eth, "--ngx-per-eth")
    fee_cap, tip_cap = (
        _gwei_option(max_fee_gwei, "--max-fee-gwei"),
        _gwei_option(max_priority_fee_gwei, "--max-priority-fee-gwei"),
    )
    fresh_collateral = None if max_fresh_collateral is None else _ngx_option(max_fresh_collateral, "--max-fresh-collateral")
    if ray_address is not None:
        _check_ray_address(ray_address)
    settings = access.settings
    circuits = [load_circuit(m, settings) for m in models]
    floor, by_name = _min_prices(min_prices)
    unknown = set(by_name) - {c.name for c in circuits}
    if unknown:
        raise click.BadParameter(f"{', '.join(sorted(unknown))} is not served (--model)", param_hint="--min-price")
    if log_file:
        check_output_file(log_file, "--log-file")
        log_file.parent.mkdir(parents=True, exist_ok=True)
    if anomalies_from and not avoid_flagged:
        raise click.UsageError("--anomalies-from names where --avoid-flagged reads flags: add --avoid-flagged")
    market, signer = access.market, access.signer
    avoid = None
    if avoid_flagged:
        from ..anomaly.sources import Flags, resolve

        flags = Flags(resolve(anomalies_from, settings.home, lambda: market.chain.chain_id), dev_chain=True)
        avoid = functools.partial(flags.why, role="consumer")
    fee_model = _apply_fee_terms(market, fee_cap, tip_cap, per_eth)
    drop_secrets_from_environ()  # the signer is loaded: nothing started from here on inherits the key or password
    stream = log_file.open("a") if log_file else console.stderr().file
    log = JsonLog(stream, worker=signer.address)
    metrics = Metrics()
    options = WorkerOptions(
        concurrency=concurrency,
        poll_s=poll_s,
        listen=_host_port(listen) if listen else None,
        offers=offers,
        policy=ClaimPolicy(
            min_price=floor,
            max_claimed=max_claimed,
            min_consumer_score=min_consumer_score,
            price_per_second=per_second,
            max_callback_gas=max_callback_gas,
            price_per_gas=per_gas,
            max_fresh_jobs=max_fresh_jobs,
            max_fresh_collateral=fresh_collateral,
            fee_model=fee_model,
            ngx_per_eth=per_eth,
            slash_bps=int(market.chain.call(market.config.functions.slashBps())),
            decline_slash_bps=int(market.chain.call(market.config.functions.declineSlashBps())),
            avoid=avoid,
        ),
        min_price_by_name=by_name,
        ray=ray_address,
        cpus_per_proof=cpus_per_proof,
        expire_overdue=expire_overdue,
        claim_spread=claim_spread,
        settle_batch=settle_batch,
        settle_wait=settle_wait,
        fill_batch=fill_batch,
    )
    worker = Worker(settings, market, signer, circuits, options, log=log, metrics=metrics)
    if metrics_port is not None:
        bound = metrics.serve(metrics_port)
        log("metrics.serving", url=f"http://127.0.0.1:{bound}/metrics")
    try:
        worker.work(burst=burst, max_jobs=max_jobs)
    finally:
        metrics.close()
        worker.close()
    stats = worker.stats
    summary = {
        "provider": signer.address,
        "chain_id": market.chain.chain_id,
        "claimed": len(stats.claimed_ids),
        "resumed": stats.resumed,
        "completed": stats.completed,
        "declined": stats.declined,
        "lost": stats.lost,
        "stopped": worker.stopped_by,
    }
    emit(
        as_json,
        summary,
        f"worker {signer.address} stopped ({summary['stopped']}): {stats.completed} completed, "
        f"{stats.declined} declined, {stats.lost} lost",
    )
    if worker.stopped_by == "cold":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)  # cold shutdown: the journal resumes the jobs in hand
