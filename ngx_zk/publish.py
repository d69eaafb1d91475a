"""Publishing a built circuit (its verifier, then its ModelRegistry entry) and finding it again by id.

A dedicated ``Halo2Verifier`` is deployed when it fits the EIP-170 code-size limit; otherwise (or
with ``kind="reusable"``) the model's VKA is registered on the shared reusable verifier, which the
registry pins by digest. The entry also pins the verifier's code hash and the circuit's
``artifactsHash`` (sha256 of ``manifest.json``). Circuits built on a test SRS are refused on anything
but a local dev chain; unsalted inputs and private outputs only with an explicit flag.

Before anything is deployed or registered, publishing proves a sample input and dry-runs settlement
(:func:`dry_run_settlement`): the chosen verifier is called the way ``JobMarket._verify`` calls it,
by ``eth_call`` with the latest block's gas limit, and the model is refused unless it answers "valid"
within a safe fraction of that limit. Otherwise a listed model could take jobs that never settle,
and the provider who claims one would be slashed. The measured gas is recorded with the model.

Before registering, publishing binds its signer into the circuit's ``manifest.json`` as the model's
publisher (:func:`ngx_zk.catalog.bind_publisher`): the entry's ``artifactsHash`` then names who may
register it, and a replay of the registration calldata from another address is an impostor that
``model pull``, consumers and workers refuse. Finding and trusting a published model afterwards is
:mod:`ngx_zk.catalog`'s work.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from . import defaults, evm
from .artifacts import Circuit, Manifest
from .catalog import (
    SETTLEMENTS,
    AmbiguousModelError,
    ModelResolutionError,
    bind_publisher,
    bind_settlement,
    binding,
    check_entry,
    check_publisher,
    describe,
    expected_digest,
    record_model,
    recorded_id,
    same_address,
    same_artifacts,
)
from .chain import simulate
from .chain.market import Marketplace, ModelEntry, VerifierKind
from .chain.signer import Signer
from .commitment import commit, kzg_key, proof_points
from .config import Settings
from .errors import ChainError, CircuitError
from .inputs import InputData
from .inputs import load as load_input
from .provenance import REUSABLE_VERIFIER, VerifierProvenanceError
from .prover import prove_bounded

Progress = Callable[[str], None]
MAX_ROYALTY_BPS = 2_000
PUBLIC_OUTPUTS = ("public", "hashed")
"""Output visibilities whose proof states the output (in the clear or as a Poseidon hash)."""
MAX_BLOCK_FRACTION = 0.5
"""Verification may use at most this share of a block: the rest is the market's own work and head-room."""
DRY_RUN_ADDRESS = to_checksum_address(keccak(text="ngx-zk settlement dry run")[-20:])
"""Where an undeployed dedicated verifier's code is placed (by state override) for the dry run."""


class PublishRefusedError(ChainError):
    """The circuit gives consumers less than the marketplace promises (unsalted input, unproven output)."""


class SettlementDryRunError(PublishRefusedError):
    """The verifier publishing would pin cannot settle a job: it rejects a fresh proof, fails, or needs too much gas."""

    def __init__(
        self, message: str, hint: str, *, kind: VerifierKind, gas: int | None, block_gas_limit: int, reason: str
    ) -> None:
        super().__init__(message, hint)
        self.kind = kind
        self.gas = gas
        self.block_gas_limit = block_gas_limit
        self.reason = reason


@dataclass(frozen=True)
class SettlementCheck:
    """A proof of a sample input, verified by the chosen verifier the way the market calls it."""

    kind: VerifierKind
    verifier: str
    gas: int
    """``eth_estimateGas`` of the verifier call alone (intrinsic and calldata gas included)."""
    block_gas_limit: int


@dataclass(frozen=True)
class PublishResult:
    """What ``model publish`` did: the entry registered (or found), its verifier, and what to tell users."""

    name: str
    model_id: int
    kind: VerifierKind
    verifier: str
    vk_digest: str
    verifier_size: int | None
    already_published: bool = False
    verifier_code_hash: str = ""
    verifier_allowed: bool = False
    """Whether the verifier's code is on governance's allow-list (only then do jobs earn rewards and NRS)."""
    allow_listed_now: bool = False
    """Whether publishing allow-listed it (the local dev chain, published by its verifier curator)."""
    artifacts_hash: str = ""
    metadata_uri: str = ""
    warnings: tuple[str, ...] = ()
    others: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """Other registry entries with the same artifacts (``model_id``, ``owner``, ``royalty_bps``, ``status``)."""
    verification_gas: int | None = None
    """Gas the verifier took on a sample proof in the publish dry run (None: published before it was measured)."""
    block_gas_limit: int | None = None
    settlement: str = "eager"
    """The settlement mode the model's manifest names as its jobs' default (``prove-job`` takes it)."""


