"""Generate the real EZKL verifier contracts and proof fixture used by the forge tests.

Builds a tiny 4->2 linear model (fixed weights, seed 0), compiles it into an EZKL circuit with a
hashed input (one Poseidon commitment instance), fixed params and public outputs, proves one input
and writes:

* ``src/generated/Halo2Verifier.sol``          dedicated verifier for this circuit
* ``src/generated/Halo2VerifierReusable.sol``  EZKL's circuit-independent reusable verifier
* ``test/fixtures/tiny_linear.json``            proof bytes, public instances, VKA words, vk digest

With ``--polycommit`` it writes only the fixture of the same model with a KZG-committed input
(EZKL's ``polycommit`` input visibility: the commitment is the proof's first G1 point, not an instance),
used by ``test/PolycommitBinding.t.sol``, and leaves the files above untouched:

* ``src/generated/Halo2VerifierPolycommit.sol``   dedicated verifier for that circuit (test only, not exported)
* ``test/fixtures/tiny_linear_polycommit.json``    proof bytes, output instances, the input's KZG commitment
  (x, y) computed by ``ezkl.kzg_commit`` as a consumer would (asserted equal to the proof's bytes [0, 64)),
  VKA words and digest

With ``--hashed-weights`` it writes only the fixture of the same model with its weights as private witnesses
pinned by a Poseidon hash (EZKL's ``hashed`` param visibility; instances: input hash, weight hash, outputs),
used by ``test/ParamsBinding.t.sol``:

* ``src/generated/Halo2VerifierHashedWeights.sol``   dedicated verifier for that circuit (test only, not exported)
* ``test/fixtures/tiny_linear_hashed_weights.json``   a proof with the model's weights and a proof of the same
  input with other weights (every weight + 0.5: a provider serving a model it was not licensed), each with its
  full EZKL instances; the same vk verifies both (the vk holds no weights), and the weight hashes differ

Run from anywhere with the project venv: ``.venv/bin/python verifier_contracts/script/gen_fixture.py [--polycommit]``.
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
# --polycommit: another input, whose commitment a job could post instead (one value differs).
OTHER_INPUT = [0.5, -0.25, 0.125, 0.75]
# BN254 scalar field modulus (field elements of the circuit).
FR = 21888242871839275222246405745257275088548364400416034343698204186575808495617


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
        if "--polycommit" in sys.argv:
            _build_polycommit(model, work)
        elif "--hashed-weights" in sys.argv:
            _build_hashed_weights(model, work)
        else:
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


def _felts(values: list[float], scale: int) -> list[str]:
    """EZKL's field elements of quantized values: round(v * 2^scale) mod r as 32-byte little-endian hex."""
    return [(round(v * 2**scale) % FR).to_bytes(32, "little").hex() for v in values]


def _kzg_point(felts: list[str], vk: Path, settings: Path, srs: Path) -> tuple[int, int]:
    """The KZG commitment of one input column, as the big-endian (x, y) words the EVM proof carries."""
    points = ezkl.kzg_commit(felts, str(vk), str(settings), str(srs))
    if len(points) != 1:
        sys.exit(f"expected one commitment point (one input column), got {len(points)}")
    # EZKL prints coordinates little-endian; the EVM proof (and the EVM) read them big-endian.
    x = int.from_bytes(bytes.fromhex(str(points[0].x).removeprefix("0x")), "little")
    y = int.from_bytes(bytes.fromhex(str(points[0].y).removeprefix("0x")), "little")
    return x, y


