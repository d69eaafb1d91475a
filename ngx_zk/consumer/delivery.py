"""The input's way to the provider and the output's way back: sealed to the provider's X25519 key and bound
to the job, through the provider's endpoint (:mod:`ngx_zk.dataplane.client`) or, for inputs, on chain.

Then the output is checked: the settled proof re-verified offline against our commitments, a private
output opened and checked against the proven output hash.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_utils.address import to_checksum_address

from .. import crypto, prover, safejson
from ..artifacts import Circuit
from ..chain.types import Job, JobStatus
from ..config import Settings
from ..dataplane import client as dataplane
from ..errors import ChainError, InvalidProofError, NgxZkError
from ..inputs import InputData
from .records import JobRecord
from .view import ConsumerView

if TYPE_CHECKING:
    from ..chain.market import Marketplace
    from ..chain.signer import Signer

Progress = Callable[[str], None]
MAX_ONCHAIN_PAYLOAD = 32 * 1024
"""JobMarket.MAX_INPUT_PAYLOAD: larger inputs need the provider's endpoint."""
RETRY_FIRST_S = 2.0
RETRY_MAX_S = 30.0
"""An account without ETH retries a busy endpoint after 2 s, doubling up to 30 s, until the input deadline."""
INPUT_MARGIN_S = 3
"""Seconds before the input deadline at which it stops trying (a later delivery may land too late)."""