def publish_warnings(circuit: Circuit, *, allow_unsalted: bool = False, allow_private_output: bool = False) -> list[str]:
    """Refuse what a consumer would not expect from a published model, unless explicitly allowed.

    Unsalted input commitments can be brute-forced back to a low-entropy input; private outputs are
    not in the proof at all, so a provider may return any output. Returns a warning per allowance used."""
    m = circuit.manifest
    warnings = []
    unsalted = [i.name for i in m.inputs if i.salt_elements * i.salt_bits < defaults.SALT_BITS_TARGET]
    if unsalted:
        if not allow_unsalted:
            raise PublishRefusedError(
                f"circuit {m.name!r} has unsalted input commitments ({', '.join(unsalted)}): a low-entropy input can be "
                "recovered from its hash",
                "rebuild without --no-salt, or pass --allow-unsalted to publish it anyway",
            )
        warnings.append(
            f"publishing {m.name!r} with unsalted inputs ({', '.join(unsalted)}): anyone who can guess an input "
            "can confirm it from the commitment on chain"
        )
    if m.visibility.output not in PUBLIC_OUTPUTS:
        if not allow_private_output:
            raise PublishRefusedError(
                f"circuit {m.name!r} keeps its output {m.visibility.output}: the proof says nothing about the output a "
                "provider returns",
                "rebuild with output public or hashed, or pass --allow-private-output to publish it anyway",
            )
        warnings.append(
            f"publishing {m.name!r} with a {m.visibility.output} output: proofs do not cover the output, "
            "a provider may return any output and still be paid"
        )
    return warnings


