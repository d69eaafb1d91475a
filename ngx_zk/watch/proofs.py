"""An optimistic job's proof: fetched from where it is served, and checked against what the provider committed.

The provider committed, on chain, to the job's outputs and to ``keccak256(proof)`` (``JobSubmitted``); the
proof itself is served off chain (``GET /v1/proofs/{jobId}`` at the provider's endpoint, mirrored by the
explorer at ``GET /api/jobs/{id}/proof``). A challenge is answered only by a proof that hashes to the
commitment, carries the job's input commitments and the committed outputs, and verifies. So the check is
the answer's, made offline first: the hash, the instances the answer would need (the job's commitments,
then the committed outputs: the served ``instances`` are only compared with them), a KZG-committed input's
points, then the proof against the local verification key (:func:`ngx_zk.prover.verify_calldata`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from eth_utils.crypto import keccak

from .. import safejson
from ..artifacts import Circuit
from ..commitment import proof_points
from ..config import Settings
from ..errors import NgxZkError

if TYPE_CHECKING:
    from ..chain.market import Marketplace

MAX_PROOF_RESPONSE = 4 * 1024 * 1024
"""Most bytes a proof answer may take (hex doubles the proof; EZKL proofs of the circuits we take are tens of kB)."""
PROOF_TIMEOUT_S = 10.0
"""Seconds one proof fetch may take."""


@dataclass(frozen=True)
class Submission:
    """One optimistic result as the chain holds it: ``JobSubmitted`` and its batch's challenge deadline."""

    job_id: int
    batch_id: int
    provider: str
    outputs: tuple[int, ...]
    proof_hash: bytes
    challenge_deadline: int
    """Chain time (unix seconds) until which anyone may challenge it."""


@dataclass(frozen=True)
class ServedProof:
    """A proof as a provider or a mirror serves it (the answer's calldata)."""

    job_id: int
    proof: bytes
    instances: tuple[int, ...]
    source: str
    """Where it came from: ``provider`` or ``explorer``."""

    def to_json(self) -> dict[str, object]:
        """The wire form (``{"job_id", "proof", "instances"}``), as the explorer mirror serves it again."""
        return {"job_id": self.job_id, "proof": "0x" + self.proof.hex(), "instances": [f"0x{v:064x}" for v in self.instances]}


class Problem(StrEnum):
    """Why a result is challenged."""

    INVALID = "invalid"
    """The committed proof does not verify for the job's commitments and the committed outputs."""
    MISMATCHED = "mismatched"
    """What is served is not what was committed (another proof hash, other commitments or KZG points)."""
    UNAVAILABLE = "unavailable"
    """No source served the proof before the grace point."""


@dataclass(frozen=True)
class ProofCheck:
    """The outcome of checking one served proof: ``problem`` None means the provider could answer a challenge."""

    problem: Problem | None
    detail: str
    source: str | None = None
    outputs: tuple[float, ...] = ()
    """The verified outputs at their scales (a valid proof only)."""

    @property
    def ok(self) -> bool:
        return self.problem is None


class ProofFetchError(NgxZkError):
    """No proof could be read from a source (down, refused, malformed, too large)."""


def parse_served(body: bytes, job_id: int, source: str) -> ServedProof:
    """A proof answer, parsed safely; raises :class:`ProofFetchError` naming what is wrong with it."""
    try:
        data = safejson.loads(body, what=f"the {source}'s proof answer", max_bytes=MAX_PROOF_RESPONSE, max_depth=4)
    except NgxZkError as exc:
        raise ProofFetchError(exc.message) from None
    if not isinstance(data, dict) or not isinstance(data.get("proof"), str) or not isinstance(data.get("instances"), list):
        raise ProofFetchError(f"the {source}'s proof answer is not {{job_id, proof, instances}}")
    if data.get("job_id") != job_id:
        raise ProofFetchError(f"the {source} answered with the proof of job {data.get('job_id')!r}, not job {job_id}")
    try:
        proof = bytes.fromhex(str(data["proof"]).removeprefix("0x"))
        instances = tuple(int(str(v), 16) for v in data["instances"])
    except ValueError:
        raise ProofFetchError(f"the {source}'s proof answer is not 0x hex") from None
    if any(not 0 <= v < 1 << 256 for v in instances):
        raise ProofFetchError(f"the {source}'s proof answer has an instance above 256 bits")
    return ServedProof(job_id, proof, instances, source)


