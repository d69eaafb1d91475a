"""The consumer's side of a job: commit, post with escrow, deliver the input, get a verified output.

The salted input is the consumer's secret: it is kept in a private job record
(``$NGX_ZK_HOME/state/jobs/<chain>/<job>.json``, mode 0600) and leaves the machine only encrypted
to the provider that claimed the job (X25519 key from its on-chain registration, bound to the job).
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_utils.address import to_checksum_address

from . import crypto, prover, safejson
from .artifacts import Circuit
from .chain import devnet
from .chain.heads import NewHeads, ws_url_for
from .chain.market import ZERO, Job, JobStatus, JobTerms, Marketplace
from .chain.orders import Order, SignedOrder
from .chain.signer import Signer
from .commitment import commit, kzg_key
from .config import Settings
from .dataplane import client as dataplane
from .errors import ChainError, ContractRevert, InvalidProofError, NgxZkError
from .files import write_private
from .inputs import InputData
from .publish import resolve_model
from .units import fmt_ngx

Progress = Callable[[str], None]
POLL_S = 0.25
OFFER_RESEND_S = 5.0
"""A provider that took the offer and claimed has the input; it is sent again (as to any claimer)
only if the job is still unsettled this long after the claim (a worker that restarted lost it)."""
ORDER_TTL_S = 120
"""A gasless order fills within this long (chain time) or never (the provider proves while it fills)."""
MAX_ONCHAIN_PAYLOAD = 32 * 1024
"""JobMarket.MAX_INPUT_PAYLOAD: larger inputs need the provider's endpoint."""


@dataclass
class JobRecord:
    chain_id: int
    job_id: int
    model: str
    model_id: int
    consumer: str
    commitments: list[str]
    price: int
    salted_input: dict[str, Any]
    post_tx: str
    deliveries: dict[str, str] = field(default_factory=dict)  # provider -> deliver tx
    posted_at: float = field(default_factory=time.time)
    offered_to: str = ""  # the provider the job was offered to before posting, if it took the offer
    deliverer_for: str = ""  # set when this machine hands over the input of a job a contract consumer posted
    output_felts: list[str] = field(default_factory=list)  # a private job's output, once fetched (for disclosures)
    gasless: bool = False  # posted by a provider filling this account's signed order: this account sends no transaction


@dataclass(frozen=True)
class JobResult:
    job_id: int
    status: JobStatus
    provider: str | None
    outputs: tuple[float, ...]
    proof_valid: bool
    price: int
    tx: dict[str, str]
    seconds: float
    refund: int = 0
    """What came back to the consumer: the whole escrow for a job that ended unsettled, the escrow above the
    locked price for an auction."""
    by_input: tuple[tuple[float, ...], ...] = ()
    """The outputs split per input: one entry per inference of a batch job (one for a single job)."""


def record_path(settings: Settings, chain_id: int, job_id: int) -> Path:
    return settings.state_dir / "jobs" / str(chain_id) / f"{job_id}.json"


def save_record(settings: Settings, record: JobRecord) -> None:
    write_private(record_path(settings, record.chain_id, record.job_id), json.dumps(asdict(record)).encode())


def load_record(settings: Settings, chain_id: int, job_id: int) -> JobRecord | None:
    try:
        return JobRecord(**json.loads(record_path(settings, chain_id, job_id).read_text()))
    except FileNotFoundError:
        return None


def require_private(circuit: Circuit) -> None:
    """A private job needs a model whose outputs are hashed: otherwise the output lands on chain."""
    if circuit.manifest.visibility.output != "hashed":
        raise NgxZkError(
            f"model {circuit.name!r} has public outputs: its output would be published on chain",
            "build a private variant: ngx-zk model build MODEL --name NAME --visibility hashed/fixed/hashed",
        )


