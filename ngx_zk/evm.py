"""Stage 4 (EVM side of the pipeline): verifier contracts, VKAs and proof calldata.

EZKL renders the Solidity verifier for a circuit; it then tries to download solc to compile it,
which fails offline, so this module compiles the source itself with the pinned solcjs (standard
JSON in and out through files: solcjs truncates large piped output). It also encodes the verifier
calls the market makes (:func:`verify_calldata`). Nothing here talks to a chain.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from . import _ezkl, srs
from .artifacts import Circuit
from .commitment import proof_points
from .config import Settings
from .errors import CircuitError, InvalidProofError
from .tools import node_tool

EIP170_LIMIT = 24_576
OPTIMIZER_RUNS = 1
VERIFY_DEDICATED = "verifyProof(bytes,uint256[])"
VERIFY_REUSABLE = "verifyProof(bytes,uint256[],bytes32[])"
REGISTERED_VKAS_SLOT = 0
"""Storage slot of ``Halo2VerifierReusable.registeredVkas`` (its first state variable)."""


@dataclass(frozen=True)
class CompiledContract:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_size: int
    runtime: str = ""

    @property
    def fits_eip170(self) -> bool:
        return self.deployed_size <= EIP170_LIMIT

    @property
    def runtime_code(self) -> bytes:
        """The runtime code as a chain stores it after deployment (no immutables in EZKL's verifiers)."""
        return bytes.fromhex(self.runtime.removeprefix("0x"))

    @property
    def code_hash(self) -> bytes:
        """keccak256 of the runtime code: what ``EXTCODEHASH`` returns once deployed, and what the registry pins."""
        return keccak(self.runtime_code)


def _evm_dir(settings: Settings, circuit: Circuit) -> Path:
    m = circuit.manifest  # what EZKL renders from: vk, settings and SRS
    folder = settings.cache_dir / "evm" / f"{circuit.name}-{m.vk_sha256[:16]}-{m.settings_sha256[:8]}-{m.srs.sha256[:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def dedicated_verifier(settings: Settings, circuit: Circuit) -> CompiledContract:
    """The circuit's own ``Halo2Verifier``, rendered by EZKL and compiled with solcjs (cached)."""
    folder = _evm_dir(settings, circuit)
    compiled = folder / "Halo2Verifier.compiled.v2.json"
    try:
        return CompiledContract(**json.loads(compiled.read_text()))
    except (OSError, ValueError, TypeError):
        pass  # not compiled yet (or a damaged cache entry): render and compile again
    circuit.check_public()
    srs_path = srs.locate(settings, circuit.manifest.srs)
    sol = folder / f"Halo2Verifier.{os.getpid()}.sol"
    try:
        _ezkl.render_verifier(circuit.vk, circuit.settings, sol, srs_path)
        _rendered(sol)
        contract = compile_solidity(sol, "Halo2Verifier", source_name="Halo2Verifier.sol")
    finally:
        sol.unlink(missing_ok=True)
        sol.with_suffix(".abi").unlink(missing_ok=True)
    tmp = compiled.with_name(f".{compiled.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(contract.__dict__))
    os.replace(tmp, compiled)  # a worker and a consumer may render at once: readers see all or nothing
    return contract


def vka_words(settings: Settings, circuit: Circuit) -> bytes:
    """The circuit's VKA for the reusable verifier: the 32-byte words, without bincode's length prefix."""
    folder = _evm_dir(settings, circuit)
    vka = folder / "vka.bin"
    if not vka.is_file():
        circuit.check_public()
        srs_path = srs.locate(settings, circuit.manifest.srs)
        tmp = vka.with_name(f".{vka.name}.{os.getpid()}.tmp")
        try:
            _ezkl.render_vka(circuit.vk, circuit.settings, tmp, srs_path)
            _rendered(tmp)
            os.replace(tmp, vka)
        finally:
            tmp.unlink(missing_ok=True)
    raw = vka.read_bytes()
    count = int.from_bytes(raw[:8], "little")
    words = raw[8:]
    if len(words) != 32 * count:
        raise CircuitError(f"unexpected VKA layout in {vka}: {len(raw)} bytes for {count} words", "delete it and retry")
    return words


def _rendered(expected: Path) -> None:
    if not expected.is_file():
        raise CircuitError(f"EZKL did not render {expected.name}", "check the circuit with ngx-zk model show")


def compile_solidity(source: Path, contract: str, *, source_name: str | None = None) -> CompiledContract:
    """Compile one Solidity file with the pinned solcjs (optimizer on).

    ``source_name`` (default: the file's name) is the name solc records in the contract's metadata,
    whose hash ends the runtime code: the same source under the same name compiles to the same code."""
    name = source_name or source.name
    request = {
        "language": "Solidity",
        "sources": {name: {"content": source.read_text()}},
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": "cancun",
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
        },
    }
    with tempfile.TemporaryDirectory(prefix="ngx-solc-") as tmp:
        req, out = Path(tmp) / "in.json", Path(tmp) / "out.json"
        req.write_text(json.dumps(request))
        with req.open("rb") as stdin, out.open("wb") as stdout:
            done = subprocess.run(
                [str(node_tool("solcjs")), "--standard-json"],
                stdin=stdin,
                stdout=stdout,
                stderr=subprocess.PIPE,
                timeout=300,
                check=False,
            )
        text = out.read_text()
    start = text.find("{")
    if done.returncode != 0 or start < 0:
        raise CircuitError(f"solcjs failed on {source.name}: {done.stderr.decode(errors='replace')[-300:]}")
    result = json.loads(text[start:])
    errors = [e for e in result.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CircuitError(f"solcjs could not compile {source.name}: {errors[0].get('formattedMessage', errors[0])[:300]}")
    out_contract = result["contracts"][name][contract]
    deployed = out_contract["evm"]["deployedBytecode"]["object"]
    return CompiledContract(
        contract, out_contract["abi"], "0x" + out_contract["evm"]["bytecode"]["object"], len(deployed) // 2, "0x" + deployed
    )


def verify_calldata(proof: bytes, instances: list[int], vka: bytes | None = None) -> bytes:
    """The call ``JobMarket._verify`` makes: ``verifyProof(proof, instances)`` on a dedicated verifier, or
    ``verifyProof(proof, instances, vka)`` on the reusable one with the VKA as 32-byte words."""
    if vka is None:
        return keccak(text=VERIFY_DEDICATED)[:4] + encode(["bytes", "uint256[]"], [proof, instances])
    words = [vka[i : i + 32] for i in range(0, len(vka), 32)]
    return keccak(text=VERIFY_REUSABLE)[:4] + encode(["bytes", "uint256[]", "bytes32[]"], [proof, instances, words])


def registered_vka_slot(vka: bytes) -> bytes:
    """The storage slot holding ``registeredVkas[keccak256(vka)]`` in the reusable verifier."""
    return keccak(keccak(vka) + REGISTERED_VKAS_SLOT.to_bytes(32, "big"))


def calldata(proof_file: Path, points: int = 0, params: tuple[int, int] = (0, 0)) -> tuple[bytes, list[int]]:
    """What ``submitResult`` takes: the proof bytes and the public instances as uint256.

    A polycommit circuit's submission starts with its input's commitment words, which the proof file
    holds in its bytes (its first ``points`` G1 points), not among its instances: pass ``points``
    (``manifest.commitment_points``) to get them in front. The verifier itself takes the file's own.
    A hashed-weights circuit's weight hashes are not the market's instances: pass ``params``
    (``manifest.param_slice``) to leave them out (the model's ``ParamsBinding`` puts the pinned ones back)."""
    try:
        data = json.loads(proof_file.read_text())
        proof = bytes.fromhex(str(data["hex_proof"]).removeprefix("0x"))
        instances = [_ezkl.felt_to_int(str(f)) for group in data["instances"] for f in group]
    except (OSError, KeyError, TypeError, ValueError, json.JSONDecodeError):
        raise InvalidProofError(f"{proof_file} is not an EZKL proof file") from None
    start, count = params
    return proof, [*proof_points(proof, points), *instances[:start], *instances[start + count :]]
