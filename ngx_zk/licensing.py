"""Licences: a hashed-weights model's private files, sealed by its owner to one provider.

A model built with ``--weights hashed`` publishes a bundle without its weights (manifest, settings, vk: enough
to verify, nothing to prove with). Its owner grants a provider the files that hold the weights (the compiled
circuit and the circuit ONNX, :data:`~ngx_zk.artifacts.PRIVATE_FILES`) with :func:`grant`: they are packed as a
tar and sealed with :func:`ngx_zk.crypto.seal` to the X25519 key the provider registered on chain, bound to the
chain, the market, the model id and the provider's address (a licence copied to another provider, chain or
model does not open). The provider's :func:`install` opens it with its own key, checks every file against the
sha256 the manifest pins (which the registry pins through the artifacts hash) and only then writes them into
the pulled circuit's folder. Files that do not match are refused before any proof is made; the chain refuses
a proof made with other weights anyway (``ParamsBinding`` pins the weight hash).

What a licence cannot do: once a provider holds the weights it can copy them. The owner can stop new licences
and deprecate the model (no new jobs on it), not take back files it sealed. See README "Private weights".
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from . import crypto, onnx_model, safejson
from .artifacts import CIRCUIT_ONNX, COMPILED, PRIVATE_FILES, Circuit
from .catalog import binding, mismatches
from .chain.market import Marketplace
from .chain.signer import Signer
from .config import Settings
from .errors import CircuitError, NgxZkError

KIND = "ngx-zk model licence"
VERSION = 1
MAX_LICENCE_BYTES = 512 * 1024 * 1024
"""Largest licence file read (its sealed tar holds the compiled circuit)."""


class LicenceError(NgxZkError):
    """A licence cannot be granted, opened or installed."""

    code: str = "licence"


@dataclass(frozen=True)
class Licence:
    """What a licence file holds: where it is valid and the sealed private files."""

    chain_id: int
    market: str
    model_id: int
    name: str
    artifacts_hash: str
    provider: str
    sealed: bytes

    def context(self) -> crypto.JobContext:
        """The associated data the seal binds: chain, market, model and provider (job 0: no job)."""
        return crypto.JobContext(self.chain_id, self.market, 0, self.model_id, f"licence {self.provider.lower()}")

    def to_json(self) -> dict[str, object]:
        return {
            "kind": KIND,
            "version": VERSION,
            "chain_id": self.chain_id,
            "market": self.market,
            "model_id": self.model_id,
            "name": self.name,
            "artifacts_hash": self.artifacts_hash,
            "provider": self.provider,
            "sealed": base64.b64encode(self.sealed).decode(),
        }

    @classmethod
    def read(cls, path: Path) -> Licence:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise LicenceError(
                f"cannot read the licence {path}: {exc.strerror or exc}",
                "pass the file the model's owner sent (ngx-zk model license)",
            ) from None
        data = safejson.loads(raw, what=f"the licence {path}", max_bytes=MAX_LICENCE_BYTES)
        if not isinstance(data, dict) or data.get("kind") != KIND or data.get("version") != VERSION:
            raise LicenceError(f"{path} is not an ngx-zk model licence", "ask the model's owner for: ngx-zk model license")
        try:
            return cls(
                int(data["chain_id"]),
                str(data["market"]),
                int(data["model_id"]),
                str(data["name"]),
                str(data["artifacts_hash"]),
                str(data["provider"]),
                base64.b64decode(str(data["sealed"]), validate=True),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LicenceError(f"the licence {path} is malformed ({exc})", "ask the model's owner for a new one") from None


def grant(settings: Settings, market: Marketplace, circuit: Circuit, model_id: int, provider: str) -> Licence:
    """Seal ``circuit``'s private files to the encryption key ``provider`` registered on chain, for model ``model_id``.

    Refuses a circuit whose weights are fixed (its bundle already holds them), one that lacks its private files or
    whose files differ from its manifest, a registry entry that is not this circuit, and a provider that is not
    registered (no key to seal to)."""
    m = circuit.manifest
    if not m.hashed_weights:
        raise LicenceError(
            f"model {m.name!r} has fixed weights: its public bundle already holds them, there is nothing to license",
            "build it with --weights hashed to keep the weights private",
        )
    circuit.check()  # the owner's own folder, every file as the manifest pins it
    entry = market.model(model_id)
    problems = mismatches(settings, entry, circuit)
    if problems:
        raise LicenceError(
            f"registry model {model_id} is not {m.name!r} (differs in {', '.join(problems)})", "name the id you published it as"
        )
    profile = market.provider(provider)
    if not profile.registered or len(profile.encryption_pub_key) != 32:
        raise LicenceError(
            f"{profile.address} is not a registered provider with an X25519 encryption key on chain {market.chain.chain_id}",
            "the provider registers first: ngx-zk provider register",
        )
    licence = Licence(
        market.chain.chain_id,
        market.market.address,
        model_id,
        m.name,
        binding(circuit).artifacts_hash.hex(),
        profile.address,
        b"",
    )
    sealed = crypto.seal(profile.encryption_pub_key, _pack(circuit), licence.context())
    return Licence(**{**licence.__dict__, "sealed": sealed})


def write(licence: Licence, out: Path) -> Path:
    """Write ``licence`` as JSON at ``out`` (atomically; only the named provider's key opens it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(licence.to_json()) + "\n")
    os.replace(tmp, out)
    return out


def install(settings: Settings, market: Marketplace, signer: Signer, licence: Licence | Path) -> Circuit:
    """Open ``licence`` (or the licence file at that path) with ``signer``'s key and put its files into the pulled
    circuit, each checked against the manifest's sha256 first (a mismatch installs nothing). Returns the circuit,
    ready to prove."""
    from .circuit import load_circuit

    if isinstance(licence, Path):
        licence = Licence.read(licence)
    if licence.chain_id != market.chain.chain_id or licence.market.lower() != market.market.address.lower():
        raise LicenceError(
            f"the licence is for the market {licence.market} on chain {licence.chain_id}, not this one "
            f"({market.market.address} on chain {market.chain.chain_id})",
            "pass --rpc-url of the chain it was granted on",
        )
    if licence.provider.lower() != signer.address.lower():
        raise LicenceError(
            f"the licence is sealed to provider {licence.provider}, not to {signer.address}",
            "install it with that provider's account; the owner grants each provider its own licence",
        )
    try:
        circuit = load_circuit(licence.name, settings)
    except CircuitError:
        raise LicenceError(
            f"model {licence.name!r} is not installed here", f"pull its public bundle first: ngx-zk model pull {licence.model_id}"
        ) from None
    if binding(circuit).artifacts_hash.hex() != licence.artifacts_hash:
        raise LicenceError(
            f"the local circuit {licence.name!r} is another build than the licensed one (artifacts hash differs)",
            f"pull the licensed model again: ngx-zk model pull {licence.model_id} --replace",
        )
    key = crypto.derive_key(signer.encryption_key_material())
    try:
        plain = crypto.open_sealed(key, licence.sealed, licence.context())
    except crypto.PayloadError:
        raise LicenceError(
            "the licence does not open with this account's key (tampered, or sealed before the provider changed its key)",
            "ask the model's owner to grant it again",
        ) from None
    files = _unpack(plain)
    _check_files(circuit, files)
    staged = {name: circuit.path / f".{name}.{os.getpid()}.tmp" for name in files}
    try:
        for name, data in files.items():
            staged[name].write_bytes(data)
        onnx_model.load_checked(staged[CIRCUIT_ONNX])  # what the worker will run, checked as `model pull` checks it
        for name, tmp in staged.items():
            os.replace(tmp, circuit.path / name)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    circuit.check()
    return circuit


def _pack(circuit: Circuit) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in PRIVATE_FILES:
            tar.add(circuit.path / name, arcname=name, recursive=False)
    return out.getvalue()


def _unpack(plain: bytes) -> dict[str, bytes]:
    """The licence's files by name: regular files named as :data:`PRIVATE_FILES`, each once, nothing else."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(plain), mode="r:") as tar:
            for member in tar:
                if not member.isreg() or member.name not in PRIVATE_FILES or member.name in files:
                    raise LicenceError(
                        f"the licence holds an unexpected member {member.name[:80]!r}", "ask the owner for a new one"
                    )
                source = tar.extractfile(member)
                files[member.name] = source.read() if source is not None else b""
    except tarfile.TarError as exc:
        raise LicenceError(f"the licence's sealed files are not a tar ({exc})", "ask the owner for a new one") from None
    missing = [n for n in PRIVATE_FILES if n not in files]
    if missing:
        raise LicenceError(f"the licence lacks {', '.join(missing)}", "ask the owner for a new one")
    return files


def _check_files(circuit: Circuit, files: dict[str, bytes]) -> None:
    """Refuse files whose sha256 is not the manifest's: other weights (or another build) never reach the prover."""
    m = circuit.manifest
    pinned = {COMPILED: m.compiled_sha256, CIRCUIT_ONNX: m.circuit_onnx_sha256}
    for name, data in files.items():
        actual = hashlib.sha256(data).hexdigest()
        if actual != pinned[name]:
            raise LicenceError(
                f"the licence's {name} is not the one model {m.name!r} commits to (sha256 {actual[:12]}..., manifest "
                f"says {pinned[name][:12]}...): other weights, refused before any proof",
                "ask the model's owner for a licence of the published build",
            )


__all__ = ["KIND", "Licence", "LicenceError", "grant", "install", "write"]