def publish(
    settings: Settings,
    market: Marketplace,
    signer: Signer,
    circuit: Circuit,
    *,
    kind: str = "auto",
    royalty_bps: int = 0,
    metadata_uri: str = "",
    allow_unsalted: bool = False,
    allow_private_output: bool = False,
    max_block_fraction: float = MAX_BLOCK_FRACTION,
    sample: InputData | None = None,
    prove_timeout_s: float = defaults.SAMPLE_PROVE_TIMEOUT_S,
    progress: Progress = lambda _: None,
    settlement: str | None = None,
) -> PublishResult:
    """Deploy the verifier and register ``circuit`` (or find this signer's own entry for it); record its id.

    A new registration binds the signer into ``circuit``'s manifest as its publisher first (refused,
    before any chain work, when the manifest binds another: :class:`~ngx_zk.catalog.PublisherBindingError`).

    First proves ``sample`` (default: :func:`circuit_sample`; stopped after ``prove_timeout_s``) and dry-runs its settlement on the chosen
    verifier; raises :class:`SettlementDryRunError`, having deployed and registered nothing, if that
    fails or needs more than ``max_block_fraction`` of the block gas limit.
    ``metadata_uri`` is where the model's bundle (``ngx-zk model bundle``) can be fetched by ``model pull``.
    ``settlement`` (``eager`` or ``optimistic``; None: as the manifest says) is written into the manifest as its
    jobs' default before registration, so the entry's artifacts hash pins it."""
    m = circuit.manifest
    if settlement is not None and settlement not in SETTLEMENTS:
        raise PublishRefusedError(
            f"settlement {settlement!r} is neither eager nor optimistic", "pass --settlement eager or optimistic"
        )
    if m.insecure and not market.dev_chain:
        raise ChainError(
            f"circuit {m.name!r} was built on a local TEST SRS and cannot be published on chain {market.chain.chain_id}",
            "rebuild it with --srs (the public KZG ceremony file); test-SRS circuits are for a local dev chain only",
        )
    if m.visibility.input not in ("hashed", "polycommit"):
        raise ChainError(
            f"circuit {m.name!r} does not commit to its input (input visibility: {m.visibility.input})",
            "jobs bind proofs by input commitment: build with --visibility hashed/fixed/... or polycommit/fixed/...",
        )
    if not 0 <= royalty_bps <= MAX_ROYALTY_BPS:
        raise ChainError(f"royalty {royalty_bps} bps is out of range", f"use 0..{MAX_ROYALTY_BPS}")
    warnings = tuple(publish_warnings(circuit, allow_unsalted=allow_unsalted, allow_private_output=allow_private_output))
    circuit.check()
    progress("looking for an existing entry")
    existing, others = _existing(settings, market, signer, circuit)
    if existing is not None:
        if settlement is not None and settlement != binding(circuit).settlement:
            raise PublishRefusedError(
                f"model {m.name!r} is registered already (model {existing.model_id}) with {binding(circuit).settlement} "
                f"settlement as its default; its artifacts hash pins that",
                "jobs choose their own mode: ngx-zk prove-job --settlement optimistic; or build the model again and publish the new build",
            )
        gas = record_model(settings, market, circuit, existing).verification_gas
        allowed = market.verifier_code_allowed(existing.verifier_code_hash)
        return PublishResult(
            m.name,
            existing.model_id,
            existing.kind,
            existing.verifier,
            "0x" + existing.vk_digest.hex(),
            None,
            True,
            "0x" + existing.verifier_code_hash.hex(),
            allowed,
            False,
            "0x" + existing.artifacts_hash.hex(),
            existing.metadata_uri,
            warnings,
            others,
            gas,
            settlement=binding(circuit).settlement,
        )
    check_publisher(circuit, signer.address)  # before any chain work: another's binding makes this entry an impostor

    progress("rendering and compiling the verifier")
    chosen, size, verifier_addr, vka = VerifierKind.REUSABLE, None, "", b""
    if kind in ("auto", "dedicated"):
        contract = evm.dedicated_verifier(settings, circuit)
        size = contract.deployed_size
        if contract.fits_eip170:
            chosen = VerifierKind.DEDICATED
        elif kind == "dedicated":
            raise ChainError(
                f"the dedicated verifier is {size:,} bytes, above the EIP-170 limit of {evm.EIP170_LIMIT:,}",
                "publish with --verifier reusable",
            )
    oversize = size if size is not None and chosen is VerifierKind.REUSABLE else None
    check = dry_run_settlement(
        settings,
        market,
        circuit,
        chosen,
        max_block_fraction=max_block_fraction,
        sample=sample,
        prove_timeout_s=prove_timeout_s,
        dedicated_size=oversize,
        progress=progress,
    )
    if chosen is VerifierKind.DEDICATED:
        progress(f"deploying the dedicated verifier ({size:,} bytes)")
        verifier_addr = simulate.deploy(
            market.chain, contract.abi, contract.bytecode, signer, what=f"deploy verifier for {m.name}"
        )
    else:
        vka = evm.vka_words(settings, circuit)
        verifier_addr = market.deployment.address("Halo2VerifierReusable")
    if m.polycommit:
        progress(f"deploying the PolycommitBinding ({m.commitment_points} KZG point(s) in front of the verifier)")
        verifier_addr = market.deploy_binding(
            signer, verifier_addr, m.commitment_points, what=f"deploy the polycommit binding for {m.name}"
        )
    if m.hashed_weights:
        progress(f"deploying the ParamsBinding (pins {len(m.param_hashes)} weight hash(es) in front of the verifier)")
        verifier_addr = market.deploy_params_binding(
            signer, verifier_addr, m.commitment_count, m.param_hashes, what=f"deploy the weights binding for {m.name}"
        )
    digest = expected_digest(settings, circuit, chosen)
    if settlement is not None:
        circuit = bind_settlement(circuit, settlement)
    progress(f"binding publisher {signer.address} into {m.name}'s manifest")
    circuit = bind_publisher(circuit, signer.address)

    progress("registering the model")
    spec: dict[str, Any] = {
        "onnx_hash": bytes.fromhex(m.onnx_sha256),
        "settings_hash": bytes.fromhex(m.settings_sha256),
        "vk_digest": digest,
        "verifier": verifier_addr,
        "kind": chosen,
        "input_commitment_count": m.commitment_count,
        "output_count": m.output_instance_count,
        "royalty_bps": royalty_bps,
        "insecure_test_srs": m.insecure,
        "metadata_uri": metadata_uri or f"ngx-zk:{m.name}",
        "artifacts_hash": binding(circuit).artifacts_hash,
    }
    model_id, _ = market.register_model(signer, spec, vka)
    entry = market.model(model_id)
    check_entry(settings, market, entry, circuit)  # what the chain pinned is what we rendered
    allowed, allowed_now = market.verifier_code_allowed(entry.verifier_code_hash), False
    if not allowed and market.dev_chain and same_address(market.verifier_curator(), signer.address):
        progress("allow-listing the verifier's code hash (dev chain, published by the verifier curator)")
        market.allow_verifier_code(signer, entry.verifier_code_hash)
        allowed = allowed_now = True
    record_model(settings, market, circuit, entry, verification_gas=check.gas)
    return PublishResult(
        m.name,
        model_id,
        chosen,
        verifier_addr,
        "0x" + digest.hex(),
        size,
        False,
        "0x" + entry.verifier_code_hash.hex(),
        allowed,
        allowed_now,
        "0x" + entry.artifacts_hash.hex(),
        entry.metadata_uri,
        warnings,
        others,
        check.gas,
        check.block_gas_limit,
        binding(circuit).settlement,
    )


