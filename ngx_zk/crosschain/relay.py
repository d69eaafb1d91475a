"""The relayer: carry a job settled on chain A (its proof, input commitments and outputs) to a consumer contract on B.

Anyone may relay; it costs gas on B and earns nothing (payment stays on A). What is carried is checked on A first,
as the auditor does (:func:`ngx_zk.auditor.settled_proof`: an eager job's proof from its settling calldata, an
optimistic one's from its provider, taken only if its keccak is the committed ``proofHash``), and on B by the proof
itself: the mirror rebuilds the instances and runs the pinned verifier, so a relayer cannot change an output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eth_utils.address import to_checksum_address

from ..chain.crosschain import ChainB
from ..chain.market import Marketplace
from ..chain.settlement_types import proof_hash
from ..chain.signer import Signer
from ..chain.types import FLAG_OPTIMISTIC, Job, JobStatus, ModelStatus, commitments_hash
from ..errors import ChainError, DeploymentError, InputError


@dataclass(frozen=True)
class Relayed:
    job_id: int
    model_id: int
    consumer: str
    inputs: list[int]
    outputs: list[int]
    proof_source: str
    key: str
    tx: str
    block: int
    gas_used: int


@dataclass(frozen=True)
class Carried:
    """What chain A settled for one job, checked against A's records."""

    job_id: int
    model_id: int
    inputs: list[int]
    outputs: list[int]
    proof: bytes
    source: str


def read_settled(market: Marketplace, job_id: int, *, explorer: str | None = None) -> Carried:
    """Job ``job_id``'s proof, input commitments and outputs, as settled on chain A. An optimistic job's proof whose
    provider no longer serves it may come from ``explorer``'s mirror (checked against the committed proofHash too)."""
    job = market.job(job_id)
    if job.status is JobStatus.NONE:
        raise InputError(f"job {job_id} does not exist on chain {market.chain.chain_id}", "list jobs with: ngx-zk jobs")
    if job.status is not JobStatus.SETTLED:
        raise ChainError(
            f"job {job_id} is {job.status.value} on chain {market.chain.chain_id}, not Settled: there is no proven output to relay",
            f"wait for it to settle: ngx-zk job wait {job_id}",
        )
    try:
        proof, instances, source = _settled_proof(market, job, explorer)
    except ChainError as exc:
        raise ChainError(f"job {job_id}'s proof is unavailable: {exc.message}", exc.hint) from None
    k = market.model(job.model_id).input_commitment_count
    inputs, outputs = [int(x) for x in instances[:k]], [int(x) for x in instances[k:]]
    if commitments_hash(inputs) != job.commitments_hash or outputs != market.outputs(job_id):
        raise ChainError(
            f"job {job_id}'s proof does not carry the commitments and outputs chain A recorded",
            "query another RPC node for chain A",
        )
    return Carried(job_id, job.model_id, inputs, outputs, proof, source)


def _settled_proof(market: Marketplace, job: Job, explorer: str | None) -> tuple[bytes, list[int], str]:
    """The auditor's :func:`~ngx_zk.auditor.settled_proof`, then, for an optimistic job, ``explorer``'s mirror."""
    from ..auditor import settled_proof
    from ..watch.proofs import fetch_proof, http_fetch, sources, submission_of

    try:
        return settled_proof(market, job)
    except ChainError as exc:
        sub = submission_of(market, job.job_id) if explorer and job.flags & FLAG_OPTIMISTIC else None
        if sub is None or explorer is None:
            raise
        served, failures = fetch_proof(http_fetch(market.dev_chain), sources("", explorer), sub)
        if served is None or proof_hash(served.proof) != sub.proof_hash:
            raise ChainError(
                f"{exc.message}; the explorer: {'; '.join(failures) or 'a proof that is not the committed one'}"
            ) from None
    posted = list(market.posted(job.job_id).event.input_commitments)
    return served.proof, [*posted, *sub.outputs], f"committed proof 0x{sub.proof_hash.hex()[:16]}… mirrored by {explorer}"


def check_route(market: Marketplace, b: ChainB, model_id: int) -> None:
    """Chain B's mirror copies this market, and has the model, not paused."""
    source_chain, source_market = b.source()
    here = (market.chain.chain_id, to_checksum_address(market.market.address))
    if (source_chain, source_market) != here:
        raise ChainError(
            f"wrong chain: the receiver on chain B mirrors market {source_market} on chain {source_chain}, "
            f"but --from is market {here[1]} on chain {here[0]}",
            "point --from at the market the mirror copies, or --to at a chain whose mirror copies this one",
        )
    if not b.is_mirrored(model_id):
        raise DeploymentError(
            f"model {model_id} is not mirrored on chain B ({b.chain.url}): its proofs cannot be checked there",
            f"its mirror's updater mirrors it: ngx-zk crosschain mirror --model {model_id} --from RPC_A --to RPC_B",
        )
    status = market.model(model_id).status
    if status is ModelStatus.PAUSED:
        raise ChainError(
            f"model {model_id} is paused on chain A (its guardian stopped its proofs, e.g. for a verifier bug)",
            f"wait for the unpause; the mirror's updater pauses it on B too: ngx-zk crosschain mirror --model {model_id}",
        )
    if b.entry(model_id)["paused"]:
        raise ChainError(
            f"model {model_id} is paused on chain B's mirror (on chain A it is {status.value})",
            f"the mirror's updater brings it in step with A: ngx-zk crosschain mirror --model {model_id}",
        )


def relay(
    market: Marketplace,
    b: ChainB,
    signer: Signer,
    job_id: int,
    consumer: str,
    *,
    explorer: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Relayed:
    """Deliver job ``job_id``'s verified output to ``consumer`` on chain B through its InferenceReceiver."""
    consumer = to_checksum_address(consumer)
    progress(f"reading job {job_id} on chain A")
    carried = read_settled(market, job_id, explorer=explorer)
    progress("checking chain B's mirror")
    check_route(market, b, carried.model_id)
    if not b.chain.has_code(consumer):
        raise InputError(
            f"--consumer {consumer} has no code on chain B: the output goes to a contract implementing onVerifiedInference",
            "deploy one (e.g. ngx-zk crosschain board) and pass its address",
        )
    key = b.delivery_key(consumer, carried.model_id, carried.inputs, carried.outputs)
    if b.delivered(key):
        raise ChainError(
            f"job {job_id}'s output was already delivered to {consumer} on chain B (delivery 0x{key.hex()})",
            "each output is delivered once per consumer: nothing to do",
        )
    progress("verifying on chain B and delivering")
    fn = b.receiver.functions.deliver(consumer, job_id, carried.model_id, carried.inputs, carried.outputs, carried.proof)
    mined = b.chain.send(fn, signer, what=f"deliver job {job_id}'s output on chain B")
    return Relayed(
        job_id,
        carried.model_id,
        consumer,
        carried.inputs,
        carried.outputs,
        carried.source,
        "0x" + key.hex(),
        mined.tx,
        mined.block_number,
        mined.gas_used,
    )