def submission_of(market: Marketplace, job_id: int) -> Submission | None:
    """The optimistic result committed for ``job_id`` and its batch's challenge deadline (None: not submitted)."""
    from ..chain.settlement import Settlement

    settlement = Settlement(market)
    found = settlement.submitted(job_id)
    if found is None:
        return None
    e = found.event
    posted = settlement.batch_submitted(e.batch_id)
    deadline = posted.event.challenge_deadline if posted else settlement.batch(e.batch_id).challenge_deadline
    return Submission(e.job_id, e.batch_id, e.provider, tuple(e.outputs), e.proof_hash, deadline)


Fetch = Callable[[str, str], bytes]
"""``fetch(base_url, path)``: one bounded GET (the data-plane client's rules), raising :class:`NgxZkError` on failure."""


def http_fetch(dev_chain: bool) -> Fetch:
    """The real fetch: public http(s) hosts only (private ones on the dev chain), no redirects, bounded in size and time."""
    from ..dataplane.client import exchange

    def fetch(base: str, path: str) -> bytes:
        return exchange(base, "GET", path, {}, None, dev_chain=dev_chain, timeout_s=PROOF_TIMEOUT_S, max_bytes=MAX_PROOF_RESPONSE)

    return fetch


def sources(endpoint: str, explorer: str | None) -> list[tuple[str, str, str]]:
    """Where a job's proof is asked for, in order: (source name, base URL, path template with ``{job_id}``)."""
    found = [("provider", endpoint, "/v1/proofs/{job_id}")] if endpoint else []
    if explorer:
        found.append(("explorer", explorer.rstrip("/"), "/api/jobs/{job_id}/proof"))
    return found


def fetch_proof(fetch: Fetch, places: Sequence[tuple[str, str, str]], sub: Submission) -> tuple[ServedProof | None, list[str]]:
    """The first served proof that hashes to the committed ``proofHash``; else the last one served (whose hash is
    wrong), or None. Also returns what each source that failed said."""
    failures: list[str] = []
    wrong: ServedProof | None = None
    for name, base, path in places:
        try:
            served = parse_served(fetch(base, path.format(job_id=sub.job_id)), sub.job_id, name)
        except NgxZkError as exc:
            failures.append(f"{name}: {exc.message}")
            continue
        if keccak(served.proof) == sub.proof_hash:
            return served, failures
        wrong = served
        failures.append(f"{name}: served a proof whose keccak is not the committed proofHash")
    return wrong, failures


def check_proof(
    settings: Settings, circuit: Circuit, sub: Submission, commitments: Sequence[int], served: ServedProof
) -> ProofCheck:
    """Would this served proof answer a challenge of ``sub``? (see the module docstring)."""
    got = keccak(served.proof)
    if got != sub.proof_hash:
        return ProofCheck(
            Problem.MISMATCHED, f"the served proof hashes to 0x{got.hex()}, the committed proofHash is 0x{sub.proof_hash.hex()}",
            served.source,
        )  # fmt: skip
    expected = [*commitments, *sub.outputs]
    m = circuit.manifest
    if len(commitments) != m.commitment_count:
        return ProofCheck(
            Problem.MISMATCHED, f"the job posts {len(commitments)} commitments, the circuit takes {m.commitment_count}"
        )
    if m.polycommit:
        try:
            points_ok = list(proof_points(served.proof, m.commitment_points)) == list(commitments)
        except NgxZkError:
            points_ok = False
        if not points_ok:
            return ProofCheck(Problem.MISMATCHED, "the proof does not start with the job's KZG input commitment", served.source)
    from .. import prover  # EZKL is loaded only when a proof is checked (the explorer mirrors without it)

    try:
        verified = prover.verify_calldata(settings, circuit, served.proof, expected)
    except NgxZkError as exc:
        return ProofCheck(
            Problem.INVALID, f"the committed proof does not verify for the committed outputs: {exc.message}", served.source
        )
    note = "" if list(served.instances) == expected else " (the served instances differ; the committed ones verify)"
    return ProofCheck(
        None, f"the committed proof verifies for the job's commitments and outputs{note}", served.source, verified.outputs
    )