def circuit_sample(circuit: Circuit) -> tuple[InputData, str]:
    """The input publish proves, and how to name it: the one the build calibrated on (``sample.json``),
    else (a circuit from an older build or a bundle) :func:`sample_input`."""
    if circuit.sample.is_file():
        return load_input(circuit.sample, circuit.manifest), f"the build's sample input ({circuit.sample})"
    return sample_input(circuit.manifest), "an all-zero sample input"


def sample_input(manifest: Manifest) -> InputData:
    """An input every circuit accepts: zeros for float inputs, the lowest valid id for integer ones."""
    return InputData(
        tuple(
            tuple((spec.value_range[0] if spec.value_range else 0) if spec.is_int else 0.0 for _ in range(spec.size))
            for spec in manifest.inputs
        )
    )


def dry_run_settlement(
    settings: Settings,
    market: Marketplace,
    circuit: Circuit,
    kind: VerifierKind,
    *,
    max_block_fraction: float = MAX_BLOCK_FRACTION,
    sample: InputData | None = None,
    prove_timeout_s: float = defaults.SAMPLE_PROVE_TIMEOUT_S,
    dedicated_size: int | None = None,
    progress: Progress = lambda _: None,
) -> SettlementCheck:
    """Prove ``sample`` and verify it by ``eth_call`` exactly as ``JobMarket._verify`` would, before any registration.

    The dedicated verifier's code is placed by state override (nothing is deployed); the reusable
    verifier is the deployment's, called with the VKA words the market passes and the VKA marked
    registered by state override. The call gets the latest block's gas limit. Raises
    :class:`SettlementDryRunError` unless it answers valid (and, for the reusable kind, names this
    VKA's digest) within ``max_block_fraction`` of that limit. ``dedicated_size`` (the dedicated
    verifier's size when it did not fit EIP-170) only improves the advice in the error."""
    m = circuit.manifest
    if sample is None:
        sample, what = circuit_sample(circuit)
    else:
        what = "the sample input"
    progress(f"proving {what} for the settlement dry run")
    with tempfile.TemporaryDirectory(prefix="ngx-dry-run-") as tmp:
        commitment, salted = commit(m, sample, kzg=kzg_key(circuit, settings))
        # the verifier's own instances: a polycommit input's points (checked by the binding) are in the proof
        proved = prove_bounded(circuit, salted, Path(tmp) / "proof.json", settings, timeout_s=prove_timeout_s, what=what)
        proof, instances = evm.calldata(proved.path)
    if m.polycommit and proof_points(proof, m.commitment_points) != commitment.values:
        raise CircuitError(
            f"a proof of circuit {m.name!r} does not start with its input's KZG commitment: the binding on chain "
            "would compare the job's commitment with another column, so it is not published",
            "build the model with --visibility hashed/fixed/public",
        )
    limit = simulate.block_gas_limit(market.chain)
    name = kind.name.lower()
    if kind is VerifierKind.DEDICATED:
        target: str = DRY_RUN_ADDRESS
        vka: bytes | None = None
        override = simulate.Override(target, code=evm.dedicated_verifier(settings, circuit).runtime_code)
    else:
        target, vka = to_checksum_address(market.deployment.address(REUSABLE_VERIFIER)), evm.vka_words(settings, circuit)
        override = simulate.Override(target, slots=((evm.registered_vka_slot(vka), (1).to_bytes(32, "big")),))
    data = evm.verify_calldata(proof, instances, vka)

    def refuse(what: str, gas: int | None, reason: str) -> SettlementDryRunError:
        return SettlementDryRunError(
            f"settlement dry run for {m.name!r} failed: the {name} verifier {what}; jobs for it could never settle, "
            "so it was not registered",
            _dry_run_hint(kind, dedicated_size),
            kind=kind,
            gas=gas,
            block_gas_limit=limit,
            reason=reason,
        )

    progress(f"dry-running settlement on the {name} verifier (eth_call, block gas limit {limit:,})")
    try:
        answer = simulate.call(market.chain, market.market.address, target, data, gas=limit, override=override)
    except simulate.SimulationReverted:
        raise refuse("rejected a fresh proof of the sample input (it reverted)", None, "reverted") from None
    except simulate.SimulationFailed as exc:
        if exc.out_of_gas:
            raise refuse(f"ran out of gas with the whole block gas limit ({limit:,} gas)", limit, "out of gas") from None
        raise refuse(f"failed ({exc.detail[:120]})", None, exc.detail) from None
    word = [int.from_bytes(answer[i : i + 32], "big") for i in range(0, min(len(answer), 64), 32)]
    if not word or word[0] != 1 or (vka is not None and (len(word) < 2 or word[1] != int.from_bytes(keccak(vka), "big"))):
        raise refuse(
            f"did not answer valid for a fresh proof of the sample input (returned 0x{answer[:64].hex()})", None, "not valid"
        )
    gas = simulate.estimate_gas(market.chain, market.market.address, target, data, override=override)
    bound = int(limit * max_block_fraction)
    if gas > bound:
        raise refuse(
            f"needs {gas:,} gas to verify a proof, above {max_block_fraction:.0%} of the block gas limit "
            f"({bound:,} of {limit:,})",
            gas,
            "too much gas",
        )
    return SettlementCheck(kind, target, gas, limit)


