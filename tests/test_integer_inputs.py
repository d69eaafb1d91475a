"""Models with integer inputs (token ids, indices): checks, salt slots, commitments, proofs, input parsing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto

import ngx_zk as ngx
from ngx_zk import _ezkl
from ngx_zk.artifacts import Circuit, Manifest
from ngx_zk.errors import InputError, InvalidModelError
from ngx_zk.inference import OnnxRunner
from ngx_zk.inputs import parse
from ngx_zk.onnx_model import index_ranges, resolve
from ngx_zk.publish import publish

from . import onnx_factory
from .chain_fixtures import Net, ngx_zk, start_worker
from .paths import MODELS

TOKENS = MODELS / "token_classifier"


@pytest.fixture(scope="module")
def token_circuit(session_settings: ngx.Settings) -> Circuit:
    return ngx.build_circuit(TOKENS, session_settings)


def test_the_token_model_is_checked_as_an_int64_input_with_the_vocabulary_as_its_range() -> None:
    (info,) = resolve(TOKENS).inputs
    assert (info.dtype, info.is_int, info.value_range) == ("int64", True, (0, 32))


def test_manifest_records_integer_inputs_at_scale_zero_with_integer_salt_slots(token_circuit: Circuit) -> None:
    (spec,) = token_circuit.manifest.inputs
    assert (spec.dtype, spec.scale, spec.value_range, spec.salt_elements) == ("int64", 0, (0, 32), 8)
    graph = onnx.load(str(token_circuit.circuit_onnx))
    (salted,) = graph.graph.input
    assert salted.type.tensor_type.elem_type == TensorProto.INT64
    assert [d.dim_value for d in salted.type.tensor_type.shape.dim] == [1, 8 + 8]
    again = Manifest.from_json(json.loads(json.dumps(token_circuit.manifest.to_json())))
    assert again == token_circuit.manifest


def test_an_old_manifest_without_dtype_reads_as_float_inputs(token_circuit: Circuit) -> None:
    data = token_circuit.manifest.to_json()
    for spec in data["inputs"] + data["outputs"]:
        del spec["dtype"], spec["value_range"]
    (spec,) = Manifest.from_json(data).inputs
    assert (spec.dtype, spec.is_int, spec.value_range) == ("float32", False, None)


def test_commit_prove_verify_on_token_ids(token_circuit: Circuit, session_settings: ngx.Settings, tmp_path: Path) -> None:
    data = ngx.load_input(TOKENS / "input.json", token_circuit.manifest)
    assert all(isinstance(v, int) for v in data.values[0])
    commitment, salted = ngx.commit(token_circuit.manifest, data)
    assert salted.salt is not None
    # the felt of an integer input is the integer itself: the hash is over the raw ids and the salt
    assert commitment.values[0] == _ezkl.poseidon([int(v) for v in data.values[0]] + list(salted.salt[0]))

    proof = ngx.prove(token_circuit, salted, tmp_path / "proof.json", session_settings)
    assert proof.commitments == commitment.values
    expected = json.loads((TOKENS / "expected_output.json").read_text())["output_data"][0]
    assert np.allclose(proof.outputs, expected, atol=0.01)
    assert ngx.verify(tmp_path / "proof.json", token_circuit, session_settings).commitments == commitment.values


def test_the_salted_circuit_graph_runs_int64_rows_in_onnxruntime(token_circuit: Circuit) -> None:
    data = ngx.load_input(TOKENS / "input.json", token_circuit.manifest)
    _, salted = ngx.commit(token_circuit.manifest, data)
    rows = salted.circuit_rows(token_circuit.manifest)
    assert all(isinstance(v, int) for v in rows[0])
    (out,) = OnnxRunner(token_circuit.circuit_onnx).run(rows, [(1, len(r)) for r in rows])
    expected = json.loads((TOKENS / "expected_output.json").read_text())["output_data"][0]
    assert np.allclose(out.reshape(-1), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2.5, "not an integer"),
        ("7", "not an integer"),
        (True, "not an integer"),
        (32, "valid ids are 0..31"),
        (-1, "valid ids are 0..31"),
        (1e300, "valid ids are 0..31"),
    ],
)
def test_integer_inputs_refuse_non_integers_and_ids_outside_the_vocabulary(
    token_circuit: Circuit, value: object, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        parse({"input_data": [[1, 2, 3, 4, 5, 6, 7, value]]}, token_circuit.manifest)


def test_integral_floats_are_accepted_as_ids(token_circuit: Circuit) -> None:
    data = parse({"input_data": [[1.0, 2, 3, 4, 5, 6, 7, 31]]}, token_circuit.manifest)
    assert data.values == ((1, 2, 3, 4, 5, 6, 7, 31),)
    assert all(type(v) is int for v in data.values[0])


def test_the_circuit_range_limit_still_applies_to_integer_inputs_without_a_known_range(token_circuit: Circuit) -> None:
    from dataclasses import replace

    (spec,) = token_circuit.manifest.inputs
    open_range = replace(token_circuit.manifest, inputs=(replace(spec, value_range=None),))
    assert parse({"input_data": [[-5, 0, 1, 2, 3, 4, 5, 99]]}, open_range, limit=100).values[0][0] == -5
    with pytest.raises(InputError, match="outside the circuit's range"):
        parse({"input_data": [[0, 0, 0, 0, 0, 0, 0, 100]]}, open_range, limit=100)


def test_index_ranges_follow_reshapes_and_ignore_arithmetic_use(tmp_path: Path) -> None:
    model = onnx.load(str(TOKENS / "network.onnx"))
    assert index_ranges(model) == {"input": (0, 32)}
    gather = onnx.load(str(onnx_factory.int_index_gather(tmp_path / "g.onnx", rows=6)))
    assert index_ranges(gather) == {"idx": (0, 6)}
    # an int64 input used in arithmetic has no knowable range
    cast = onnx.helper.make_graph(
        [onnx.helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
        "cast",
        [onnx.helper.make_tensor_value_info("x", TensorProto.INT64, [1, 4])],
        [onnx.helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    assert index_ranges(onnx.load(str(onnx_factory.save(cast, tmp_path / "c.onnx")))) == {}


def test_an_integer_input_without_calibration_data_or_known_range_is_refused_clearly(
    tmp_path: Path, settings: ngx.Settings
) -> None:
    cast = onnx.helper.make_graph(
        [onnx.helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
        "cast",
        [onnx.helper.make_tensor_value_info("x", TensorProto.INT64, [1, 4])],
        [onnx.helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    onnx_factory.save(cast, tmp_path / "m" / "network.onnx")
    with pytest.raises(InvalidModelError, match="integer input 'x' has no calibration data"):
        ngx.build_circuit(tmp_path / "m", settings)
    assert not list(settings.circuits_dir.iterdir())


def test_non_integer_calibration_for_an_integer_input_is_refused(tmp_path: Path, settings: ngx.Settings) -> None:
    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "network.onnx").write_bytes((TOKENS / "network.onnx").read_bytes())
    (folder / "calibration.json").write_text(json.dumps({"input_data": [[0.5] * 8]}))
    with pytest.raises(InvalidModelError, match="holds non-integers"):
        ngx.build_circuit(folder, settings)


def test_bool_inputs_are_refused_naming_the_type(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelError, match="input 'x' has element type bool"):
        resolve(onnx_factory.bool_input(tmp_path / "b.onnx"))


@pytest.mark.slow  # builds (and proves) a circuit of its own: seconds, beyond the session's shared mlp
def test_float_data_with_int64_indices_builds_proves_and_verifies(tmp_path: Path, settings: ngx.Settings) -> None:
    """EZKL's gather_elements example in small: ngx-zk once refused it for its int64 input."""
    folder = tmp_path / "gather"
    onnx_factory.int_index_gather(folder / "network.onnx", rows=6, cols=4)
    (folder / "calibration.json").write_text(
        json.dumps({"input_data": [[round(0.1 * i - 2, 3) for i in range(6 * 8)], [(i * 7) % 6 for i in range(4 * 8)]]})
    )
    circuit = ngx.build_circuit(folder, settings)
    x_spec, idx_spec = circuit.manifest.inputs
    assert (x_spec.dtype, idx_spec.dtype, idx_spec.scale, idx_spec.value_range) == ("float32", "int64", 0, (0, 6))
    data = parse({"input_data": [[0.5, -1, 0.25, 1, 0, 0.75], [5, 0, 2, 3]]}, circuit.manifest)
    commitment, salted = ngx.commit(circuit.manifest, data)
    proof = ngx.prove(circuit, salted, tmp_path / "p.json", settings)
    assert proof.commitments == commitment.values
    assert np.allclose(proof.outputs, [0.75, 0.5, 0.25, 1.0], atol=0.01)
    ngx.verify(tmp_path / "p.json", circuit, settings)
    with pytest.raises(InputError, match=r"valid ids are 0\.\.5"):
        parse({"input_data": [[0, 0, 0, 0, 0, 0], [6, 0, 0, 0]]}, circuit.manifest)