def _build_polycommit(model: torch.nn.Module, work: Path) -> None:
    """The same model and input with a ``polycommit`` input; writes only the polycommit outputs."""
    onnx_path, data, settings = work / "model.onnx", work / "input.json", work / "settings.json"
    compiled, srs, vk, pk = work / "model.compiled", work / "kzg.srs", work / "vk.key", work / "pk.key"
    witness, proof = work / "witness.json", work / "proof.json"

    torch.onnx.export(model, torch.tensor([INPUT]), onnx_path, input_names=["input"],
                      output_names=["output"], dynamo=False, opset_version=17)
    data.write_text(json.dumps({"input_data": [INPUT]}))

    args = ezkl.PyRunArgs()
    args.input_visibility = "polycommit"
    args.param_visibility = "fixed"
    args.output_visibility = "public"
    _check(ezkl.gen_settings(str(onnx_path), str(settings), py_run_args=args), "gen_settings")
    _check(ezkl.calibrate_settings(str(data), str(onnx_path), str(settings), "resources", 1.0, None, [1], None),
           "calibrate_settings")
    _check(ezkl.compile_circuit(str(onnx_path), str(compiled), str(settings)), "compile_circuit")
    settings_json = json.loads(settings.read_text())
    logrows = settings_json["run_args"]["logrows"]
    input_scale = settings_json["run_args"]["input_scale"]
    ezkl.gen_srs(str(srs), logrows)
    _check(ezkl.setup(str(compiled), str(vk), str(pk), str(srs), None, False), "setup")
    ezkl.gen_witness(str(data), str(compiled), str(witness), str(vk), str(srs))
    ezkl.prove(str(witness), str(compiled), str(pk), str(proof), str(srs))
    _check(ezkl.verify(str(proof), str(settings), str(vk), str(srs), False), "verify")

    # The consumer's side: quantize the input alone (round(v * 2^scale) mod r, 32-byte little-endian hex,
    # EZKL's felt encoding) and commit to it with the circuit's vk and SRS.
    felts = _felts(INPUT, input_scale)
    witness_inputs = json.loads(witness.read_text())["inputs"][0]
    if [int(ezkl.felt_to_big_endian(f), 16) for f in witness_inputs] != [int.from_bytes(bytes.fromhex(f), "little")
                                                                         for f in felts]:
        sys.exit(f"quantized input {felts} differs from the witness's {witness_inputs}")
    x, y = _kzg_point(felts, vk, settings, srs)
    # A different input's commitment: the point a job would post for it (the tests reject this proof there).
    other_x, other_y = _kzg_point(_felts(OTHER_INPUT, input_scale), vk, settings, srs)

    proof_json = json.loads(proof.read_text())
    proof_bytes = bytes.fromhex(str(proof_json["hex_proof"]).removeprefix("0x"))
    # The binding PolycommitBinding checks on chain: the proof starts with the input's commitment.
    assert proof_bytes[0:32] == x.to_bytes(32, "big") and proof_bytes[32:64] == y.to_bytes(32, "big"), (
        "kzg_commit's point is not the proof's first 64 bytes")
    instances = [int(ezkl.felt_to_big_endian(f), 16) for f in proof_json["instances"][0]]
    if len(instances) != 2:
        sys.exit(f"expected the 2 outputs as the only instances, got {len(instances)}")

    dedicated, _, vka = asyncio.run(_render_verifiers(work, vk, settings, srs))
    raw_vka = vka.read_bytes()
    n_words = int.from_bytes(raw_vka[:8], "little")
    vka_bytes = raw_vka[8:]
    if len(vka_bytes) != 32 * n_words:
        sys.exit(f"unexpected VKA layout: {len(raw_vka)} bytes for {n_words} words")
    GENERATED.mkdir(parents=True, exist_ok=True)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (GENERATED / "Halo2VerifierPolycommit.sol").write_text(
        _rename_contract(dedicated.read_text(), "Halo2Verifier", "Halo2VerifierPolycommit"))
    fixture = {
        "comment": "generated by script/gen_fixture.py --polycommit with an INSECURE test SRS; tests only",
        "ezkl_version": ezkl.__version__,
        "logrows": logrows,
        "input": INPUT,
        "input_felts_le": felts,  # EZKL's felt strings, as passed to kzg_commit
        "onnx_sha256": "0x" + hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "settings_sha256": "0x" + hashlib.sha256(settings.read_bytes()).hexdigest(),
        "vk_sha256": "0x" + hashlib.sha256(vk.read_bytes()).hexdigest(),
        "input_scale": input_scale,
        "proof": proof_json["hex_proof"],
        "instances": [str(i) for i in instances],
        "commitment": [str(x), str(y)],
        "other_input": OTHER_INPUT,
        "other_commitment": [str(other_x), str(other_y)],
        "vka": "0x" + vka_bytes.hex(),
        "vka_digest": "0x" + keccak(vka_bytes).hex(),
    }
    (FIXTURES / "tiny_linear_polycommit.json").write_text(json.dumps(fixture, indent=2) + "\n")
    print(f"logrows={logrows} instances={len(instances)} proof={len(proof_bytes)} bytes commitment=({x:#x}, {y:#x})")