def _dry_run_hint(kind: VerifierKind, dedicated_size: int | None) -> str:
    if kind is VerifierKind.REUSABLE and dedicated_size is not None:
        return (
            f"its dedicated verifier is {dedicated_size:,} bytes, over EIP-170's {evm.EIP170_LIMIT:,}, and EZKL's reusable "
            "verifier cannot verify every circuit (see README, known limits): shrink the circuit (fewer operations or inner "
            "columns) until its dedicated verifier fits"
        )
    if kind is VerifierKind.REUSABLE:
        return "publish with --verifier dedicated (or auto) instead, or shrink the circuit"
    return "shrink the circuit (fewer operations, lower logrows) or publish on a chain with a higher block gas limit"


def _existing(
    settings: Settings, market: Marketplace, signer: Signer, circuit: Circuit
) -> tuple[ModelEntry | None, tuple[dict[str, Any], ...]]:
    """This signer's usable entry for ``circuit`` (the recorded one first), and everyone else's copies."""
    usable: list[ModelEntry] = []
    others: list[dict[str, Any]] = []
    found: ModelEntry | None = None
    recorded = recorded_id(market, circuit.name)
    for entry in same_artifacts(market, circuit):
        if entry.model_id != recorded and not same_address(entry.owner, signer.address):
            others.append(
                {"model_id": entry.model_id, "owner": entry.owner, "royalty_bps": entry.royalty_bps, "status": entry.status.value}
            )
            continue
        try:
            check_entry(settings, market, entry, circuit)
        except (ModelResolutionError, VerifierProvenanceError):
            continue  # deprecated, paused, or another build of the same model: not reusable
        if entry.model_id == recorded:  # published before, or pulled: publishing again would only add a copy
            found = entry
        usable.append(entry)
    if found is not None:
        return found, tuple(others)
    if len(usable) > 1:
        raise AmbiguousModelError(
            f"{signer.address} already registered {circuit.name!r} more than once on chain {market.chain.chain_id}: {describe(usable)}",
            "choose one and record it: ngx-zk model pull ID",
            usable,
        )
    return (usable[0] if usable else None), tuple(others)


__all__ = [
    "PublishRefusedError",
    "PublishResult",
    "SettlementCheck",
    "SettlementDryRunError",
    "circuit_sample",
    "dry_run_settlement",
    "publish",
    "publish_warnings",
    "sample_input",
]
