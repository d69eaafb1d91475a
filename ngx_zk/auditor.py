"""The auditor: re-check a past job from chain data alone plus the published circuit artifacts.

Checks, each reported with its outcome:
1. the job settled and its settlement transaction is a ``submitResult`` call;
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

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import prover
from .artifacts import Circuit
from .catalog import PublishedModel, binding, mismatches
from .chain.market import Marketplace
from .chain.types import JobStatus, commitments_hash
from .commitment import proof_points
from .config import Settings
from .errors import NgxZkError
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


def audit_job(settings: Settings, market: Marketplace, circuit: Circuit, job_id: int) -> Verdict:
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
        proof, instances, event = market.submitted_result(job_id)
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
    with tempfile.TemporaryDirectory(prefix="ngx-audit-") as tmp:
        path = prover.write_proof_from_calldata(proof, instances, Path(tmp) / "proof.json", circuit.manifest)
        try:
            checked = prover.verify(path, circuit, settings)
            verdict.outputs = checked.outputs
            verdict.add("proof verifies offline", True, f"tx {event.meta.tx_hash}")
        except NgxZkError as exc:
            verdict.add("proof verifies offline", False, exc.message)
    return verdict
