"""Following jobs: ``job show|wait|expire|deliver|disclose`` and ``jobs``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import console
from ..chain.types import FLAG_OPTIMISTIC, Job, JobStatus
from ..errors import ChainError
from ._common import (
    JOB_ID,
    Client,
    FiniteFloat,
    chain_command,
    check_output_file,
    emit,
    fmt_ngx,
    json_option,
)
from .prove_job import confirmations_option, wait_and_report

if TYPE_CHECKING:
    from ..chain.market import Marketplace


@click.command("show")
@click.argument("job_id", type=JOB_ID)
@json_option
@chain_command(signer=False)
def job_show(client: Client, job_id: int, as_json: bool) -> None:
    """Show a job's state on chain.

    \b
    Example:
      ngx-zk job show 1 --json
    """
    from ..chain import devnet

    market = client.market
    job = market.job(job_id)
    data = {**job.__dict__, "status": job.status.value, "commitments_hash": "0x" + job.commitments_hash.hex()}
    if job.status is JobStatus.SETTLED:
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
    if not job.status.final:
        due = job.prove_deadline if job.status is JobStatus.CLAIMED else job.claim_deadline
        data["overdue"] = devnet.clock(market.chain) >= due  # on the devnet: anvil's clock, not the idle chain's last block
        if data["overdue"]:
            lines.append(f"  overdue: its deadline passed; anyone may expire it: ngx-zk job expire {job_id}")
    declined = market.declined(job_id) if job.status is JobStatus.CANCELLED and job.provider else None
    if declined is not None:
        reason = declined.reason.name.lower()
        data["decline"] = {"reason": reason, "free": declined.free, "slashed": declined.slashed,
                           "refund": declined.refund, "burned": declined.burned}  # fmt: skip
        cost = "free" if declined.free else f"provider slashed {fmt_ngx(declined.slashed)}"
        cut = f", {fmt_ngx(declined.burned)} burned by the input rule" if declined.burned else ""
        lines.append(f"  declined ({reason}, {cost}): refunded {fmt_ngx(declined.refund)}{cut}")
    if job.callback_gas_limit:
        lines.append(f"  callback: {job.consumer}.onInferenceResult with {job.callback_gas_limit:,} gas at settlement")
    settlement, settlement_lines = settlement_view(market, job)
    data.update(settlement)
    lines.extend(settlement_lines)
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


def settlement_view(market: Marketplace, job: Job) -> tuple[dict[str, Any], list[str]]:
    """``job show``'s settlement fields (``settlement``, ``challenge_deadline``, ``finalized``, an open
    ``challenge``) and the lines that say them."""
    from ..chain.settlement import Settlement

    optimistic = bool(job.flags & FLAG_OPTIMISTIC)
    data: dict[str, Any] = {
        "settlement": "optimistic" if optimistic else "eager",
        "challenge_deadline": None,
        "finalized": job.status is JobStatus.SETTLED,
    }
    if not optimistic:
        return data, []
    settlement = Settlement(market)
    submitted = settlement.submitted(job.job_id)
    lines = []
    if submitted is None:
        lines.append("  settlement: optimistic (its result finalizes after a challenge window; not submitted yet)")
        return data, lines
    batch_id = submitted.event.batch_id
    posted = settlement.batch_submitted(batch_id)
    data["challenge_deadline"] = posted.event.challenge_deadline if posted else settlement.batch(batch_id).challenge_deadline
    data["batch_id"] = batch_id
    data["proof_hash"] = "0x" + submitted.event.proof_hash.hex()
    state = (
        "finalized"
        if data["finalized"]
        else "open to challenges"
        if job.status is JobStatus.SUBMITTED
        else job.status.value.lower()
    )
    lines.append(
        f"  settlement: optimistic, batch {batch_id}, challenge window until chain time {data['challenge_deadline']} ({state})"
    )
    challenge = settlement.challenge_of(job.job_id) if job.status is JobStatus.CHALLENGED else None
    if challenge is not None:
        data["challenge"] = {
            "challenger": challenge.challenger,
            "bond": challenge.bond,
            "answer_deadline": challenge.answer_deadline,
        }
        lines.append(
            f"  challenged by {challenge.challenger} (bond {fmt_ngx(challenge.bond)}): the provider must answer by chain time "
            f"{challenge.answer_deadline}, else anyone may uphold it (slash and refund)"
        )
    return data, lines


@click.command("wait")
@click.argument("job_id", type=JOB_ID)
@click.option("--timeout", type=FiniteFloat(0, None, min_open=True), help="Give up waiting after this many seconds.")
@confirmations_option
@json_option
@chain_command(signer=True)
def job_wait(client: Client, job_id: int, timeout: float | None, confirmations: int, as_json: bool) -> None:
    """Wait for one of your jobs to settle, delivering its input once claimed.

    It ends at the job's deadline like `prove-job` (see its help for the devnet's clock); a job that
    ended before the wait is reported as it ended, with no time to settle.

    \b
    Example:
      ngx-zk job wait 3 --account consumer
      ngx-zk job wait 3 --account consumer --confirmations 6   # on a chain that reorgs
    """
    record = client.consumer.record(job_id)
    if record is None:
        raise ChainError(
            f"no local record of job {job_id} on chain {client.chain.chain_id}",
            "only the consumer who posted it (on this machine) holds its secret input",
        )
    wait_and_report(client, client.circuit(record.model), record, timeout, as_json, confirmations=confirmations)


@click.command("expire")
@click.argument("job_id", type=JOB_ID)
@json_option
@chain_command(signer=True)
def job_expire(client: Client, job_id: int, as_json: bool) -> None:
    """Expire a job past its deadline: refund its consumer, or reopen a missed claim for a second prover.

    Anyone may expire an overdue job (it costs one transaction's gas): the consumer whose `prove-job`
    was stopped, or anyone who finds a claim left unproven with escrow and collateral locked. An open
    job past its claim deadline is refunded; a claimed job past its prove deadline has its provider
    slashed and reopens once for a second prover (else it is refunded). The deadline is chain time; on
    the local devnet, whose chain time moves only when a block is mined, an empty block is mined first
    once anvil's own clock has passed the deadline.

    \b
    Example:
      ngx-zk job expire 7 --account consumer
    """
    from ..chain import devnet

    market = client.market
    if job_id > market.job_count():
        raise ChainError(f"no job {job_id} on chain {market.chain.chain_id}", "list the jobs with: ngx-zk jobs")
    job = market.job(job_id)
    if job.status.final:
        raise ChainError(
            f"job {job_id} is already {job.status.value}: nothing to expire", f"see it with: ngx-zk job show {job_id}"
        )
    due = job.prove_deadline if job.status is JobStatus.CLAIMED else job.claim_deadline
    now = devnet.catch_up(market.chain, due)
    if now < due:
        what = "prove" if job.status is JobStatus.CLAIMED else "claim"
        raise ChainError(
            f"job {job_id} is {job.status.value} and its {what} deadline is {due - now}s away (chain time {due})",
            f"expire it after that: ngx-zk job expire {job_id}",
        )
    receipt = market.expire(client.signer, job_id)
    after = market.job(job_id)
    reopened = after.status is JobStatus.OPEN
    emit(
        as_json,
        {"job_id": job_id, "status": after.status.value, "reopened": reopened, "tx": receipt.tx},
        f"job {job_id} "
        + (
            "reopened for a second prover (its provider missed the prove deadline and was slashed)"
            if reopened
            else f"expired: {fmt_ngx(job.price)} refunded to its consumer's balance in the market (ngx-zk withdraw)"
        ),
    )


@click.command("deliver")
@click.argument("job_id", type=JOB_ID)
@click.option(
    "--input",
    "input_file",
    type=click.Path(path_type=Path),
    required=True,
    help="The salted input whose commitments the contract posted (from `ngx-zk commit --out`).",
)
@click.option("--model", "model", required=True, help="The circuit the job was posted for.")
@click.option(
    "--timeout",
    type=FiniteFloat(0, None, min_open=True),
    help="Give up waiting after this many seconds (the job stays on chain).",
)
@json_option
@chain_command(signer=True)
def job_deliver(client: Client, job_id: int, input_file: Path, model: str, timeout: float | None, as_json: bool) -> None:
    """Hand over the input of a job a contract consumer posted, naming you its deliverer.

    A contract cannot keep a secret input: it posts the commitments of an input held by a party it
    trusts (a borrower, an oracle), named as the job's deliverer. This command checks the salted
    input opens the job's posted commitments, hands it sealed to whoever claims the job (as
    prove-job does), waits for the settlement, and re-verifies the proof. The contract receives
    the verified output through its callback; you see it here too.

    \b
    Example:
      ngx-zk commit features.json --model credit --out salted.json     # post its commitments via the contract
      ngx-zk job deliver 7 --input salted.json --model credit --account consumer2   # dev chain: the borrower's role
      ngx-zk job deliver 7 --input salted.json --model credit --keystore borrower.json  # elsewhere
    """
    from ..inputs import load as load_input

    consumer = client.consumer  # the chain and the signer first: a dead node is named before a missing circuit
    circuit = client.circuit(model)
    record = consumer.adopt(circuit, job_id, load_input(input_file, circuit.manifest))
    if not as_json:
        console.stderr().print(
            f"job {job_id} (consumer {record.consumer}): the input opens its commitments; delivering it sealed to whoever claims"
        )
    wait_and_report(client, circuit, record, timeout, as_json)


@click.command("disclose")
@click.argument("job_id", type=JOB_ID)
@click.option(
    "--inference",
    "number",
    type=click.IntRange(1, None),
    default=1,
    show_default=True,
    help="Which input of a batch job (1 = the first line of the --inputs file).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The disclosure JSON to write.")
@click.option(
    "--explorer",
    metavar="URL",
    help="An optimistic job's proof is not on chain: ask this explorer's mirror when its provider no longer serves it.",
)
@json_option
@chain_command(signer=False)
def job_disclose(client: Client, job_id: int, number: int, out: Path, explorer: str | None, as_json: bool) -> None:
    """Write a file that shows one inference of your settled job to a third party.

    The file holds that inference's input, its salt and its proven output: anyone with the model's
    circuit checks it against the chain (`ngx-zk verify --disclosure FILE --model NAME`). The job's
    other inputs stay hidden behind their own salted commitments. Reads the secret job record this
    machine kept when it posted the job. An optimistic job's proof is not on chain: it is fetched from
    its provider (GET /v1/proofs/ID) or --explorer's mirror and must hash to the committed proofHash.

    \b
    Example:
      ngx-zk job disclose 4 --inference 2 --out job4-input2.json
      ngx-zk verify --disclosure job4-input2.json --model mlp_b4
      ngx-zk job disclose 9 --out job9.json --explorer https://explorer.example
    """
    from ..consumer import load_record
    from ..disclosure import disclose
    from ..files import write_private

    market = client.market
    record = load_record(client.settings, market.chain.chain_id, job_id)
    if record is None:
        raise ChainError(
            f"no local record of job {job_id} on chain {market.chain.chain_id}",
            "only the consumer who posted it (on this machine) holds its salted input",
        )
    circuit = client.circuit(record.model)
    check_output_file(out)
    d = disclose(market, circuit, job_id, record.salted_input, number - 1, record.output_felts, explorer)
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
def jobs_cmd(client: Client, limit: int, as_json: bool) -> None:
    """List the most recent jobs and their state.

    \b
    Example:
      ngx-zk jobs --limit 5
    """
    market = client.market
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
