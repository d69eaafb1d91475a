"""Is a registry entry's judge the verifier EZKL renders from the model's published key?

Registration is permissionless: anyone may name any contract with code as a model's verifier,
including one that answers "valid" to any bytes. The registry pins the verifier's runtime code hash
(``EXTCODEHASH``) at registration and ``artifactsHash`` (sha256 of the circuit's ``manifest.json``,
which pins every artifact). :func:`check_verifier` recomputes what the code hash must be from the
local circuit and compares it with the pinned hash and with the code at the verifier address now:

- **dedicated**: EZKL renders ``Halo2Verifier.sol`` from the vk, settings and SRS, the pinned
  solcjs compiles it (:func:`ngx_zk.evm.dedicated_verifier`); keccak256 of its runtime is the hash.
- **reusable**: one contract serves every model, so the code must be the deployment's
  ``Halo2VerifierReusable``; the model's key is its VKA, whose digest the entry must pin.
- **polycommit input** (either kind): the entry's verifier is a ``PolycommitBinding`` that checks
  the proof starts with the posted KZG commitment, then calls the verifier above. Its code must be
  exactly what ``PolycommitBinding(inner, points)`` deploys for the circuit's number of points, and
  the code at ``inner`` must be the rendered (or the reusable) verifier.

Publishers, ``model pull``, consumers, workers and the auditor all call the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.crypto import keccak

from . import evm
from .artifacts import MANIFEST, Circuit, sha256_file
from .chain.market import Marketplace, ModelEntry, VerifierKind
from .config import Settings
from .errors import ChainError

REUSABLE_VERIFIER = "Halo2VerifierReusable"
"""The deployment's shared verifier contract (its name in the deployments file)."""


class VerifierProvenanceError(ChainError):
    """A model's verifier is not the code EZKL renders from its key: its "valid" proves nothing."""

    def __init__(self, check: VerifierCheck) -> None:
        super().__init__(
            f"model {check.model_id}: verifier code hash mismatch: {'; '.join(check.problems)}",
            "do not use this model id: its verifier may accept any proof; use the id its publisher announced",
        )
        self.check = check


@dataclass(frozen=True)
class VerifierCheck:
    """What the verifier of one registry entry is, against what the local circuit renders to."""

    model_id: int
    kind: VerifierKind
    verifier: str
    expected: bytes
    """Code hash the local circuit renders to (dedicated) or the deployment's reusable verifier has."""
    pinned: bytes
    """Code hash the registry pinned at registration."""
    onchain: bytes
    """Code hash at the verifier address now."""
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "model_id": self.model_id,
            "kind": self.kind.name.lower(),
            "verifier": self.verifier,
            "ok": self.ok,
            "expected_code_hash": _hex(self.expected),
            "pinned_code_hash": _hex(self.pinned),
            "onchain_code_hash": _hex(self.onchain),
            "problems": list(self.problems),
        }


def artifacts_hash(circuit: Circuit) -> bytes:
    """sha256 of the circuit's ``manifest.json``: the registry's ``artifactsHash`` (the manifest pins every file)."""
    return bytes.fromhex(sha256_file(circuit.path / MANIFEST))


def expected_code_hash(settings: Settings, market: Marketplace, circuit: Circuit, kind: VerifierKind) -> bytes:
    """The verifier code hash a registry entry for ``circuit`` must pin, for either verifier kind."""
    if kind is VerifierKind.DEDICATED:
        return evm.dedicated_verifier(settings, circuit).code_hash
    return market.code_hash(market.deployment.address(REUSABLE_VERIFIER))