def _build_hashed_weights(model: torch.nn.Module, work: Path) -> None:
    """The same model and input with hashed weights; a second proof with other weights on the same keys."""
    onnx_path, other_onnx, data, settings = work / "model.onnx", work / "other.onnx", work / "input.json", work / "settings.json"
    compiled, other_compiled, srs = work / "model.compiled", work / "other.compiled", work / "kzg.srs"
    vk, pk = work / "vk.key", work / "pk.key"
    torch.onnx.export(model, torch.tensor([INPUT]), onnx_path, input_names=["input"],
                      output_names=["output"], dynamo=False, opset_version=17)
    other = TinyLinear().eval()
    with torch.no_grad():
        other.load_state_dict({k: v + 0.5 for k, v in model.state_dict().items()})
    torch.onnx.export(other, torch.tensor([INPUT]), other_onnx, input_names=["input"],
                      output_names=["output"], dynamo=False, opset_version=17)
    data.write_text(json.dumps({"input_data": [INPUT]}))
    args = ezkl.PyRunArgs()
    args.input_visibility = "hashed"
    args.param_visibility = "hashed"
    args.output_visibility = "public"
    _check(ezkl.gen_settings(str(onnx_path), str(settings), py_run_args=args), "gen_settings")
    _check(ezkl.calibrate_settings(str(data), str(onnx_path), str(settings), "resources", 1.0, None, [1], None),
           "calibrate_settings")
    _check(ezkl.compile_circuit(str(onnx_path), str(compiled), str(settings)), "compile_circuit")
    _check(ezkl.compile_circuit(str(other_onnx), str(other_compiled), str(settings)), "compile_circuit (other)")
    logrows = json.loads(settings.read_text())["run_args"]["logrows"]
    ezkl.gen_srs(str(srs), logrows)
    _check(ezkl.setup(str(compiled), str(vk), str(pk), str(srs), None, False), "setup")
    proofs = {}
    for tag, circuit in (("own", compiled), ("other", other_compiled)):
        witness, proof = work / f"{tag}.witness.json", work / f"{tag}.proof.json"
        ezkl.gen_witness(str(data), str(circuit), str(witness), str(vk), str(srs))
        ezkl.prove(str(witness), str(circuit), str(pk), str(proof), str(srs))  # the same keys: the vk has no weights
        _check(ezkl.verify(str(proof), str(settings), str(vk), str(srs), False), f"verify ({tag})")
        proof_json = json.loads(proof.read_text())
        proofs[tag] = (proof_json["hex_proof"], [int(ezkl.felt_to_big_endian(f), 16) for f in proof_json["instances"][0]])
    own, other_inst = proofs["own"][1], proofs["other"][1]
    if len(own) != 4 or own[0] != other_inst[0] or own[1] == other_inst[1]:
        sys.exit(f"expected (input hash, weight hash, 2 outputs) with another weight hash for other weights: {own} / {other_inst}")
    dedicated, _, vka = asyncio.run(_render_verifiers(work, vk, settings, srs))
    vka_bytes = vka.read_bytes()[8:]
    GENERATED.mkdir(parents=True, exist_ok=True)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (GENERATED / "Halo2VerifierHashedWeights.sol").write_text(
        _rename_contract(dedicated.read_text(), "Halo2Verifier", "Halo2VerifierHashedWeights"))
    fixture = {
        "comment": "generated by script/gen_fixture.py --hashed-weights with an INSECURE test SRS; tests only",
        "ezkl_version": ezkl.__version__,
        "logrows": logrows,
        "input": INPUT,
        "settings_sha256": "0x" + hashlib.sha256(settings.read_bytes()).hexdigest(),
        "vk_sha256": "0x" + hashlib.sha256(vk.read_bytes()).hexdigest(),
        "proof": proofs["own"][0],
        "instances": [str(i) for i in own],
        "other_proof": proofs["other"][0],
        "other_instances": [str(i) for i in other_inst],
        "vka": "0x" + vka_bytes.hex(),
        "vka_digest": "0x" + keccak(vka_bytes).hex(),
    }
    (FIXTURES / "tiny_linear_hashed_weights.json").write_text(json.dumps(fixture, indent=2) + "\n")
    print(f"logrows={logrows} instances={own} other={other_inst}")


if __name__ == "__main__":
    main()