@pytest.mark.chain
@pytest.mark.slow
def test_a_token_id_job_settles_through_the_worker_and_passes_the_audit(chain_snapshot: Net, tmp_path: Path) -> None:
    """Integer inputs end to end on chain: commitment over ids and integer salt, sealed delivery, proof, audit."""
    net, m = chain_snapshot, chain_snapshot.market
    circuit = ngx.build_circuit(TOKENS, net.settings)
    publish(net.settings, m, net.signer("deployer"), circuit, royalty_bps=0)
    worker = start_worker(net, tmp_path / "worker", "--model", circuit.name, "--max-jobs", "1")
    try:
        done = ngx_zk(
            net,
            tmp_path / "consumer",
            "prove-job",
            circuit.name,
            "--input",
            str(TOKENS / "input.json"),
            "--account",
            "consumer",
            "--price",
            "10",
            "--json",
            "--timeout",
            "150",
        )
    finally:
        assert worker.wait(timeout=150) == 0, worker.stderr.read() if worker.stderr else ""
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    expected = json.loads((TOKENS / "expected_output.json").read_text())["output_data"][0]
    assert result["status"] == "Settled"
    np.testing.assert_allclose(result["outputs"], expected, atol=2e-2)
    audit = ngx_zk(net, tmp_path / "auditor", "verify", "--job", str(result["job_id"]), "--model", circuit.name, "--json")
    assert audit.returncode == 0 and json.loads(audit.stdout)["valid"] is True, audit.stdout + audit.stderr
