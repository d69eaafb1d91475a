"""The registry room: finding a published model and deciding whether to trust it.

``model publish``, ``model pull``, the consumer, the worker and the auditor all stand on this module.
Read in this order:

1. **The publisher binding.** ``model publish`` writes its signer's address into the circuit's
   ``manifest.json`` (:func:`bind_publisher`) before registering, and the registry entry pins
   ``artifactsHash`` = sha256 of that file. Everything identifying a model is in the owner's public
   ``registerModel`` calldata, so anyone can replay it first from another address; the replayed entry
   then pins a manifest that names someone else as its publisher. :func:`binding` reads the artifacts
   hash and the bound publisher from the same bytes.
2. **Lookup.** A model is addressed by (chain id, model id), never found by scanning for matching
   hashes: :func:`resolve_model` (by local name, the id recorded at publish or pull), :func:`lookup`
   (by id). Both refuse an entry that differs from the local circuit (:func:`mismatches`), whose
   registrant is not the publisher its manifest binds (:class:`ImpostorError`), or whose verifier is not
   the code EZKL renders from the key (:mod:`ngx_zk.provenance`).
3. **The copies report.** :func:`copies_report` scans the registry for other entries of the same model
   and says what each is: an *impostor* (same manifest, registrant not its publisher), another entry of
   the *publisher*, an *unbound* one (a manifest from before binding: the chain cannot tell whose it is),
   or an *other build* (same ONNX and settings, another manifest). Registration order is never taken
   for authenticity: a front-runner is always first.
4. **The record.** :func:`record_model` writes the id into the deployments file
   (:class:`~ngx_zk.chain.deployment.RecordedModel`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from enum import StrEnum

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from . import evm
from .artifacts import MANIFEST, Circuit
from .chain import deployment as deployments
from .chain.market import Marketplace, ModelEntry, ModelStatus, VerifierKind
from .config import Settings
from .errors import ChainError, CircuitError
from .provenance import check_verifier, require_verifier

PUBLISHER_KEY = "publisher"
"""The manifest key ``model publish`` binds the publisher's address under."""
SETTLEMENT_KEY = "settlement"
"""The manifest key of a model's default settlement mode (``optimistic``; absent: ``eager``), pinned by the artifacts hash."""
SETTLEMENTS = ("eager", "optimistic")


class ModelResolutionError(ChainError):
    """No usable registry entry for a local circuit: none recorded, or the recorded one does not match."""

    def __init__(
        self, message: str, hint: str | None = None, *, model_id: int | None = None, problems: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, hint)
        self.model_id = model_id
        self.problems = problems


class ImpostorError(ModelResolutionError):
    """A registry entry whose registrant is not the publisher its own manifest binds: a replay of someone's registration."""

    def __init__(self, entry: ModelEntry, publisher: str, genuine: tuple[int, ...] = ()) -> None:
        where = (
            f"the publisher's own entry is {_ids(genuine)}: ngx-zk model pull {genuine[0]}"
            if genuine
            else "ask the publisher for its model id"
        )
        super().__init__(
            f"registry model {entry.model_id} is an impostor: it was registered by {to_checksum_address(entry.owner)}, but the "
            f"manifest it pins binds publisher {publisher} (a replay of the publisher's registration; its royalty goes to "
            "the replayer)",
            f"{where}; nothing was installed or posted",
            model_id=entry.model_id,
            problems=("publisher",),
        )
        self.entry, self.publisher, self.genuine = entry, publisher, genuine


class AmbiguousModelError(ChainError):
    """Several registry entries carry the same artifacts and nothing binds one of them: a person decides."""

    def __init__(self, message: str, hint: str | None, entries: list[ModelEntry]) -> None:
        super().__init__(message, hint)
        self.entries = entries


class PublisherBindingError(CircuitError):
    """A circuit's manifest binds another publisher than the one about to register it."""


@dataclass(frozen=True)
class Binding:
    """What a circuit's ``manifest.json`` pins, read from one read of its bytes."""

    artifacts_hash: bytes
    """sha256 of ``manifest.json``: the registry's ``artifactsHash``."""
    publisher: str | None
    """The checksummed address the manifest binds, or None (built and never published, or published before binding)."""
    settlement: str = "eager"
    """The settlement mode jobs of this model take by default (``model publish --settlement``)."""


def binding(circuit: Circuit) -> Binding:
    """The artifacts hash, the bound publisher and the default settlement of ``circuit``, from the same bytes of its manifest."""
    raw = (circuit.path / MANIFEST).read_bytes()
    return Binding(hashlib.sha256(raw).digest(), _publisher_in(raw), _settlement_in(raw))


