"""The auditor: re-check a past job from chain data alone plus the published circuit artifacts.

Checks, each reported with its outcome:
1. the job settled, and its proof is the one in its settling transaction (``submitResult``, ``settleResults`` or
   ``answerChallenge``), or for an optimistic job finalized unchallenged the committed one its provider serves;
2. the registry entry matches the local circuit (artifacts hash, ONNX, settings, vk digest, instance
   counts, SRS flag) and its verifier is exactly the code EZKL renders from the local key: the code
   hash the entry pinned, the code on chain and the re-rendered code agree
   (:func:`ngx_zk.provenance.check_verifier`, the same check consumers and workers make), and its
   registrant is the publisher the manifest binds (:mod:`ngx_zk.catalog`: not a replayed registration);
3. the proof's leading instances are the job's input commitments (from ``JobPosted`` and the
   on-chain ``commitmentsHash``);
4. the proof's output instances equal the outputs the market recorded;
5. the proof verifies offline against the local verification key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import prover
from .artifacts import Circuit
from .catalog import PublishedModel, binding, mismatches
from .chain.market import Marketplace
from .chain.settlement_types import proof_hash
from .chain.types import FLAG_OPTIMISTIC, Job, JobStatus, commitments_hash
from .commitment import proof_points
from .config import Settings
from .errors import ChainError, NgxZkError
from .provenance import check_verifier

RENDERED_CHECK = "verifier code is what EZKL renders from the local vk"
PUBLISHER_CHECK = "the entry's registrant is the publisher its manifest binds"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Verdict:
    job_id: int
    model: str
    checks: list[Check] = field(default_factory=list)
    outputs: tuple[float, ...] = ()

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


def audit_job(settings: Settings, market: Marketplace, circuit: Circuit, job_id: int, explorer: str | None = None) -> Verdict:
    """The auditor's checks of ``job_id`` (see the module docstring); ``explorer``: a proof mirror asked for an
    optimistic job's proof when its provider does not serve it."""
    verdict = Verdict(job_id, circuit.name)
    job = market.job(job_id)
    if not verdict.add("job settled", job.status is JobStatus.SETTLED, f"status {job.status.value}"):
        return verdict
    entry = market.model(job.model_id)
    problems = mismatches(settings, entry, circuit)
    verdict.add("registry entry matches the local circuit", not problems, ", ".join(problems) or f"model {entry.model_id}")
    published = PublishedModel(entry, binding(circuit).publisher)
    verdict.add(
        PUBLISHER_CHECK,
        not published.impostor,
        f"publisher {published.publisher}, registrant {entry.owner}"
        if published.publisher
        else "the manifest binds no publisher (published before binding): not checked",
    )
    verdict.add("verifier has code", market.chain.has_code(entry.verifier), entry.verifier)
    try:
        check = check_verifier(settings, market, entry, circuit)
        verdict.add(
            RENDERED_CHECK, check.ok, "; ".join(check.problems) or f"code hash 0x{check.pinned.hex()} ({entry.kind.name.lower()})"
        )
    except NgxZkError as exc:
        verdict.add(RENDERED_CHECK, False, f"could not re-render the verifier: {exc}")
    try:
        proof, instances, where = settled_proof(market, job, explorer)
    except NgxZkError as exc:
        verdict.add("settlement calldata readable", False, str(exc))
        return verdict
    k, n_out = entry.input_commitment_count, entry.output_count
    posted = list(market.posted(job_id).event.input_commitments)
    verdict.add("instance count", len(instances) == k + n_out, f"{len(instances)} instances, registry says {k}+{n_out}")
    verdict.add(
        "proof commits to the job's input",
        instances[:k] == posted and commitments_hash(posted) == job.commitments_hash,
        "commitments match JobPosted and the on-chain hash",
    )
    if circuit.manifest.polycommit:
        try:
            starts = list(proof_points(proof, circuit.manifest.commitment_points)) == posted
        except NgxZkError:
            starts = False
        verdict.add("proof starts with the job's KZG input commitment", starts, "the point(s) the binding checked on chain")
    verdict.add("outputs match what the market recorded", instances[k:] == market.outputs(job_id))
    try:
        verdict.outputs = prover.verify_calldata(settings, circuit, proof, instances).outputs
        verdict.add("proof verifies offline", True, where)
    except NgxZkError as exc:
        verdict.add("proof verifies offline", False, exc.message)
    return verdict


def settled_proof(market: Marketplace, job: Job, explorer: str | None = None) -> tuple[bytes, list[int], str]:
    """The proof and instances that settled ``job``, and where they came from. An eager job's (or an answered
    challenge's) are in the settling transaction's calldata. An optimistic job finalized unchallenged has no proof
    on chain: its provider serves the committed one (``GET /v1/proofs/{id}``; else ``explorer``'s mirror), taken
    only if its keccak is the committed ``proofHash`` and the committed outputs are the ones the market recorded,
    with the job's commitments and those outputs as instances."""
    try:
        proof, instances, event = market.submitted_result(job.job_id)
        return proof, instances, f"tx {event.meta.tx_hash}"
    except ChainError:
        if not job.flags & FLAG_OPTIMISTIC:
            raise
    from .watch.proofs import fetch_proof, http_fetch, sources, submission_of

    sub = submission_of(market, job.job_id)
    if sub is None:
        raise ChainError(
            f"optimistic job {job.job_id} settled but its JobSubmitted event was not found", "query another RPC node"
        )
    places = sources(market.provider(sub.provider).endpoint_uri, explorer)
    served, failures = fetch_proof(http_fetch(market.dev_chain), places, sub)
    if served is None or proof_hash(served.proof) != sub.proof_hash:
        looked = ", ".join(f"the {name} at {base}" for name, base, _ in places) or "nowhere: the provider has no endpoint"
        raise ChainError(
            f"job {job.job_id} settled optimistically (its proof is not on chain) and its provider"
            f"{' (nor the explorer mirror)' if explorer else ''} does not serve the committed proof "
            f"0x{sub.proof_hash.hex()[:16]}… (looked at {looked}: {'; '.join(failures) or 'nothing served'})",
            "providers serve it until a day after finalization; name an explorer that mirrors it (--explorer URL)",
        )
    if list(sub.outputs) != market.outputs(job.job_id):
        raise ChainError(
            f"the outputs committed for job {job.job_id} are not the ones the market recorded at its settlement",
            "the node served logs the chain does not back; query another RPC node",
        )
    posted = list(market.posted(job.job_id).event.input_commitments)
    where = f"committed proof 0x{sub.proof_hash.hex()[:16]}… served by the {served.source}"
    return served.proof, [*posted, *sub.outputs], where