def post_job(
    settings: Settings,
    market: Marketplace,
    signer: Signer,
    circuit: Circuit,
    data: InputData,
    *,
    price: int,
    claim_window: int,
    prove_window: int,
    min_reputation: int,
    permit: bool = True,
    offer_to: str | None = None,
    progress: Progress = lambda _: None,
    min_price: int | None = None,
    ramp: int = 0,
    ramp_delay: int = 0,
    gasless: bool = False,
) -> JobRecord:
    """Commit to the input (fresh salt), escrow ``price`` and post the job; keep the secret record.

    With ``offer_to``, the job is first offered to that provider (see :func:`offer`), which then
    proves while the job is posted and claimed. With ``min_price`` (below ``price``) the job is a
    reverse Dutch auction: its price rises from ``min_price`` (after ``ramp_delay`` seconds) to ``price``
    over ``ramp`` seconds, and the first provider to claim locks the price of that moment.

    With ``gasless`` the consumer sends no transaction: it signs an order and a permit for ``offer_to``,
    which posts and claims the job in one transaction it pays for (see :func:`order_job`)."""
    if gasless:
        if offer_to is None:
            raise NgxZkError("a gasless order goes to one provider's endpoint", "name the provider: --provider ADDRESS")
        return order_job(
            settings, market, signer, circuit, data, offer_to,
            price=price, claim_window=claim_window, prove_window=prove_window, min_reputation=min_reputation,
            min_price=min_price, ramp=ramp, ramp_delay=ramp_delay, progress=progress,
        )  # fmt: skip
    commitment, salted = commit(circuit.manifest, data, new_salt=True, kzg=kzg_key(circuit, settings))
    offered, known = "", market.deployment.models.get(circuit.name)
    if offer_to is not None:  # first, so the provider proves while the checks and the post below run
        model_id = int(known["model_id"]) if known else resolve_model(settings, market, circuit).model_id
        if offer(market, signer, model_id, commitment.values, salted, offer_to, progress=progress):
            offered = to_checksum_address(offer_to)
    entry = resolve_model(settings, market, circuit)
    if offered and entry.model_id != model_id:
        offered = ""  # offered under a stale registry id: the input goes to whoever claims
    balance = market.balance(signer.address)
    if balance < price:
        raise ChainError(f"{signer.address} holds {fmt_ngx(balance)}, the job costs {fmt_ngx(price)}", "fund the account first")
    if min_price is not None and min_price != price:
        terms = JobTerms(
            entry.model_id, min_price, price, claim_window, prove_window, min_reputation, ramp_delay=ramp_delay, ramp_length=ramp
        )
        job_id, receipt = market.post_job_with_terms(signer, terms, commitment.values)
    else:
        post = market.post_job_with_permit if permit else market.post_job
        job_id, receipt = post(signer, entry.model_id, commitment.values, price, claim_window, prove_window, min_reputation)
    record = JobRecord(
        chain_id=market.chain.chain_id,
        job_id=job_id,
        model=circuit.name,
        model_id=entry.model_id,
        consumer=signer.address,
        commitments=commitment.hex,
        price=price,
        salted_input=salted.to_json(),
        post_tx=receipt.tx,
        offered_to=offered,
    )
    save_record(settings, record)
    return record


def order_job(
    settings: Settings,
    market: Marketplace,
    signer: Signer,
    circuit: Circuit,
    data: InputData,
    provider: str,
    *,
    price: int,
    claim_window: int,
    prove_window: int,
    min_reputation: int,
    min_price: int | None = None,
    ramp: int = 0,
    ramp_delay: int = 0,
    progress: Progress = lambda _: None,
    ttl_s: int = ORDER_TTL_S,
) -> JobRecord:
    """A job without gas: sign an order (EIP-712) and a permit of the escrow (EIP-2612), offer them with the
    sealed input to ``provider``, and wait for it to fill the order (``OrderFilled``).

    Only calls, no transaction: the account needs NGX for the escrow and no ETH. The order names the
    provider (only it can fill; it alone has the input) and dies at ``ttl_s`` seconds of chain time; an
    unfilled order costs nothing. An auction order's price rises from the moment it is signed."""
    commitment, salted = commit(circuit.manifest, data, new_salt=True, kzg=kzg_key(circuit, settings))
    if len(commitment.values) != 1:
        raise NgxZkError(
            f"model {circuit.name!r} has {len(commitment.values)} input commitments: gasless orders carry one",
            "post the job with a transaction (drop --gasless)",
        )
    entry = resolve_model(settings, market, circuit)
    balance = market.balance(signer.address)
    if balance < price:
        raise ChainError(f"{signer.address} holds {fmt_ngx(balance)}, the job costs {fmt_ngx(price)}", "fund the account first")
    auction = min_price is not None and min_price != price
    terms = JobTerms(
        entry.model_id,
        min_price if auction and min_price is not None else price,
        price,
        claim_window,
        prove_window,
        min_reputation,
        ramp_delay=ramp_delay if auction else 0,
        ramp_length=ramp if auction else 0,
    )
    now = market.chain.timestamp()
    order = Order(
        consumer=signer.address,
        terms=terms,
        commitments=tuple(commitment.values),
        provider=to_checksum_address(provider),
        nonce=secrets.randbits(128),
        signed_at=now,
        deadline=now + ttl_s,
    )
    permit = market.sign_permit(signer, price, order.deadline)
    signed = SignedOrder.sign(signer, order, permit, market.chain.chain_id, market.market.address)
    start_block = market.chain.block_number()
    offer(market, signer, entry.model_id, commitment.values, salted, provider, progress=progress, order=signed.to_wire())
    progress(f"signed a gasless order (nonce {order.nonce}); waiting for {order.provider} to fill it")
    while True:
        expired = market.chain.timestamp() >= order.deadline  # read first: a fill mined before it is seen below
        job_id = market.order_filled(signer.address, order.nonce, start_block)
        if job_id is not None:
            break
        if expired:
            raise NgxZkError(
                f"{order.provider} did not fill the order within {ttl_s}s: no job was posted and nothing was paid",
                "try another --provider, or post the job yourself (drop --gasless)",
            )
        time.sleep(POLL_S)
    event = market.posted(job_id)
    record = JobRecord(
        chain_id=market.chain.chain_id,
        job_id=job_id,
        model=circuit.name,
        model_id=entry.model_id,
        consumer=signer.address,
        commitments=commitment.hex,
        price=price,
        salted_input=salted.to_json(),
        post_tx=event.meta.tx_hash,
        offered_to=order.provider,
        gasless=True,
    )
    save_record(settings, record)
    return record


