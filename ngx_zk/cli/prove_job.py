"""``ngx-zk prove-job``: post a job, escrow its price, deliver the input sealed, and wait for a verified
output (the waiting and the report are shared with ``job wait`` and ``job deliver``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import console
from ._common import (
    SECONDS,
    UINT32_MAX,
    Client,
    FiniteFloat,
    address_arg,
    chain_command,
    emit,
    fmt_ngx,
    json_option,
    parse_ngx,
    warn_insecure,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..artifacts import Circuit
    from ..consumer import JobRecord


confirmations_option = click.option(
    "--confirmations",
    type=click.IntRange(0, 1000),
    default=0,
    show_default=True,
    help="Report the job settled only once this many blocks sit on top of its settlement (a reorg above that "
    "depth is followed; 0 suits the devnet's instant blocks).",
)
"""``prove-job`` and ``job wait``: how deep a settlement must be before it is reported."""


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
@click.option("--ramp", type=SECONDS, help="An auction: seconds the price takes from --min-price to --max-price.")
@click.option(
    "--ramp-delay",
    type=click.IntRange(0, UINT32_MAX),
    default=0,
    show_default=True,
    help="An auction: seconds after posting during which the price stays at --min-price.",
)
@click.option("--claim-window", type=SECONDS, default=300, show_default=True, help="Seconds a provider has to claim.")
@click.option(
    "--prove-window",
    type=SECONDS,
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
@click.option(
    "--allowance",
    metavar="AMOUNT",
    help="With --gasless: sign the standing permit for this many NGX (at least the price), so the next orders, "
    "placed at once too, reuse it without a new signature.  [default: what your unfilled orders and this one need]",
)
@click.option(
    "--settlement",
    type=click.Choice(["eager", "optimistic"]),
    default=None,
    help="eager: the proof is verified on chain at submission; optimistic: the result finalizes after a challenge "
    "window (checked here meanwhile).  [default: the model's manifest, else eager]",
)
@click.option(
    "--explorer",
    metavar="URL",
    help="An explorer whose proof mirror is asked when the provider does not serve an optimistic job's proof.",
)
@click.option(
    "--avoid-flagged",
    is_flag=True,
    help="Do not offer the job (or send a --gasless order) to a --provider that anomaly detection flags "
    "(wash rings, decline harvesting, self-dealing): the job is posted for any provider instead, with a message.",
)
@click.option(
    "--anomalies-from",
    "anomalies_from",
    metavar="URL|PATH",
    help="With --avoid-flagged: an explorer URL (its /api/v1/anomalies) or an explorer index (SQLite path or "
    "postgresql://...) scored here. Default: this machine's index, $NGX_ZK_HOME/explorer/<chain id>.sqlite.",
)
@click.option("--no-wait", is_flag=True, help="Post and return the job id; follow it later with `ngx-zk job wait ID`.")
@click.option(
    "--timeout",
    type=FiniteFloat(0, None, min_open=True),
    help="Give up waiting after this many seconds (the job stays on chain).",
)
@confirmations_option
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
    client: Client,
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
    allowance: str | None,
    settlement: str | None,
    explorer: str | None,
    avoid_flagged: bool,
    anomalies_from: str | None,
    no_wait: bool,
    timeout: float | None,
    confirmations: int,
    poll_s: float,
    as_json: bool,
) -> None:
    """Post a job for MODEL on an input, pay into escrow, and get back a verified output.

    Commits to the input with a fresh secret salt, escrows the price, delivers the input encrypted
    to the provider that claims the job, waits until the job settles (or expires: then it is
    refunded), and re-verifies the proof before printing the output.

    Deadlines are chain time. At a deadline the job is expired (refund, or a second prover for a
    missed claim), so the wait always ends. The local devnet mines only on transactions, so its clock
    stands still while nobody sends one: there, once anvil's own clock (the time its next block would
    carry) passes the deadline, an empty block is mined to move the chain's time on.
    Ctrl-C stops waiting, not the job: resume with `ngx-zk job wait ID`, or after its deadline get the
    refund with `ngx-zk job expire ID`.

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
    second-prover bounty), since expiring takes gas. Several gasless orders may run at once (to one
    provider or several): they share one standing permit that covers them all, whichever fills first;
    give the first one --allowance covering the others, or each waits for the one before it to fill.
    Order nonces are consecutive (kept under $NGX_ZK_HOME/state/orders), which keeps the provider's gas low.

    With --inputs FILE.jsonl (one input per line) the job carries all of them and settles with one
    proof: MODEL must have a published batch circuit for that many inputs (`model build --batch N`).
    Each input gets its own salt and commitment; one verified output is printed per input.

    With --min-price, --max-price and --ramp the job is a reverse Dutch auction: its price starts at
    --min-price and rises to --max-price over --ramp seconds (after --ramp-delay); the first provider
    whose own floor it reaches claims it and locks that price. The maximum is escrowed and the rest
    comes back at the claim. If the provider that claims misses its prove deadline it is slashed and
    the job reopens once for a second prover (paid a bounty from that slash); only if nobody finishes
    is the price refunded.

    With --settlement optimistic the provider commits the output and the hash of its proof instead of
    verifying the proof on chain (a fraction of the gas); the job pays out when its challenge window
    closes. Meanwhile this command fetches the proof from the provider (or --explorer's mirror),
    verifies it locally and challenges a bad or unavailable one (the bond comes from your account and
    comes back with a reward): an unanswered challenge slashes the provider and refunds you in full.
    The default is the model's (`model publish --settlement`), else eager.

    On a chain that reorgs (a public L2), --confirmations N waits until the settlement has N blocks on
    top before reporting it; a reorg that drops it before then is followed like any other step.

    \b
    Example:
      ngx-zk prove-job mlp --input models/mlp/input.json --price 10 --account consumer
      ngx-zk prove-job mlp --input models/mlp/input.json --account consumer --provider 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --avoid-flagged
      ngx-zk prove-job mlp --inputs models/mlp/batch4.jsonl --price 20 --account consumer
      ngx-zk prove-job mlp_private --private --input models/mlp/input.json --account consumer
      ngx-zk prove-job mlp --input models/mlp/input.json --account consumer --provider 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
      ngx-zk prove-job mlp --input models/mlp/input.json --account consumer --min-price 2 --max-price 10 --ramp 120
      ngx-zk prove-job mlp --input models/mlp/input.json --gasless --provider 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
      ngx-zk prove-job mlp --input models/mlp/input.json --gasless --allowance 50 --provider 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
      ngx-zk prove-job mlp --input models/mlp/input.json --account consumer --settlement optimistic
      ngx-zk prove-job mlp --input models/mlp/input.json --account consumer --confirmations 6
    """
    from ..catalog import binding
    from ..circuit import batch_job
    from ..consumer import require_private
    from ..inputs import load as load_input
    from ..inputs import read_lines

    if (input_file is None) == (inputs_file is None):
        raise click.UsageError("give one of --input FILE.json (one input) or --inputs FILE.jsonl (a batch job)")
    if gasless and offer_to is None:
        raise click.UsageError("--gasless needs --provider ADDRESS: the provider whose endpoint takes and fills the order")
    if gasless and (use_approve or inputs_file is not None):
        raise click.UsageError("--gasless sends no transaction (no --approve) and carries one input (no --inputs)")
    wei, low = _job_price(price, min_price, max_price, ramp, claim_window, ramp_delay)
    standing = _allowance(allowance, gasless, wei)
    if inputs_file is not None:
        published = set(client.market.deployment.models)
        circuit, data = batch_job(model, read_lines(inputs_file), client.settings, published=published, source=str(inputs_file))
    else:
        assert input_file is not None
        circuit = client.circuit(model)
        if circuit.manifest.batch > 1:
            raise click.UsageError(
                f"{circuit.name} proves {circuit.manifest.batch} inputs per job: pass them with --inputs FILE.jsonl"
            )
        data = load_input(input_file, circuit.manifest)
    if private:
        require_private(circuit)
    warn_insecure(circuit, as_json)
    optimistic = (settlement or binding(circuit).settlement) == "optimistic"

    def note(text: str) -> None:
        if not as_json:
            console.stderr().print(text)

    if anomalies_from and not avoid_flagged:
        raise click.UsageError("--anomalies-from names where --avoid-flagged reads flags: add --avoid-flagged")
    if avoid_flagged and offer_to is not None:
        offer_to = _unless_flagged(client, offer_to, anomalies_from, gasless, note)
    record = client.consumer.post(
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
        optimistic=optimistic,
        allowance=standing,
    )
    auction = f" (auction: {fmt_ngx(low)} rising to {fmt_ngx(wei)} over {ramp}s)" if low is not None else ""
    if gasless:
        note(f"{record.offered_to} filled your order: job {record.job_id} (tx {record.post_tx}); you sent no transaction")
    else:
        mode = "; optimistic settlement" if optimistic else ""
        note(f"posted job {record.job_id} (tx {record.post_tx}); {fmt_ngx(wei)} in escrow{auction}{mode}")
    if no_wait:
        emit(
            as_json,
            {"job_id": record.job_id, "post_tx": record.post_tx, "commitments": record.commitments},
            f"job {record.job_id} posted; follow it with: ngx-zk job wait {record.job_id}",
        )
        return
    wait_and_report(client, circuit, record, timeout, as_json, poll_s, explorer=explorer, confirmations=confirmations)


def _unless_flagged(client: Client, provider: str, source: str | None, gasless: bool, note: Callable[[str], None]) -> str | None:
    """``provider``, or None (post for any provider) when anomaly detection flags it; a gasless order has no
    fallback (only the named provider posts it): refused."""
    from ..anomaly.report import AnomalyError, reason
    from ..anomaly.sources import read_report, resolve

    report = read_report(resolve(source, client.settings.home, lambda: client.market.chain.chain_id), dev_chain=True)
    flag = report.flagged(provider, "provider")
    if flag is None:
        return provider
    why = reason(flag)
    if gasless:
        raise AnomalyError(f"not sending the order: {why}", "name another --provider, or drop --avoid-flagged")
    note(f"not offering the job to {provider}: {why}; posting it for any provider")
    return None


def _allowance(text: str | None, gasless: bool, price: int) -> int | None:
    """``--allowance`` in base units (None: not given), checked before any work: a gasless order's option, at least the price."""
    if text is None:
        return None
    if not gasless:
        raise click.UsageError("--allowance sets a gasless order's standing permit: add --gasless (and --provider)")
    value = parse_ngx(text, positive=True)
    if value < price:
        raise click.BadParameter(
            f"{text} NGX is below the order's price ({fmt_ngx(price)}): the standing permit must at least pay for this order",
            param_hint="--allowance",
        )
    return value


def _job_price(
    price: str | None, min_price: str | None, max_price: str | None, ramp: int | None, claim_window: int, ramp_delay: int
) -> tuple[int, int | None]:
    """(escrowed price, auction start price or None) from prove-job's price options, checked before any work."""
    auction = (min_price, max_price, ramp)
    if all(v is None for v in auction):
        if ramp_delay:
            raise click.UsageError("--ramp-delay belongs to an auction: give --min-price, --max-price and --ramp too")
        return parse_ngx("10" if price is None else price, positive=True), None  # "" is refused, not 10
    if price is not None:
        raise click.UsageError("give either --price (a fixed price) or --min-price/--max-price/--ramp (an auction), not both")
    if any(v is None for v in auction):
        raise click.UsageError("an auction needs all of --min-price, --max-price and --ramp")
    assert min_price is not None and max_price is not None and ramp is not None
    low, high = parse_ngx(min_price, positive=True), parse_ngx(max_price, positive=True)
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


def wait_and_report(
    client: Client,
    circuit: Circuit,
    record: JobRecord,
    timeout: float | None,
    as_json: bool,
    poll_s: float | None = None,
    explorer: str | None = None,
    confirmations: int = 0,
) -> None:
    """Wait for the job (``Consumer.wait``: Ctrl-C ends it with a message naming the job) and print the result."""
    from ..chain.types import JobStatus

    already = client.market.job(record.job_id).status.final  # `job wait` on an old job: nothing was waited for
    with console.progress(f"job {record.job_id}", quiet=as_json) as step:
        result = client.consumer.wait(
            circuit, record, progress=step, timeout_s=timeout, poll_s=poll_s, explorer=explorer, confirmations=confirmations
        )
    batch = circuit.manifest.batch
    data = {
        **{k: v for k, v in result.__dict__.items() if k != "by_input"},
        "status": result.status.value,
        "model": circuit.name,
        "batch": batch,
        "outputs": [list(o) for o in result.by_input] if batch > 1 else list(result.outputs),
        "seconds": None if already else result.seconds,
        "already_final": already,
    }
    if result.status is not JobStatus.SETTLED:
        from ._errors import Failure, report

        failure = Failure(
            f"job {result.job_id} ended {result.status.value} without a settled proof",
            f"{fmt_ngx(result.refund)} came back to your balance in the market"
            + (
                f" ({fmt_ngx(result.burned)} burned by the input rule: the provider declined your input and was slashed as much)"
                if result.burned
                else ""
            )
            + ": ngx-zk withdraw; post again with prove-job",
            "not_settled",
            details=data,  # a failing --json run: the error object and the result, in one JSON object
        )
        report(failure, as_json)
        raise click.exceptions.Exit(1)
    emit(
        as_json,
        data,
        f"job {result.job_id} {'had settled before this wait' if already else f'settled in {result.seconds:.1f}s'}: "
        + (
            "committed proof verified locally; finalized unchallenged or answered on chain\n"
            if result.settlement == "optimistic"
            else "proof verified on chain and locally\n"
        )
        + (
            "".join(f"  output {k + 1:<3} {out}\n" for k, out in enumerate(data["outputs"]))
            if batch > 1
            else f"  output   {list(result.outputs)}\n"
        )
        + f"  provider {result.provider}\n  paid     {fmt_ngx(result.price)}"
        + (f" ({fmt_ngx(result.refund)} of the escrow came back)" if result.refund else "")
        + "\n"
        + (
            f"  settled  optimistically: challenge window until chain time {result.challenge_deadline}, finalized\n"
            if result.settlement == "optimistic"
            else ""
        )
        + "\n".join(f"  tx {k:<8} {v}" for k, v in result.tx.items()),
    )