def check_verifier(settings: Settings, market: Marketplace, entry: ModelEntry, circuit: Circuit) -> VerifierCheck:
    """Re-render the entry's verifier from ``circuit`` and compare it with the pinned and the on-chain code."""
    expected = expected_code_hash(settings, market, circuit, entry.kind)
    onchain = market.code_hash(entry.verifier)
    pinned = entry.verifier_code_hash
    source = (
        "EZKL renders from the local vk" if entry.kind is VerifierKind.DEDICATED else f"the deployment's {REUSABLE_VERIFIER} has"
    )
    problems: list[str] = []
    if circuit.manifest.polycommit:
        expected, source = _binding_expected(market, entry, circuit, expected, source, problems)
    elif circuit.manifest.hashed_weights:
        expected, source = _params_binding_expected(market, entry, circuit, expected, source, problems)
    if pinned != expected:
        problems.append(f"the entry pins {_hex(pinned)}, the code {source} hashes to {_hex(expected)}")
    if onchain != pinned:
        problems.append(f"the code at {entry.verifier} hashes to {_hex(onchain)}, not the pinned {_hex(pinned)}")
    if entry.kind is VerifierKind.REUSABLE and entry.vk_digest != keccak(evm.vka_words(settings, circuit)):
        problems.append("the entry's VKA digest is not the local circuit's")
    return VerifierCheck(entry.model_id, entry.kind, entry.verifier, expected, pinned, onchain, tuple(problems))


def _binding_expected(
    market: Marketplace, entry: ModelEntry, circuit: Circuit, inner_expected: bytes, inner_source: str, problems: list[str]
) -> tuple[bytes, str]:
    """For a polycommit circuit: the code hash its ``PolycommitBinding`` must have, noting in ``problems``
    what is wrong with the binding's own inner verifier."""
    points = circuit.manifest.commitment_points
    found = market.binding_of(entry.verifier)
    if found is None:
        problems.append(f"the verifier at {entry.verifier} is not a PolycommitBinding (the circuit's input is KZG-committed)")
        return b"", "a PolycommitBinding has"
    inner, their_points = found
    if their_points != points:
        problems.append(f"the binding checks {their_points} commitment point(s), the circuit has {points}")
    inner_onchain = market.code_hash(inner)
    if inner_onchain != inner_expected:
        problems.append(
            f"the binding's verifier {inner} hashes to {_hex(inner_onchain)}, the code {inner_source} to {_hex(inner_expected)}"
        )
    return keccak(market.binding_code(inner, points)), f"PolycommitBinding({inner}, {points}) has"


def _params_binding_expected(
    market: Marketplace, entry: ModelEntry, circuit: Circuit, inner_expected: bytes, inner_source: str, problems: list[str]
) -> tuple[bytes, str]:
    """For a hashed-weights circuit: the code hash its ``ParamsBinding`` must have (its immutables are the inner
    verifier, the commitment count and the manifest's weight hashes), noting in ``problems`` what differs."""
    m = circuit.manifest
    found = market.params_binding_of(entry.verifier)
    if found is None:
        problems.append(f"the verifier at {entry.verifier} is not a ParamsBinding (the circuit's weights are hashed)")
        return b"", "a ParamsBinding has"
    inner, commitments, params = found
    if params != m.param_hashes:
        problems.append("the binding pins other weight hashes than the manifest's (a proof of these weights cannot settle)")
    if commitments != m.commitment_count:
        problems.append(
            f"the binding inserts the weight hashes after {commitments} instance(s), the circuit after {m.commitment_count}"
        )
    inner_onchain = market.code_hash(inner)
    if inner_onchain != inner_expected:
        problems.append(
            f"the binding's verifier {inner} hashes to {_hex(inner_onchain)}, the code {inner_source} to {_hex(inner_expected)}"
        )
    code = market.params_binding_code(inner, m.commitment_count, m.param_hashes)
    return keccak(code), f"ParamsBinding({inner}, {m.commitment_count}, weight hashes) has"


def require_verifier(settings: Settings, market: Marketplace, entry: ModelEntry, circuit: Circuit) -> VerifierCheck:
    """:func:`check_verifier`, raising :class:`VerifierProvenanceError` unless the code is exactly the rendered one."""
    check = check_verifier(settings, market, entry, circuit)
    if not check.ok:
        raise VerifierProvenanceError(check)
    return check


def _hex(value: bytes) -> str:
    return "0x" + value.hex() if value else "(none)"