def offer(
    market: ConsumerView,
    signer: Signer,
    model_id: int,
    commitments: Sequence[int],
    salted: InputData,
    provider: str,
    *,
    progress: Progress = lambda _: None,
    order: str | None = None,
    retry_s: float = 0.0,
    pause: Callable[[float], None] = time.sleep,
) -> bool:
    """Offer a job about to be posted to ``provider``: its endpoint gets the input, sealed, before the post.

    Proving needs the input, not the job: the provider's worker starts at once, and claims the job
    carrying this input commitment when it appears on chain, so the post and the claim happen while
    it proves. Any provider may still claim first; the input then goes to that one when it claims.
    Returns whether the provider took the offer (a refusal or an unreachable endpoint is reported
    through ``progress`` and the job is posted all the same). An offer carrying a gasless ``order`` has
    no such fallback: a refusal raises, except a busy endpoint (429: this consumer's offers are at the
    provider's quota until one of them is filled), which is tried again for up to ``retry_s`` seconds.
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
    sealed = seal_input(signer, salted.to_json(), profile.encryption_pub_key, ctx)
    until, delay = time.monotonic() + retry_s, RETRY_FIRST_S
    while True:
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
            break
        except dataplane.DataPlaneError as exc:
            if order is None or exc.status != 429 or time.monotonic() + delay > until:
                return _not_taken(provider, exc, order, progress)
            progress(f"{provider} is busy ({exc.message}); offering the order again in {delay:.0f}s")
            pause(delay)
            delay = min(RETRY_MAX_S, 2 * delay)
    progress(f"offered the job to {provider}: it is proving while the job is posted")
    return True


def _not_taken(provider: str, exc: dataplane.DataPlaneError, order: str | None, progress: Progress) -> bool:
    """A refused offer: an error for a gasless order (nothing else can post it), else a line (the job goes to any claimer)."""
    if order is not None:
        raise NgxZkError(
            f"{provider} did not take the gasless order: {exc.message}", "try another --provider, or drop --gasless"
        ) from None
    progress(f"offer to {provider} not taken ({exc.message}); the input goes to whoever claims the job")
    return False


def seal_input(signer: Signer, salted_input: dict[str, Any], provider_key: bytes, ctx: crypto.JobContext) -> bytes:
    """The salted input and the consumer's reply key, sealed to the provider's key and bound to ``ctx``."""
    reply_to = crypto.public_bytes(crypto.derive_key(signer.encryption_key_material()))
    body = json.dumps({"input": salted_input, "reply_to": reply_to.hex()}).encode()
    return crypto.seal(provider_key, body, ctx)


def deliver_input(
    market: ConsumerView,
    signer: Signer,
    record: JobRecord,
    job: Job,
    *,
    progress: Progress = lambda _: None,
    pause: Callable[[float], None] = time.sleep,
) -> str:
    """Seal the salted input to the claiming provider's key and hand it over.

    Through the provider's endpoint when it registered one; if that is unreachable or busy (429: its
    mailbox holds its quota of this consumer's inputs), as an encrypted on-chain payload
    (``deliverInput``) when small enough and the account can pay its gas. An account that cannot (a gasless
    consumer holds no ETH) never sends it: it retries the endpoint (``pause`` between tries, with progress
    lines) until the job's input deadline, then raises :class:`UndeliveredError`, unless the job moves on
    meanwhile (submitted with the offer's input, ended). Returns "sealed, via ENDPOINT", the transaction hash
    or "not needed: ...".
    """
    assert job.provider is not None
    profile = market.provider(job.provider)
    ctx = crypto.JobContext(market.chain.chain_id, market.market.address, record.job_id, record.model_id, "input")
    payload, endpoint = seal_input(signer, record.salted_input, profile.encryption_pub_key, ctx), profile.endpoint_uri
    waited_since, tries = None, 0
    while endpoint:
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
            busy = exc.status == 429
            if exc.status is not None and exc.status < 500 and not busy:
                raise
            why = f"provider endpoint is {'busy' if busy else 'unreachable'} ({exc.message})"
            if len(payload) > MAX_ONCHAIN_PAYLOAD:
                if busy:
                    raise dataplane.DataPlaneError(
                        f"{job.provider} refused job {record.job_id}'s input for now: {exc.message}",
                        429,
                        f"the input is too large to deliver on chain; wait for your other jobs with this provider to "
                        f"settle, then run `ngx-zk job wait {record.job_id}` to deliver it again (before the input deadline)",
                    ) from None
                raise
            current = market.job(record.job_id)
            if tries and (current.status is not JobStatus.CLAIMED or current.provider != job.provider):
                return f"not needed: the job is {current.status.value.lower()}"  # the offer's input sufficed, or it ended
            short = market.delivery_shortfall(signer.address, record.job_id, payload)
            if not short:
                progress(f"{why}; delivering on chain instead")
                break
            now = market.chain.timestamp()
            if waited_since is None:
                waited_since = (time.monotonic(), now)
            # the chain's clock, or the wall clock where the chain's stands still (an idle devnet)
            left = job.input_deadline - max(now, waited_since[1] + int(time.monotonic() - waited_since[0]))
            if left <= INPUT_MARGIN_S:
                raise UndeliveredError(record.job_id, job, signer.address, why, short) from None
            tries += 1
            delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (tries - 1), left - INPUT_MARGIN_S)
            progress(
                f"job {record.job_id}: {why}; {signer.address} has no ETH to deliver on chain, "
                f"so trying the endpoint again in {delay:.0f}s ({left}s left before the input deadline; "
                "fund the account with a little ETH to deliver on chain instead)"
            )
            pause(delay)
    if len(payload) > MAX_ONCHAIN_PAYLOAD:
        raise ChainError(
            f"the sealed input is {len(payload):,} bytes, above the {MAX_ONCHAIN_PAYLOAD:,}-byte on-chain limit",
            "use a provider with a data-plane endpoint for large inputs",
        )
    if not endpoint and (short := market.delivery_shortfall(signer.address, record.job_id, payload)):
        raise UndeliveredError(record.job_id, job, signer.address, "it registered no endpoint", short)
    return market.deliver_input(signer, record.job_id, payload).tx


class UndeliveredError(ChainError):
    """A job's input that neither the provider's endpoint took nor the account can pay to deliver on chain."""

    def __init__(self, job_id: int, job: Job, account: str, why: str, short_wei: int) -> None:
        self.job_id, self.account, self.short_wei = job_id, account, short_wei
        super().__init__(
            f"job {job_id}: the input was not delivered to {job.provider}: {why}, and {account} lacks "
            f"{short_wei / 10**18:.6f} ETH to deliver it on chain (nothing was sent)",
            f"nothing is lost yet. Fund {account} with a little ETH and run `ngx-zk job wait {job_id}` before the input "
            f"deadline (block time {job.input_deadline}) to deliver it on chain. After that the provider may decline the "
            f"job for a missing input (your escrow comes back, less at most its slash, burned, once its free declines "
            f"are used up); if it neither declines nor proves, the escrow is refundable after the prove deadline "
            f"(block time {job.prove_deadline}) with `ngx-zk job expire {job_id}` (anyone may send it; it takes gas)",
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
    if prover.output_hashes(m, felts) != market.outputs(record.job_id):  # JobSettled's outputs, checked against storage
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