def _settlement_in(raw: bytes) -> str:
    try:
        value = json.loads(raw).get(SETTLEMENT_KEY)
    except (ValueError, AttributeError, TypeError):
        return "eager"
    return value if value in SETTLEMENTS else "eager"


def bind_settlement(circuit: Circuit, settlement: str) -> Circuit:
    """Write ``settlement`` as the model's default into ``circuit``'s manifest before it is registered (one atomic
    rewrite; ``eager`` leaves the key out, so an eager model's artifacts hash is what it always was)."""
    if settlement not in SETTLEMENTS:
        raise CircuitError(f"settlement {settlement!r} is neither eager nor optimistic", "pass --settlement eager or optimistic")
    path = circuit.path / MANIFEST
    raw = path.read_bytes()
    if _settlement_in(raw) == settlement:
        return circuit
    data = json.loads(raw)
    data.pop(SETTLEMENT_KEY, None)
    if settlement != "eager":
        data[SETTLEMENT_KEY] = settlement
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes((json.dumps(data, indent=2) + "\n").encode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return Circuit.load(circuit.path)


def _publisher_in(raw: bytes) -> str | None:
    try:
        value = json.loads(raw).get(PUBLISHER_KEY)
        return to_checksum_address(value) if isinstance(value, str) and value else None
    except (ValueError, AttributeError, TypeError):
        return None


def _bound_bytes(raw: bytes, publisher: str) -> bytes:
    """``manifest.json`` with ``publisher`` bound (the same layout ``model build`` writes)."""
    data = json.loads(raw)
    data[PUBLISHER_KEY] = to_checksum_address(publisher)
    return (json.dumps(data, indent=2) + "\n").encode()


def bind_publisher(circuit: Circuit, publisher: str) -> Circuit:
    """Bind ``publisher`` into ``circuit``'s manifest (one atomic rewrite); returns the circuit as it now is.

    A no-op when it binds ``publisher`` already; raises :class:`PublisherBindingError` when it binds
    another (its entry would be an impostor's)."""
    path = circuit.path / MANIFEST
    raw = path.read_bytes()
    if check_publisher(circuit, publisher):
        return circuit
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(_bound_bytes(raw, publisher))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return Circuit.load(circuit.path)


def check_publisher(circuit: Circuit, publisher: str) -> bool:
    """Whether ``circuit`` binds ``publisher`` already (False: it binds none); raises
    :class:`PublisherBindingError` when it binds another."""
    bound = binding(circuit).publisher
    if bound is None:
        return False
    if same_address(bound, publisher):
        return True
    raise PublisherBindingError(
        f"circuit {circuit.name!r} binds publisher {bound} in its manifest; an entry registered by "
        f"{to_checksum_address(publisher)} would be an impostor's",
        f"publish it with {bound}'s key, or build the model again (ngx-zk model build) to publish your own build",
    )


def binds_once_published(circuit: Circuit, entry: ModelEntry) -> bool:
    """Is ``circuit`` the entry's model but for the publisher binding (a bundle made before ``model publish``)?"""
    raw = (circuit.path / MANIFEST).read_bytes()
    return _publisher_in(raw) is None and hashlib.sha256(_bound_bytes(raw, entry.owner)).digest() == entry.artifacts_hash


class Relation(StrEnum):
    """What another registry entry of the same model is to the one asked for."""

    IMPOSTOR = "impostor"
    """Same manifest, registered by someone other than the publisher it binds."""
    PUBLISHER = "publisher"
    """Same manifest, registered by its bound publisher (another entry of the same publication)."""
    UNBOUND = "unbound"
    """Same manifest, which binds no publisher: the chain cannot tell whose entry is genuine."""
    OTHER_BUILD = "other build"
    """Same ONNX and settings, another manifest (another build, another publisher binding)."""


@dataclass(frozen=True)
class PublishedModel:
    """A registry entry as a published model: the entry and the publisher its artifacts bind."""

    entry: ModelEntry
    publisher: str | None
    """The address the entry's manifest binds (None: a manifest from before publisher binding)."""
    settlement: str = "eager"
    """The settlement mode the model's manifest names as its jobs' default (``eager`` when it names none)."""

    @property
    def model_id(self) -> int:
        return self.entry.model_id

    @property
    def bound(self) -> bool:
        """The registrant is the publisher the manifest binds: this entry is the publisher's."""
        return self.publisher is not None and same_address(self.entry.owner, self.publisher)

    @property
    def impostor(self) -> bool:
        """The manifest binds a publisher and someone else registered this entry."""
        return self.publisher is not None and not self.bound


@dataclass(frozen=True)
class Copy:
    """Another registry entry of the same model, and what it is to the one asked for."""

    model_id: int
    registrant: str
    royalty_bps: int
    status: ModelStatus
    relation: Relation

    def to_json(self) -> dict[str, object]:
        return {
            "model_id": self.model_id,
            "registrant": self.registrant,
            "royalty_bps": self.royalty_bps,
            "status": self.status.value,
            "relation": self.relation.value,
        }

    def __str__(self) -> str:
        return f"model {self.model_id} (registrant {self.registrant}, royalty {self.royalty_bps} bps, {self.status.value})"


@dataclass(frozen=True)
class CopiesReport:
    """Every other entry of one model in the registry (a scan: for reporting, never for choosing one)."""

    model: PublishedModel
    copies: tuple[Copy, ...]

    def of(self, relation: Relation) -> tuple[Copy, ...]:
        return tuple(c for c in self.copies if c.relation is relation)

    @property
    def impostors(self) -> tuple[Copy, ...]:
        return self.of(Relation.IMPOSTOR)

    @property
    def other_registrants(self) -> tuple[Copy, ...]:
        """Entries of the same manifest registered by someone other than this entry's registrant."""
        return tuple(
            c
            for c in self.copies
            if c.relation is not Relation.OTHER_BUILD and not same_address(c.registrant, self.model.entry.owner)
        )


def expected_digest(settings: Settings, circuit: Circuit, kind: VerifierKind) -> bytes:
    """The vk digest an entry for ``circuit`` pins: sha256 of the vk (dedicated) or keccak256 of the VKA (reusable)."""
    if kind is VerifierKind.DEDICATED:
        return bytes.fromhex(circuit.manifest.vk_sha256)
    return keccak(evm.vka_words(settings, circuit))


def mismatches(settings: Settings, entry: ModelEntry, circuit: Circuit) -> list[str]:
    """How a registry entry differs from the local circuit's artifacts (empty when they match)."""
    m = circuit.manifest
    problems = []
    if entry.artifacts_hash != binding(circuit).artifacts_hash:
        problems.append("artifacts hash (sha256 of manifest.json)")
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


def same_artifacts(market: Marketplace, circuit: Circuit, *, skip: int | None = None) -> list[ModelEntry]:
    """Every registry entry carrying this circuit's artifacts (same artifacts hash, or same ONNX and settings).

    A scan of the whole registry, oldest first: for reporting copies, never for choosing one."""
    mine, m = binding(circuit).artifacts_hash, circuit.manifest
    onnx, settings_hash = bytes.fromhex(m.onnx_sha256), bytes.fromhex(m.settings_sha256)
    found = []
    for model_id in range(1, market.model_count() + 1):
        if model_id == skip:
            continue
        entry = market.model(model_id)
        if entry.artifacts_hash == mine or (entry.onnx_hash, entry.settings_hash) == (onnx, settings_hash):
            found.append(entry)
    return found


def copies_report(market: Marketplace, circuit: Circuit, entry: ModelEntry) -> CopiesReport:
    """Every other entry of ``circuit``'s model, each with its :class:`Relation` to ``entry`` (whose manifest ``circuit`` is)."""
    bound = binding(circuit)
    copies = []
    for other in same_artifacts(market, circuit, skip=entry.model_id):
        if other.artifacts_hash != bound.artifacts_hash:
            relation = Relation.OTHER_BUILD
        elif bound.publisher is None:
            relation = Relation.UNBOUND
        else:
            relation = Relation.PUBLISHER if same_address(other.owner, bound.publisher) else Relation.IMPOSTOR
        copies.append(Copy(other.model_id, to_checksum_address(other.owner), other.royalty_bps, other.status, relation))
    return CopiesReport(PublishedModel(entry, bound.publisher, bound.settlement), tuple(copies))


def describe(entries: list[ModelEntry]) -> str:
    return ", ".join(f"model {e.model_id} (owner {e.owner}, royalty {e.royalty_bps} bps, {e.status.value})" for e in entries)


def recorded_id(market: Marketplace, name: str) -> int | None:
    """The registry id this user recorded for circuit ``name`` on this chain (publish or pull), if any."""
    return market.deployment.model_id(name)


def check_binding(entry: ModelEntry, circuit: Circuit, genuine: tuple[int, ...] = ()) -> PublishedModel:
    """``entry`` as a published model; raises :class:`ImpostorError` when its registrant is not the publisher
    ``circuit``'s manifest (the entry's, once :func:`mismatches` found none) binds."""
    bound = binding(circuit)
    published = PublishedModel(entry, bound.publisher, bound.settlement)
    if published.impostor:
        raise ImpostorError(entry, str(published.publisher), genuine)
    return published


def check_entry(
    settings: Settings, market: Marketplace, entry: ModelEntry, circuit: Circuit, *, for_new_jobs: bool = True
) -> PublishedModel:
    """Raise unless ``entry`` is ``circuit`` on chain, registered by the publisher its manifest binds, with a
    verifier that re-renders from it. With ``for_new_jobs`` a paused or deprecated model is refused too."""
    problems = mismatches(settings, entry, circuit)
    if problems:
        raise ModelResolutionError(
            f"registry model {entry.model_id} does not match the local circuit {circuit.name!r}: {', '.join(problems)} differ",
            f"pull the published artifacts: ngx-zk model pull {entry.model_id}",
            model_id=entry.model_id,
            problems=tuple(problems),
        )
    if for_new_jobs and entry.status is not ModelStatus.ACTIVE:
        raise ModelResolutionError(
            f"registry model {entry.model_id} ({circuit.name!r}) is {entry.status.value.lower()}: it takes no new jobs",
            "ask its owner, or use another model",
            model_id=entry.model_id,
            problems=("status",),
        )
    require_verifier(settings, market, entry, circuit)  # first: a verifier that accepts anything is the worse news
    return check_binding(entry, circuit)


def lookup(
    settings: Settings, market: Marketplace, model_id: int, circuit: Circuit, *, for_new_jobs: bool = True
) -> PublishedModel:
    """Registry model ``model_id``, checked against ``circuit`` as :func:`check_entry` does."""
    return check_entry(settings, market, market.model(model_id), circuit, for_new_jobs=for_new_jobs)


def resolve_model(settings: Settings, market: Marketplace, circuit: Circuit) -> ModelEntry:
    """The registry entry for ``circuit``, by the id recorded for this chain; checked before any job uses it.

    Raises :class:`ModelResolutionError` when no id is recorded or the entry differs from the circuit
    (naming what differs), is an impostor's, or is paused or deprecated;
    :class:`~ngx_zk.provenance.VerifierProvenanceError` when its verifier is not the code EZKL renders
    from the circuit's key."""
    model_id = recorded_id(market, circuit.name)
    if model_id is None:
        raise ModelResolutionError(
            f"no registry id recorded for model {circuit.name!r} on chain {market.chain.chain_id}",
            f"publish it (ngx-zk model publish {circuit.name}) or pull the published one by its id (ngx-zk model pull ID)",
        )
    return lookup(settings, market, model_id, circuit).entry


def record_model(
    settings: Settings, market: Marketplace, circuit: Circuit, entry: ModelEntry, *, verification_gas: int | None = None
) -> deployments.RecordedModel:
    """Remember (chain id, model id) for this circuit name: the only way consumers and workers find it.

    ``verification_gas`` (from the publish dry run) is kept across later records of the same entry."""
    before = market.deployment.models.get(circuit.name)
    if verification_gas is None and before is not None and before.model_id == entry.model_id:
        verification_gas = before.verification_gas
    record = deployments.RecordedModel(
        model_id=entry.model_id,
        kind=entry.kind.name.lower(),
        verifier=entry.verifier,
        vk_digest="0x" + entry.vk_digest.hex(),
        verifier_code_hash="0x" + entry.verifier_code_hash.hex(),
        artifacts_hash="0x" + entry.artifacts_hash.hex(),
        owner=entry.owner,
        publisher=binding(circuit).publisher or "",
        verification_gas=verification_gas,
    )
    market.deployment.models[circuit.name] = record
    deployments.save(settings, market.deployment)
    return record


def same_address(a: str, b: str) -> bool:
    """Are two addresses the same account (whatever their letter case)?"""
    return to_checksum_address(a) == to_checksum_address(b)


def _ids(ids: tuple[int, ...]) -> str:
    return ("model " if len(ids) == 1 else "models ") + ", ".join(str(i) for i in ids)


__all__ = [
    "AmbiguousModelError",
    "Binding",
    "CopiesReport",
    "Copy",
    "ImpostorError",
    "ModelResolutionError",
    "PublishedModel",
    "PublisherBindingError",
    "Relation",
    "bind_publisher",
    "binding",
    "check_binding",
    "check_entry",
    "check_publisher",
    "check_verifier",
    "copies_report",
    "expected_digest",
    "lookup",
    "mismatches",
    "record_model",
    "recorded_id",
    "resolve_model",
    "same_address",
    "same_artifacts",
]