def adopt_as_deliverer(
    settings: Settings, market: Marketplace, signer: Signer, circuit: Circuit, job_id: int, salted: InputData
) -> JobRecord:
    """Take on a job a contract consumer posted naming ``signer`` its deliverer: keep a local record so its
    input (``salted``, whose commitments the contract posted) is handed to whoever claims.

    Refuses, before anything is sent, a job of another model, one that does not name this signer, and a
    salted input that does not open the job's posted commitments."""
    job = market.job(job_id)
    entry = resolve_model(settings, market, circuit)
    if job.model_id != entry.model_id:
        raise NgxZkError(
            f"job {job_id} is for model {job.model_id}, not {circuit.name} (model {entry.model_id})",
            "pass the circuit the job was posted for with --model",
        )
    me = signer.address.lower()
    deliverer = market.job_extras(job_id).deliverer if job.has_deliverer else None
    if me not in {job.consumer.lower(), (deliverer or ZERO).lower()}:
        raise NgxZkError(
            f"job {job_id} does not name {signer.address} as its deliverer "
            f"(consumer {job.consumer}, deliverer {deliverer or 'none'})",
            "use the account the job names",
        )
    if salted.salt is None:
        raise NgxZkError("the input has no salt: give the salted input whose commitments were posted (ngx-zk commit --out)")
    commitment, _ = commit(circuit.manifest, salted, new_salt=False, kzg=kzg_key(circuit, settings))
    event = market.posted(job_id)
    if list(commitment.values) != list(event.event.input_commitments):
        raise NgxZkError(
            f"this input does not open job {job_id}'s posted commitments: a provider would decline it",
            "give the salted input whose commitments the contract posted",
        )
    record = JobRecord(
        chain_id=market.chain.chain_id,
        job_id=job_id,
        model=circuit.name,
        model_id=entry.model_id,
        consumer=job.consumer,
        commitments=commitment.hex,
        price=event.event.price,
        salted_input=salted.to_json(),
        post_tx=event.meta.tx_hash,
        deliverer_for=signer.address,
    )
    save_record(settings, record)
    return record


