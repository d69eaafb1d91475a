"""Stages 3-4: commitments, proofs and verification, with the errors a user can meet."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

import ngx_zk as ngx
from ngx_zk.artifacts import Circuit
from ngx_zk.errors import ArtifactMismatchError, InputError, InvalidProofError, SrsError
from ngx_zk.inputs import InputData, parse

from .conftest import MODELS, flip_byte


def expected_outputs(model: str) -> list[float]:
    return list(json.loads((MODELS / model / "expected_output.json").read_text())["output_data"][0])


def test_proof_output_matches_the_float_model(mlp_proof: ngx.Proof) -> None:
    for got, want in zip(mlp_proof.outputs, expected_outputs("mlp"), strict=True):
        assert math.isclose(got, want, abs_tol=1e-2)


def test_commitment_equals_the_proofs_public_instance(mlp_circuit: Circuit, mlp_salted: InputData, mlp_proof: ngx.Proof) -> None:
    commitment, same = ngx.commit(mlp_circuit.manifest, mlp_salted)
    assert same.salt == mlp_salted.salt
    assert commitment.values == mlp_proof.commitments == mlp_proof.instances[:1]


def test_salt_hides_low_entropy_inputs(mlp_circuit: Circuit) -> None:
    """The same (guessable) input commits to unrelated values under fresh salts."""
    zeros = parse({"input_data": [[0.0] * 8]}, mlp_circuit.manifest)
    a, _ = ngx.commit(mlp_circuit.manifest, zeros)
    b, _ = ngx.commit(mlp_circuit.manifest, zeros)
    unsalted = ngx.commit(mlp_circuit.manifest, zeros.with_salt(((0,) * 8,)))[0]
    assert len({a.values, b.values, unsalted.values}) == 3


def test_valid_proof_verifies(mlp_circuit: Circuit, mlp_proof: ngx.Proof, session_settings: ngx.Settings) -> None:
    assert ngx.verify(mlp_proof.path, mlp_circuit, session_settings).outputs == mlp_proof.outputs


def tampered(proof: ngx.Proof, tmp_path: Path, edit: str) -> Path:
    data = json.loads(proof.path.read_text())
    if edit == "proof-byte":
        data["proof"][100] ^= 1
        data.pop("hex_proof", None)
    elif edit == "output":
        data["instances"][0][1] = data["instances"][0][2]
    elif edit == "commitment":
        data["instances"][0][0] = data["instances"][0][1]
    out = tmp_path / f"tampered-{edit}.json"
    out.write_text(json.dumps(data))
    return out


@pytest.mark.parametrize("edit", ["proof-byte", "output", "commitment"])
def test_tampered_proof_is_rejected(
    edit: str, mlp_circuit: Circuit, mlp_proof: ngx.Proof, session_settings: ngx.Settings, tmp_path: Path
) -> None:
    with pytest.raises(InvalidProofError, match="NOT valid"):
        ngx.verify(tampered(mlp_proof, tmp_path, edit), mlp_circuit, session_settings)


@pytest.mark.slow  # builds the sigmoid circuit (a session fixture: its two users go together)
def test_proof_for_another_model_is_rejected(
    sigmoid_circuit: Circuit, mlp_proof: ngx.Proof, session_settings: ngx.Settings
) -> None:
    with pytest.raises(InvalidProofError, match="made for another model"):
        ngx.verify(mlp_proof.path, sigmoid_circuit, session_settings)


def test_not_a_proof_file(mlp_circuit: Circuit, session_settings: ngx.Settings, tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    with pytest.raises(InvalidProofError, match="not an EZKL proof file"):
        ngx.verify(junk, mlp_circuit, session_settings)


def test_verify_refuses_a_vk_that_does_not_match_the_manifest(
    circuit_copy: Circuit, mlp_proof: ngx.Proof, session_settings: ngx.Settings
) -> None:
    flip_byte(circuit_copy.vk)
    with pytest.raises(ArtifactMismatchError):
        ngx.verify(mlp_proof.path, circuit_copy, session_settings)


def test_missing_test_srs_says_to_rebuild(circuit_copy: Circuit, mlp_proof: ngx.Proof, tmp_path: Path) -> None:
    empty = ngx.load_settings({"NGX_ZK_HOME": str(tmp_path), "NGX_ZK_CACHE_DIR": str(tmp_path / "empty-cache")})
    with pytest.raises(SrsError, match="rebuild"):
        ngx.verify(mlp_proof.path, circuit_copy, empty)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"input_data": [[0.1] * 7]}, "has 7 values, the model expects 8"),
        ({"input_data": [[0.1] * 8, [0.2] * 8]}, "must hold 1 input list"),
        ({"data": [[0.1] * 8]}, 'no "input_data" key'),
        ({"input_data": [["a"] * 8]}, "is 'a', not a number"),
        ({"input_data": [[True] * 8]}, "not a number"),
        ({"input_data": [[0.1] * 8], "salt": [[1, 2]]}, "salt for 'input' must hold 8 integers"),
        ({"input_data": [[0.1] * 8], "salt": [[-1] * 8]}, "not an integer in"),
    ],
)
def test_bad_input_is_named(payload: object, message: str, mlp_circuit: Circuit) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse(payload, mlp_circuit.manifest)


@pytest.mark.parametrize(
    "text", ['{"input_data": [[NaN, 0, 0, 0, 0, 0, 0, 0]]}', '{"input_data": [[Infinity, 0, 0, 0, 0, 0, 0, 0]]}', "{oops"]
)
def test_nan_inf_and_malformed_json_are_refused(text: str, mlp_circuit: Circuit, tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text(text)
    with pytest.raises(InputError):
        ngx.load_input(path, mlp_circuit.manifest)


def test_nested_input_matching_the_shape_is_accepted(mlp_circuit: Circuit) -> None:
    data = parse({"input_data": [[[0.5, 0.25, 0, 0, 0, 0, 0, 1]]]}, mlp_circuit.manifest)
    assert data.values[0][:2] == (0.5, 0.25)


def test_failed_prove_leaves_no_proof_file(mlp_circuit: Circuit, session_settings: ngx.Settings, tmp_path: Path) -> None:
    huge = parse({"input_data": [[1e9] * 8]}, mlp_circuit.manifest)
    salted = ngx.commit(mlp_circuit.manifest, huge)[1]
    out = tmp_path / "proofs" / "p.json"
    with pytest.raises(InputError, match="cannot evaluate this input"):
        ngx.prove(mlp_circuit, salted, out, session_settings)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


@pytest.mark.slow  # builds the sigmoid circuit
def test_sigmoid_lookup_model_proves_within_tolerance(
    sigmoid_circuit: Circuit, session_settings: ngx.Settings, tmp_path: Path
) -> None:
    data = ngx.load_input(MODELS / "logistic_sigmoid" / "input.json", sigmoid_circuit.manifest)
    proof = ngx.prove(sigmoid_circuit, ngx.commit(sigmoid_circuit.manifest, data)[1], tmp_path / "p.json", session_settings)
    assert math.isclose(proof.outputs[0], expected_outputs("logistic_sigmoid")[0], abs_tol=1e-2)
    shutil.copy(proof.path, tmp_path / "copy.json")
    ngx.verify(tmp_path / "copy.json", sigmoid_circuit, session_settings)
