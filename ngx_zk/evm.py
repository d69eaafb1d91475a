"""Stage 4 (EVM side of the pipeline): verifier contracts, VKAs and proof calldata.

EZKL renders the Solidity verifier for a circuit; it then tries to download solc to compile it,
which fails offline, so this module compiles the source itself with the pinned solcjs (standard
JSON in and out through files: solcjs truncates large piped output). Nothing here talks to a chain.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _ezkl, srs
from .artifacts import Circuit
from .config import Settings
from .errors import CircuitError, InvalidProofError
from .tools import node_tool

EIP170_LIMIT = 24_576
OPTIMIZER_RUNS = 1


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


def _evm_dir(settings: Settings, circuit: Circuit) -> Path:
    folder = settings.cache_dir / "evm" / f"{circuit.name}-{circuit.manifest.vk_sha256[:16]}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def dedicated_verifier(settings: Settings, circuit: Circuit) -> CompiledContract:
    """The circuit's own ``Halo2Verifier``, rendered by EZKL and compiled with solcjs (cached)."""
    folder = _evm_dir(settings, circuit)
    compiled = folder / "Halo2Verifier.compiled.v2.json"
    if compiled.is_file():
        return CompiledContract(**json.loads(compiled.read_text()))
    circuit.check()
    srs_path = srs.locate(settings, circuit.manifest.srs)
    sol = folder / "Halo2Verifier.sol"
    _ezkl.render_verifier(circuit.vk, circuit.settings, sol, srs_path)
    _rendered(sol)
    contract = compile_solidity(sol, "Halo2Verifier")
    compiled.write_text(json.dumps(contract.__dict__))
    return contract


def vka_words(settings: Settings, circuit: Circuit) -> bytes:
    """The circuit's VKA for the reusable verifier: the 32-byte words, without bincode's length prefix."""
    folder = _evm_dir(settings, circuit)
    vka = folder / "vka.bin"
    if not vka.is_file():
        circuit.check()
        srs_path = srs.locate(settings, circuit.manifest.srs)
        _ezkl.render_vka(circuit.vk, circuit.settings, vka, srs_path)
        _rendered(vka)
    raw = vka.read_bytes()
    count = int.from_bytes(raw[:8], "little")
    words = raw[8:]
    if len(words) != 32 * count:
        raise CircuitError(f"unexpected VKA layout in {vka}: {len(raw)} bytes for {count} words", "delete it and retry")
    return words


def _rendered(expected: Path) -> None:
    if not expected.is_file():
        raise CircuitError(f"EZKL did not render {expected.name}", "check the circuit with ngx-zk model show")


def compile_solidity(source: Path, contract: str) -> CompiledContract:
    """Compile one Solidity file with the pinned solcjs (optimizer on)."""
    request = {
        "language": "Solidity",
        "sources": {source.name: {"content": source.read_text()}},
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
            done = subprocess.run([str(node_tool("solcjs")), "--standard-json"], stdin=stdin, stdout=stdout,
                                  stderr=subprocess.PIPE, timeout=300, check=False)
        text = out.read_text()
    start = text.find("{")
    if done.returncode != 0 or start < 0:
        raise CircuitError(f"solcjs failed on {source.name}: {done.stderr.decode(errors='replace')[-300:]}")
    result = json.loads(text[start:])
    errors = [e for e in result.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CircuitError(f"solcjs could not compile {source.name}: {errors[0].get('formattedMessage', errors[0])[:300]}")
    out_contract = result["contracts"][source.name][contract]
    deployed = out_contract["evm"]["deployedBytecode"]["object"]
    return CompiledContract(contract, out_contract["abi"], "0x" + out_contract["evm"]["bytecode"]["object"], len(deployed) // 2,
                            "0x" + deployed)


def calldata(proof_file: Path) -> tuple[bytes, list[int]]:
    """What ``submitResult`` takes: the proof bytes and the public instances as uint256."""
    try:
        data = json.loads(proof_file.read_text())
        proof = bytes.fromhex(str(data["hex_proof"]).removeprefix("0x"))
        instances = [_ezkl.felt_to_int(str(f)) for group in data["instances"] for f in group]
    except (OSError, KeyError, TypeError, ValueError, json.JSONDecodeError):
        raise InvalidProofError(f"{proof_file} is not an EZKL proof file") from None
    return proof, instances
