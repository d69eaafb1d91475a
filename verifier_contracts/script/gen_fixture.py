"""Generate the real EZKL verifier contracts and proof fixture used by the forge tests.

Builds a tiny 4->2 linear model (fixed weights, seed 0), compiles it into an EZKL circuit with a
hashed input (one Poseidon commitment instance), fixed params and public outputs, proves one input
and writes:

* ``src/generated/Halo2Verifier.sol``          dedicated verifier for this circuit
* ``src/generated/Halo2VerifierReusable.sol``  EZKL's circuit-independent reusable verifier
* ``test/fixtures/tiny_linear.json``            proof bytes, public instances, VKA words, vk digest

Run from anywhere with the project venv: ``.venv/bin/python verifier_contracts/script/gen_fixture.py``.
The SRS comes from ``ezkl.gen_srs`` (an INSECURE test SRS: whoever ran this could forge proofs), so the
outputs are test fixtures only. SRS, proving key and other large files stay in a temp directory and
are never written into the repository.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import ezkl
import torch
from eth_utils import keccak

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "src" / "generated"
FIXTURES = ROOT / "test" / "fixtures"
INPUT = [0.5, -0.25, 0.125, 1.0]


class TinyLinear(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def _check(ok: object, step: str) -> None:
    if ok is False:
        sys.exit(f"ezkl step failed: {step}")


async def _render_verifiers(work: Path, vk: Path, settings: Path, srs: Path) -> tuple[Path, Path, Path]:
    dedicated, reusable, vka = work / "dedicated.sol", work / "reusable.sol", work / "vka.json"
    # create_evm_verifier writes the .sol first and then tries to download solc 0.8.20 to compile it;
    # offline that second step fails, which is expected: we only need the source.
    for sol, flag in ((dedicated, False), (reusable, True)):
        try:
            await ezkl.create_evm_verifier(str(vk), str(settings), str(sol), str(work / f"{sol.stem}.abi"), str(srs), flag)
        except Exception as exc:
            if not sol.exists():
                sys.exit(f"create_evm_verifier(reusable={flag}) wrote no source: {exc}")
    try:
        await ezkl.create_evm_vka(str(vk), str(settings), str(vka), str(srs))
    except Exception as exc:
        if not vka.exists():
            sys.exit(f"create_evm_vka wrote nothing: {exc}")
    return dedicated, reusable, vka


def _rename_contract(source: str, old: str, new: str) -> str:
    return re.sub(rf"\bcontract {old}\b", f"contract {new}", source, count=1)


def main() -> None:
    torch.manual_seed(0)
    model = TinyLinear().eval()
    keep = "--keep" in sys.argv
    work = Path(tempfile.mkdtemp(prefix="ngx-fixture-"))
    try:
        _build(model, work)
    finally:
        if keep:
            print(f"kept work directory {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _build(model: torch.nn.Module, work: Path) -> None:
    onnx_path, data, settings = work / "model.onnx", work / "input.json", work / "settings.json"
    compiled, srs, vk, pk = work / "model.compiled", work / "kzg.srs", work / "vk.key", work / "pk.key"
    witness, proof, calldata = work / "witness.json", work / "proof.json", work / "calldata.bin"

    torch.onnx.export(model, torch.tensor([INPUT]), onnx_path, input_names=["input"],
                      output_names=["output"], dynamo=False, opset_version=17)
    data.write_text(json.dumps({"input_data": [INPUT]}))

    args = ezkl.PyRunArgs()
    args.input_visibility = "hashed"
    args.param_visibility = "fixed"
    args.output_visibility = "public"
    _check(ezkl.gen_settings(str(onnx_path), str(settings), py_run_args=args), "gen_settings")
    _check(ezkl.calibrate_settings(str(data), str(onnx_path), str(settings), "resources", 1.0, None, [1], None),
           "calibrate_settings")
    _check(ezkl.compile_circuit(str(onnx_path), str(compiled), str(settings)), "compile_circuit")
    logrows = json.loads(settings.read_text())["run_args"]["logrows"]
    ezkl.gen_srs(str(srs), logrows)
    _check(ezkl.setup(str(compiled), str(vk), str(pk), str(srs), None, False), "setup")
    ezkl.gen_witness(str(data), str(compiled), str(witness), str(vk), str(srs))
    ezkl.prove(str(witness), str(compiled), str(pk), str(proof), str(srs))
    _check(ezkl.verify(str(proof), str(settings), str(vk), str(srs), False), "verify")
    encoded = bytes(ezkl.encode_evm_calldata(str(proof), str(calldata), None))

    dedicated, reusable, vka = asyncio.run(_render_verifiers(work, vk, settings, srs))
    GENERATED.mkdir(parents=True, exist_ok=True)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (GENERATED / "Halo2Verifier.sol").write_text(dedicated.read_text())
    (GENERATED / "Halo2VerifierReusable.sol").write_text(
        _rename_contract(reusable.read_text(), "Halo2Verifier", "Halo2VerifierReusable"))

    proof_json = json.loads(proof.read_text())
    instances = [int(ezkl.felt_to_big_endian(f), 16) for f in proof_json["instances"][0]]
    # The VKA file is a bincode Vec<[u8; 32]>: an 8-byte little-endian word count, then the words.
    raw_vka = vka.read_bytes()
    n_words = int.from_bytes(raw_vka[:8], "little")
    vka_bytes = raw_vka[8:]
    if len(vka_bytes) != 32 * n_words:
        sys.exit(f"unexpected VKA layout: {len(raw_vka)} bytes for {n_words} words")
    settings_json = json.loads(settings.read_text())
    fixture = {
        "comment": "generated by script/gen_fixture.py with an INSECURE test SRS; tests only",
        "ezkl_version": ezkl.__version__,
        "logrows": logrows,
        "input": INPUT,
        "onnx_sha256": "0x" + hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "settings_sha256": "0x" + hashlib.sha256(settings.read_bytes()).hexdigest(),
        "vk_sha256": "0x" + hashlib.sha256(vk.read_bytes()).hexdigest(),
        "input_scale": settings_json["run_args"]["input_scale"],
        "output_scale": settings_json["run_args"].get("param_scale"),
        "proof": proof_json["hex_proof"],
        "instances": [str(i) for i in instances],
        "calldata": "0x" + encoded.hex(),
        "vka": "0x" + vka_bytes.hex(),
        "vka_digest": "0x" + keccak(vka_bytes).hex(),
    }
    (FIXTURES / "tiny_linear.json").write_text(json.dumps(fixture, indent=2) + "\n")
    print(f"logrows={logrows} instances={len(instances)} proof={len(fixture['proof']) // 2 - 1} bytes")


if __name__ == "__main__":
    main()
