"""Show one inference of a settled job to a third party, and nothing of the others.

Every input of a batch job has its own salt and its own Poseidon commitment among the proof's public
instances (see :func:`ngx_zk.onnx_model.batched`). A disclosure hands over one inference: its input,
its salt and its output as field elements, plus where the job lives. The holder of the model's
circuit checks it against chain data alone:

1. the job passes the auditor's checks (settled through the registry's pinned verifier, the proof
   verifies, it carries the job's posted commitments);
2. Poseidon(input || salt) is the commitment at the inference's place in the proof's instances;
3. the output is the inference's output instances (public outputs), or hashes to them (hashed outputs).

The other inferences stay hidden behind their own salted commitments (and output hashes, for a
private model).

An optimistic job finalized unchallenged has no proof on chain: its proof is fetched from its provider's
endpoint (``GET /v1/proofs/ID``) or an explorer's mirror, and taken only if its keccak is the committed
``proofHash`` and the committed outputs are the ones the market recorded
(:func:`ngx_zk.auditor.settled_proof`); the instances are then the job's commitments and those outputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import prover, safejson
from .artifacts import Circuit
from .auditor import Verdict, audit_job, settled_proof
from .chain.market import Marketplace
from .chain.types import JobStatus
from .commitment import commit, kzg_key
from .config import Settings
from .errors import InputError, NgxZkError
from .inputs import InputData, parse, split_batch

KIND = "ngx-zk/disclosure"
VERSION = 1
MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Disclosure:
    chain_id: int
    market: str
    job_id: int
    model: str
    index: int
    """0-based place of the inference in the job (0 for a single job)."""
    input: InputData
    output_felts: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "version": VERSION,
            "chain_id": self.chain_id,
            "market": self.market,
            "job_id": self.job_id,
            "model": self.model,
            "inference": self.index + 1,
            **self.input.to_json(),
            "output_felts": [str(f) for f in self.output_felts],
        }


def disclose(
    market: Marketplace,
    circuit: Circuit,
    job_id: int,
    salted_input: dict[str, Any],
    index: int,
    private_output_felts: list[str] | None = None,
    explorer: str | None = None,
) -> Disclosure:
    """The disclosure of inference ``index`` (0-based) of one of our settled jobs (``salted_input``: the job record's;
    ``explorer``: a proof mirror asked when an optimistic job's provider no longer serves its proof)."""
    m = circuit.manifest
    if not 0 <= index < m.batch:
        raise InputError(f"job {job_id} holds {m.batch} inference(s): there is no inference {index + 1}", f"choose 1..{m.batch}")
    job = market.job(job_id)
    if job.status is not JobStatus.SETTLED:
        raise NgxZkError(f"job {job_id} is not settled: there is no proven output to disclose", f"ngx-zk job show {job_id}")
    batch = parse(salted_input, m, source=f"the record of job {job_id}")
    part = split_batch(batch, m)[index]
    single = m.single()
    per = single.output_instance_count if m.visibility.output == "public" else sum(o.size for o in single.outputs)
    if m.visibility.output == "public":
        _, instances, _ = settled_proof(market, job, explorer)
        start = m.input_instance_count + index * per
        felts = instances[start : start + per]
    elif m.visibility.output == "hashed":
        if not private_output_felts:
            raise NgxZkError(
                f"the private output of job {job_id} is not in its local record",
                "it is recorded when `ngx-zk prove-job` / `job wait` fetches it from the provider",
            )
        felts = [int(f) for f in private_output_felts][index * per : (index + 1) * per]
    else:
        raise NgxZkError(f"model {m.name!r} keeps its outputs private to the prover: nothing proven to disclose")
    return Disclosure(market.chain.chain_id, market.market.address, job_id, m.name, index, part, tuple(felts))


def load(text: bytes | str, circuit: Circuit) -> Disclosure:
    """Parse a disclosure file from a stranger: every field checked, nothing trusted."""
    data = safejson.loads(text, what="the disclosure", max_bytes=MAX_BYTES)
    if not isinstance(data, dict) or data.get("kind") != KIND or data.get("version") != VERSION:
        raise InputError("not an ngx-zk disclosure (version 1)", "make one with: ngx-zk job disclose JOB --inference K")
    try:
        chain_id, job_id, index = int(data["chain_id"]), int(data["job_id"]), int(data["inference"]) - 1
        market, model, felts = str(data["market"]), str(data["model"]), data["output_felts"]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"the disclosure is missing or mangles a field ({exc})") from None
    if model != circuit.name:
        raise InputError(f"the disclosure is for model {model!r}, not {circuit.name!r}", f"pass --model {model}")
    if not isinstance(felts, list) or not all(isinstance(f, str) and re.fullmatch(r"[0-9]{1,78}", f) for f in felts):
        raise InputError("the disclosure's output_felts must be decimal strings")
    single = circuit.manifest.single()
    part = parse(
        {"input_data": data.get("input_data"), **({"salt": data["salt"]} if "salt" in data else {})},
        single,
        source="the disclosure",
    )
    return Disclosure(chain_id, market, job_id, model, index, part, tuple(int(f) for f in felts))


def check(settings: Settings, market: Marketplace, circuit: Circuit, d: Disclosure, explorer: str | None = None) -> Verdict:
    """The auditor's verdict on the job, plus the disclosure's own checks (see the module docstring)."""
    m = circuit.manifest
    if (d.chain_id, d.market.lower()) != (market.chain.chain_id, market.market.address.lower()):
        raise NgxZkError(
            f"the disclosure is for the market {d.market} on chain {d.chain_id}",
            "connect to that chain (--rpc-url) with its deployment record",
        )
    verdict = audit_job(settings, market, circuit, d.job_id, explorer)
    if not verdict.valid:
        return verdict
    if not verdict.add("inference exists in the job", 0 <= d.index < m.batch, f"inference {d.index + 1} of {m.batch}"):
        return verdict
    single = m.single()
    _, instances, _ = settled_proof(market, market.job(d.job_id), explorer)
    k = single.commitment_count
    commitment, _ = commit(single, d.input, kzg=kzg_key(circuit, settings))
    verdict.add(
        "input and salt hash to the inference's commitment",
        list(commitment.values) == instances[d.index * k : (d.index + 1) * k],
        f"commitment {d.index * k + 1} of {m.commitment_count}",
    )
    base, per = m.input_instance_count, single.output_instance_count
    proven = instances[base + d.index * per : base + (d.index + 1) * per]
    if m.visibility.output == "hashed":
        ok = (
            len(d.output_felts) == sum(o.size for o in single.outputs)
            and prover.output_hashes(single, list(d.output_felts)) == proven
        )
        verdict.add("output hashes to the inference's proven output hash", ok)
    else:
        verdict.add("output is the inference's proven output", list(d.output_felts) == proven)
    verdict.outputs = prover.outputs_from_felts(single, list(d.output_felts)) if verdict.valid else ()
    return verdict
