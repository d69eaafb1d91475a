"""Publishing a built circuit: its verifier on chain, then its ModelRegistry entry.

A dedicated ``Halo2Verifier`` is deployed when it fits the EIP-170 code-size limit; otherwise (or
with ``kind="reusable"``) the model's VKA is registered on the shared reusable verifier, which the
registry pins by digest. Circuits built on a test SRS are refused on anything but a local dev chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak

from . import evm
from .artifacts import Circuit
from .chain import deployment as deployments
from .chain.devnet import DEV_CHAIN_ID
from .chain.market import Marketplace, ModelEntry, VerifierKind
from .chain.signer import Signer
from .config import Settings
from .errors import ChainError

Progress = Callable[[str], None]
MAX_ROYALTY_BPS = 2_000


@dataclass(frozen=True)
class PublishedModel:
    name: str
    model_id: int
    kind: VerifierKind
    verifier: str
    vk_digest: str
    verifier_size: int | None
    already_published: bool = False


def is_dev_chain(market: Marketplace) -> bool:
    return market.chain.chain_id == DEV_CHAIN_ID and market.deployment.dev


def expected_digest(settings: Settings, circuit: Circuit, kind: VerifierKind) -> bytes:
    if kind is VerifierKind.DEDICATED:
        return bytes.fromhex(circuit.manifest.vk_sha256)
    return keccak(evm.vka_words(settings, circuit))


def mismatches(settings: Settings, entry: ModelEntry, circuit: Circuit) -> list[str]:
    """How a registry entry differs from the local circuit (empty when they match)."""
    m = circuit.manifest
    problems = []
    if entry.onnx_hash != bytes.fromhex(m.onnx_sha256):
        problems.append("ONNX hash")
    if entry.settings_hash != bytes.fromhex(m.settings_sha256):
        problems.append("settings hash")
    if entry.vk_digest != expected_digest(settings, circuit, entry.kind):
        problems.append("verification key digest")
    if entry.input_commitment_count != m.commitment_count or entry.output_count != m.output_instance_count:
        problems.append("instance counts")
    if entry.insecure_test_srs != m.insecure:
        problems.append("SRS flag")
    return problems


def find_model(settings: Settings, market: Marketplace, circuit: Circuit) -> ModelEntry | None:
    """The active registry entry for this circuit: by the deployments file first, then by scanning."""
    known = market.deployment.models.get(circuit.name)
    candidates = [int(known["model_id"])] if known else []
    candidates += [i for i in range(market.model_count(), 0, -1) if i not in candidates]
    for model_id in candidates:
        entry = market.model(model_id)
        if entry.status == "Active" and entry.onnx_hash == bytes.fromhex(circuit.manifest.onnx_sha256) \
                and not mismatches(settings, entry, circuit):
            return entry
    return None


def publish(
    settings: Settings, market: Marketplace, signer: Signer, circuit: Circuit, *, kind: str = "auto",
    royalty_bps: int = 0, metadata_uri: str = "", progress: Progress = lambda _: None,
) -> PublishedModel:
    m = circuit.manifest
    if m.insecure and not is_dev_chain(market):
        raise ChainError(
            f"circuit {m.name!r} was built on a local TEST SRS and cannot be published on chain {market.chain.chain_id}",
            "rebuild it with --srs (the public KZG ceremony file); test-SRS circuits are for a local dev chain only",
        )
    if m.visibility.input != "hashed":
        raise ChainError(f"circuit {m.name!r} does not hash its input", "jobs bind proofs by input commitment: build with --visibility hashed/fixed/...")
    if not 0 <= royalty_bps <= MAX_ROYALTY_BPS:
        raise ChainError(f"royalty {royalty_bps} bps is out of range", f"use 0..{MAX_ROYALTY_BPS}")
    circuit.check()
    existing = find_model(settings, market, circuit)
    if existing is not None:
        _record(settings, market, circuit, existing.model_id, existing.kind, existing.verifier, existing.vk_digest)
        return PublishedModel(m.name, existing.model_id, existing.kind, existing.verifier, "0x" + existing.vk_digest.hex(), None, True)

    progress("rendering and compiling the verifier")
    chosen, size, verifier_addr, vka = VerifierKind.REUSABLE, None, "", b""
    if kind in ("auto", "dedicated"):
        contract = evm.dedicated_verifier(settings, circuit)
        size = contract.deployed_size
        if contract.fits_eip170:
            chosen = VerifierKind.DEDICATED
        elif kind == "dedicated":
            raise ChainError(f"the dedicated verifier is {size:,} bytes, above the EIP-170 limit of {evm.EIP170_LIMIT:,}",
                             "publish with --verifier reusable")
    if chosen is VerifierKind.DEDICATED:
        progress(f"deploying the dedicated verifier ({size:,} bytes)")
        factory = market.chain.w3.eth.contract(abi=contract.abi, bytecode=contract.bytecode)
        verifier_addr = market.chain.deploy_bytecode(factory.constructor(), signer, what=f"deploy verifier for {m.name}")
    else:
        vka = evm.vka_words(settings, circuit)
        verifier_addr = market.deployment.address("Halo2VerifierReusable")
    digest = expected_digest(settings, circuit, chosen)

    progress("registering the model")
    spec: dict[str, Any] = {
        "onnx_hash": bytes.fromhex(m.onnx_sha256), "settings_hash": bytes.fromhex(m.settings_sha256), "vk_digest": digest,
        "verifier": verifier_addr, "kind": chosen, "input_commitment_count": m.commitment_count,
        "output_count": m.output_instance_count, "royalty_bps": royalty_bps, "insecure_test_srs": m.insecure,
        "metadata_uri": metadata_uri or f"ngx-zk:{m.name}",
    }
    model_id, _ = market.register_model(signer, spec, vka)
    _record(settings, market, circuit, model_id, chosen, verifier_addr, digest)
    return PublishedModel(m.name, model_id, chosen, verifier_addr, "0x" + digest.hex(), size)


def _record(settings: Settings, market: Marketplace, circuit: Circuit, model_id: int, kind: VerifierKind, verifier: str,
            digest: bytes) -> None:
    market.deployment.models[circuit.name] = {"model_id": model_id, "kind": kind.name.lower(), "verifier": verifier,
                                              "vk_digest": "0x" + digest.hex()}
    deployments.save(settings, market.deployment)


def resolve_model(settings: Settings, market: Marketplace, circuit: Circuit) -> ModelEntry:
    entry = find_model(settings, market, circuit)
    if entry is None:
        raise ChainError(f"model {circuit.name!r} is not published on chain {market.chain.chain_id} (or its entry does not match the local circuit)",
                         f"publish it: ngx-zk model publish {circuit.name}")
    return entry