def offer(
    market: Marketplace,
    signer: Signer,
    model_id: int,
    commitments: Sequence[int],
    salted: InputData,
    provider: str,
    *,
    progress: Progress = lambda _: None,
    order: str | None = None,
) -> bool:
    """Offer a job about to be posted to ``provider``: its endpoint gets the input, sealed, before the post.

    Proving needs the input, not the job: the provider's worker starts at once, and claims the job
    carrying this input commitment when it appears on chain, so the post and the claim happen while
    it proves. Any provider may still claim first; the input then goes to that one when it claims.
    Returns whether the provider took the offer (a refusal or an unreachable endpoint is reported
    through ``progress`` and the job is posted all the same). An offer carrying a gasless ``order`` has
    no such fallback: a refusal raises.
    """
    provider = to_checksum_address(provider)
    profile = market.provider(provider)
    if not profile.registered:
        raise ChainError(f"{provider} is not a registered provider", "check the address with: ngx-zk provider status ADDRESS")
    endpoint = profile.endpoint_uri
    if not endpoint:
        raise ChainError(
            f"provider {provider} registered no data-plane endpoint to offer the job to",
            "drop --provider: the input then goes to whoever claims the job",
        )
    if len(commitments) != 1:
        progress("this model has several input commitments: offers carry one; the input goes to whoever claims the job")
        return False
    ctx = crypto.JobContext(market.chain.chain_id, market.market.address, 0, model_id, "offer")  # no job id yet
    sealed = _seal_input(signer, salted.to_json(), profile.encryption_pub_key, ctx)
    try:
        dataplane.upload_offer(
            endpoint,
            signer,
            market.chain.chain_id,
            market.market.address,
            model_id,
            commitments[0],
            sealed,
            provider=provider,
            dev_chain=market.dev_chain,
            order=order,
        )
    except dataplane.DataPlaneError as exc:
        if order is not None:
            raise NgxZkError(
                f"{provider} did not take the gasless order: {exc.message}", "try another --provider, or drop --gasless"
            ) from None
        progress(f"offer to {provider} not taken ({exc.message}); the input goes to whoever claims the job")
        return False
    progress(f"offered the job to {provider}: it is proving while the job is posted")
    return True


def _seal_input(signer: Signer, salted_input: dict[str, Any], provider_key: bytes, ctx: crypto.JobContext) -> bytes:
    """The salted input and the consumer's reply key, sealed to the provider's key and bound to ``ctx``."""
    reply_to = crypto.public_bytes(crypto.derive_key(signer.encryption_key_material()))
    body = json.dumps({"input": salted_input, "reply_to": reply_to.hex()}).encode()
    return crypto.seal(provider_key, body, ctx)


def _sealed_input(market: Marketplace, signer: Signer, record: JobRecord, provider: str) -> tuple[bytes, str]:
    """The salted input sealed to ``provider``'s registered key, bound to the job; and its endpoint."""
    profile = market.provider(provider)
    ctx = crypto.JobContext(market.chain.chain_id, market.market.address, record.job_id, record.model_id, "input")
    return _seal_input(signer, record.salted_input, profile.encryption_pub_key, ctx), profile.endpoint_uri


def deliver_input(
    market: Marketplace, signer: Signer, record: JobRecord, job: Job, *, progress: Progress = lambda _: None
) -> str:
    """Seal the salted input to the claiming provider's key and hand it over.

    Through the provider's endpoint when it registered one; if that is unreachable, as an encrypted
    on-chain payload (``deliverInput``) when small enough. Returns "endpoint" or the transaction hash.
    """
    assert job.provider is not None
    payload, endpoint = _sealed_input(market, signer, record, job.provider)
    if endpoint:
        try:
            dataplane.upload_input(
                endpoint,
                signer,
                market.chain.chain_id,
                market.market.address,
                record.job_id,
                payload,
                provider=job.provider,
                dev_chain=market.dev_chain,
            )
            return f"sealed, via {endpoint}"
        except dataplane.DataPlaneError as exc:
            busy = exc.status == 429  # the provider's mailbox holds its quota of this consumer's inputs
            if exc.status is not None and exc.status < 500 and not busy:
                raise
            if len(payload) > MAX_ONCHAIN_PAYLOAD:
                if busy:
                    raise dataplane.DataPlaneError(
                        f"{job.provider} refused job {record.job_id}'s input for now: {exc.message}",
                        429,
                        f"the input is too large to deliver on chain; wait for your other jobs with this provider to "
                        f"settle, then run `ngx-zk job wait {record.job_id}` to deliver it again (before the input deadline)",
                    ) from None
                raise
            why = "is busy" if busy else "is unreachable"
            progress(f"provider endpoint {why} ({exc.message}); delivering on chain instead")
    if len(payload) > MAX_ONCHAIN_PAYLOAD:
        raise ChainError(
            f"the sealed input is {len(payload):,} bytes, above the {MAX_ONCHAIN_PAYLOAD:,}-byte on-chain limit",
            "use a provider with a data-plane endpoint for large inputs",
        )
    receipt = market.deliver_input(signer, record.job_id, payload)
    return receipt.tx


def wait_for_result(
    settings: Settings,
    market: Marketplace,
    signer: Signer,
    circuit: Circuit,
    record: JobRecord,
    *,
    progress: Progress = lambda _: None,
    timeout_s: float | None = None,
    expire_when_due: bool = True,
    poll_s: float | None = None,
) -> JobResult:
    """Follow the job until it is final: deliver the input once claimed, then check the proof.

    At a deadline the consumer expires the job (for its refund, or a second prover), except for a
    gasless job: expiring takes gas, and others do it (a worker, for the second-prover bounty).

    Looks at the chain when the node announces a block (a newHeads subscription, when the node
    has a WebSocket) and at least every ``poll_s`` seconds (default ``POLL_S``): one cheap
    block-number call, and the job itself only when a new block arrived."""
    poll = POLL_S if poll_s is None else poll_s
    woken = threading.Event()
    with NewHeads(ws_url_for(market.chain.url, settings.ws_url), woken.set):
        return _follow(settings, market, signer, circuit, record, progress, timeout_s, expire_when_due, poll, woken)


def _follow(
    settings: Settings,
    market: Marketplace,
    signer: Signer,
    circuit: Circuit,
    record: JobRecord,
    progress: Progress,
    timeout_s: float | None,
    expire_when_due: bool,
    poll: float,
    woken: threading.Event,
) -> JobResult:
    started = time.monotonic()
    tx = {"post": record.post_tx}
    last = None
    block = -1
    resend_at: float | None = None
    due = float("inf")  # the job's current deadline (chain time, in unix seconds)
    head_time, head_seen = 0, time.time()  # the head's chain time, and when it was seen: chain time runs on between blocks
    while True:
        head = market.chain.block_number()
        # nothing to do yet, unless a resend or the deadline is due (an idle devnet mines no block to wake us)
        if (
            head == block
            and not (resend_at is not None and time.monotonic() >= resend_at)
            and head_time + time.time() - head_seen < due
        ):
            _check_timeout(record, last, started, timeout_s)
            woken.wait(poll)
            woken.clear()
            continue
        if head != block:
            head_time, head_seen = market.chain.timestamp(), time.time()
        block = head
        job = market.job(record.job_id)
        if job.status is not last:
            if job.status is JobStatus.OPEN and last is JobStatus.CLAIMED and job.reopened:
                extras = market.job_extras(record.job_id)
                progress(
                    f"{extras.missed_by} missed the prove deadline (slashed): job reopened for a second prover, "
                    f"who earns a {fmt_ngx(extras.bounty)} bounty on top of the price"
                )
            else:
                claimed = f"claimed by {job.provider}" + (f" at {fmt_ngx(job.price)}" if job.price != record.price else "")
                progress(
                    {JobStatus.OPEN: "waiting for a provider to claim", JobStatus.CLAIMED: f"{claimed}; proving"}.get(
                        job.status, job.status.value.lower()
                    )
                )
            last = job.status
        if job.status is JobStatus.CLAIMED and job.provider and job.provider not in record.deliveries:
            if job.provider == record.offered_to and resend_at is None:
                resend_at = time.monotonic() + OFFER_RESEND_S  # it has the input from the offer
            elif job.provider != record.offered_to or time.monotonic() >= (resend_at or 0):
                progress(f"delivering the encrypted input to {job.provider}")
                try:
                    record.deliveries[job.provider] = deliver_input(market, signer, record, job, progress=progress)
                except ContractRevert as exc:
                    if exc.name not in (
                        "JobMarket__InputDeadlinePassed",
                        "JobMarket__ProveWindowClosed",
                        "JobMarket__InvalidStatus",
                    ):
                        raise
                    progress(f"too late to deliver to {job.provider}: its input deadline passed or its claim ended")
                    continue  # the next look at the job sees what became of it (expiry, reopening)
                save_record(settings, record)
        if job.status.final:
            break
        due = job.prove_deadline if job.status is JobStatus.CLAIMED else job.claim_deadline
        if expire_when_due and not record.gasless and devnet.catch_up(market.chain, due) >= due:
            second_round = job.status is JobStatus.CLAIMED and not job.reopened
            progress(
                "prove deadline passed: expiring the claim (the job reopens for a second prover if the provider was at fault)"
                if second_round
                else "deadline passed: expiring the job for a refund"
            )
            tx["expire"] = market.expire(signer, record.job_id).tx
            continue
        _check_timeout(record, job.status, started, timeout_s)
        woken.wait(poll)
        woken.clear()
    if record.deliveries:
        tx["deliver"] = list(record.deliveries.values())[-1]
    seconds = time.time() - record.posted_at
    if job.status is not JobStatus.SETTLED:
        return JobResult(record.job_id, job.status, job.provider, (), False, record.price, tx, seconds, refund=record.price)
    refund = record.price - job.price  # an auction locked a price below the escrowed maximum
    progress("verifying the proof locally")
    outputs, settle_tx = verify_settled(settings, market, circuit, record.job_id, record.commitments)
    tx["settle"] = settle_tx
    if circuit.manifest.visibility.output == "hashed":
        progress("fetching the private output from the provider")
        outputs = fetch_private_output(market, signer, circuit, record, job)
        save_record(settings, record)
    by_input = tuple(tuple(o) for o in circuit.manifest.per_inference(list(outputs)))
    return JobResult(
        record.job_id, job.status, job.provider, outputs, True, job.price, tx, seconds, refund=refund, by_input=by_input
    )


def _check_timeout(record: JobRecord, status: JobStatus | None, started: float, timeout_s: float | None) -> None:
    if timeout_s is not None and time.monotonic() - started > timeout_s:
        raise NgxZkError(
            f"job {record.job_id} is still {status.value if status else 'open'} after {timeout_s:.0f}s",
            f"it stays on chain: follow it with `ngx-zk job wait {record.job_id}`, or once its deadline passed "
            f"get the refund with `ngx-zk job expire {record.job_id}`",
        )


def fetch_private_output(market: Marketplace, signer: Signer, circuit: Circuit, record: JobRecord, job: Job) -> tuple[float, ...]:
    """Fetch the sealed output from the provider, open it, and check it against the proof's output hashes."""
    assert job.provider is not None
    endpoint = market.provider(job.provider).endpoint_uri
    if not endpoint:
        raise ChainError(f"provider {job.provider} has no data-plane endpoint to fetch the private output from")
    sealed = dataplane.fetch_output(
        endpoint,
        signer,
        market.chain.chain_id,
        market.market.address,
        record.job_id,
        provider=job.provider,
        dev_chain=market.dev_chain,
    )
    ctx = crypto.JobContext(market.chain.chain_id, market.market.address, record.job_id, record.model_id, "output")
    m = circuit.manifest
    felts = open_output(crypto.derive_key(signer.encryption_key_material()), sealed, ctx, sum(s.size for s in m.outputs))
    _, instances, _ = market.submitted_result(record.job_id)
    if prover.output_hashes(m, felts) != instances[m.input_instance_count :]:
        raise InvalidProofError(f"the output the provider sent for job {record.job_id} does not match the proven output hash")
    record.output_felts = [str(f) for f in felts]
    return prover.outputs_from_felts(m, felts)


def open_output(key: X25519PrivateKey, sealed: bytes, ctx: crypto.JobContext, count: int) -> list[int]:
    """Open a provider's sealed output: ``count`` field elements, parsed as untrusted JSON.

    Raises :class:`~ngx_zk.dataplane.DataPlaneError` (one line) for anything malformed or hostile."""
    what = f"the output the provider sent for job {ctx.job_id}"
    plaintext = crypto.open_sealed(key, sealed, ctx)  # PayloadError if tampered or not for this job
    try:
        opened = safejson.loads(plaintext, what=what, max_bytes=dataplane.MAX_RESPONSE_BYTES, max_depth=4)
    except NgxZkError as exc:
        raise dataplane.DataPlaneError(exc.message) from None
    felts = opened.get("output_felts") if isinstance(opened, dict) else None
    if (
        not isinstance(felts, list)
        or len(felts) != count
        or not all(isinstance(v, str) and re.fullmatch(r"[0-9]{1,78}", v) and int(v) < 2**256 for v in felts)
    ):
        raise dataplane.DataPlaneError(f"{what} is malformed: expected {count} field elements as decimal strings")
    return [int(v) for v in felts]


def verify_settled(
    settings: Settings, market: Marketplace, circuit: Circuit, job_id: int, commitments: list[str]
) -> tuple[tuple[float, ...], str]:
    """Re-verify the settled proof offline and check it carries our commitments; returns the outputs."""
    proof, instances, event = market.submitted_result(job_id)
    k = circuit.manifest.commitment_count
    if [f"0x{v:064x}" for v in instances[:k]] != commitments:
        raise InvalidProofError(f"job {job_id} was settled with a proof for another input commitment")
    with tempfile.TemporaryDirectory(prefix="ngx-job-") as tmp:
        path = prover.write_proof_from_calldata(proof, instances, Path(tmp) / "proof.json", circuit.manifest)
        checked = prover.verify(path, circuit, settings)
    return checked.outputs, event.meta.tx_hash
