"""Models bare EZKL proves but ngx-zk once shut out (EZKL's examples/onnx, reproduced in small):
output shapes from the graph, symbolic dimensions resolved, a float reference where onnxruntime
refuses a node, and models over the logrows cap refused before any tuning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import ngx_zk as ngx
from ngx_zk import limits, tuner
from ngx_zk.errors import CircuitError, LogrowsCapError
from ngx_zk.inference import OnnxRunner
from ngx_zk.onnx_model import graph_output_shapes, resolve

from . import onnx_factory


def test_output_shape_comes_from_the_graph_not_its_declaration(tmp_path: Path) -> None:
    """1l_lppool: declared [batch, 2, 2] (4 values), the graph computes [1, 3, 2, 2] (12)."""
    source = resolve(onnx_factory.misdeclared_pool(tmp_path / "pool.onnx"))
    assert source.outputs[0].shape == (1, 3, 2, 2)


def test_a_symbolic_output_dimension_is_fixed_by_the_input_shapes(tmp_path: Path) -> None:
    """xgboost / nanoGPT: an output dimension named by the exporter, fixed once the batch is 1."""
    source = resolve(onnx_factory.symbolic_output_dim(tmp_path / "sym.onnx"))
    assert source.outputs[0].shape == (1, 3)


def test_where_shape_inference_gives_up_an_onnxruntime_run_sizes_the_outputs(tmp_path: Path) -> None:
    """nanoGPT: ONNX shape inference cannot size its output; one run on zeros does (on the graph converted
    to opset 11, since onnxruntime refuses its float Equal at opset 10)."""
    pool = onnx_factory.misdeclared_pool(tmp_path / "pool.onnx")
    assert graph_output_shapes(pool, resolve(pool).inputs) == {"y": (1, 3, 2, 2)}
    equal = onnx_factory.float_equal_opset10(tmp_path / "eq.onnx")
    assert graph_output_shapes(equal, resolve(equal).inputs) == {"y": (1, 4)}


def test_an_int8_matmul_gets_a_widened_reference_that_says_so(tmp_path: Path) -> None:
    """decision_tree: onnxruntime has no int8 MatMul; the reference computes it in int32, exactly."""
    runner = OnnxRunner(onnx_factory.int8_matmul(tmp_path / "tree.onnx"))
    assert "leaf_votes (MatMul, int8 in int32)" in runner.reference
    x = [0.3, -0.2, 0.1, 0.9]
    (out,) = runner.run([x], [(1, 4)])
    paths = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]])
    indicators = (np.array([0.0, 0.5, -0.5, 0.25]) < np.array(x)).astype(int)
    assert out.reshape(-1).tolist() == (indicators @ paths).tolist()


def test_an_int8_matmul_in_a_graph_of_unnamed_nodes_is_widened_not_another_node(tmp_path: Path) -> None:
    """Exporters often leave node names empty (onnxruntime then refuses "node ()"): the widening must find
    the refused MatMul itself, not the first unnamed node of the graph."""
    path = onnx_factory.int8_matmul(tmp_path / "tree.onnx")
    model = onnx.load(str(path))
    for node in model.graph.node:
        node.name = ""
    onnx.save(model, str(path))
    runner = OnnxRunner(path)
    assert "(MatMul, int8 in int32)" in runner.reference
    (out,) = runner.run([[0.3, -0.2, 0.1, 0.9]], [(1, 4)])
    assert out.reshape(-1).tolist() == [2, 1, 2]


def test_a_forest_of_more_int8_matmuls_than_one_widening_per_retry_allows_gets_its_reference(tmp_path: Path) -> None:
    """random_forest: 100 trees, 200 int8 MatMuls. Widening them one onnxruntime refusal at a time ran out
    of retries (and took a session load per node); all nodes of the refused kind are widened at once."""
    from onnx import TensorProto, helper, numpy_helper

    trees = 70
    paths = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]], dtype=np.int8)
    nodes = [
        helper.make_node("Less", ["threshold", "x"], ["above"]),
        helper.make_node("Cast", ["above"], ["ind"], to=TensorProto.INT8),
    ]
    inits = [numpy_helper.from_array(np.array([[0.0, 0.5, -0.5, 0.25]], dtype=np.float32), "threshold")]
    for t in range(trees):
        inits.append(numpy_helper.from_array(paths, f"paths_{t}"))
        nodes += [
            helper.make_node("MatMul", ["ind", f"paths_{t}"], [f"votes_{t}"], name=f"/trees.{t}/MatMul"),
            helper.make_node("Cast", [f"votes_{t}"], [f"fvotes_{t}"], to=TensorProto.FLOAT),
        ]
    nodes.append(helper.make_node("Sum", [f"fvotes_{t}" for t in range(trees)], ["y"]))
    graph = helper.make_graph(
        nodes,
        "forest",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        inits,
    )
    runner = OnnxRunner(onnx_factory.save(graph, tmp_path / "forest.onnx", opset=11))
    assert f"{trees} MatMul nodes (int8 in int32" in runner.reference
    (out,) = runner.run([[0.3, -0.2, 0.1, 0.9]], [(1, 4)])
    assert out.reshape(-1).tolist() == [2.0 * trees, 1.0 * trees, 2.0 * trees]


def test_a_float_equal_at_opset_10_runs_on_the_graph_converted_to_opset_11(tmp_path: Path) -> None:
    """nanoGPT's causal mask: Equal on floats, refused by onnxruntime before opset 11."""
    runner = OnnxRunner(onnx_factory.float_equal_opset10(tmp_path / "eq.onnx"))
    assert "opset 11" in runner.reference
    (out,) = runner.run([[0.5, -1.0, 0.0, 2.0]], [(1, 4)])
    assert out.reshape(-1).tolist() == [0.0, 1.0, 1.0, 0.0]


def test_a_model_whose_default_layout_is_over_the_cap_is_refused_before_any_calibration(tmp_path: Path) -> None:
    """multihead_attention: EZKL's own layout needs 2^21 rows, the cap is 2^20. A 4-column layout would
    fit the cap, but calibrating such layouts ran past the build's time limit: refuse at once, saying
    what EZKL's layout needs and which setting to raise. (Here: 2^10 against a cap of 2^9.)"""
    onnx_path = onnx_factory.wide_matmul(tmp_path / "wide.onnx", 16)
    calibration = tmp_path / "cal.json"
    calibration.write_text(
        '{"input_data": [[0.5, -0.5, 0.25, 0.0, 0.1, 0.2, 0.3, 0.4, -0.1, -0.2, -0.3, -0.4, 1.0, -1.0, 0.7, 0.6]]}'
    )
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(LogrowsCapError) as info:
        tuner.tune(
            work,
            onnx_path,
            calibration,
            {"input_visibility": "public", "param_visibility": "fixed", "output_visibility": "public"},
            max_logrows=9,
            tolerance=1.0,
            measure=lambda s, c: 0.0,
            knobs=False,
        )
    assert (
        "2^10" in info.value.message and "EZKL's default layout" in info.value.message and "before tuning" in info.value.message
    )
    assert "NGX_ZK_MAX_LOGROWS=10" in str(info.value.hint)
    assert not list(work.glob("settings-*.json"))  # nothing was calibrated


@pytest.mark.slow
def test_a_misdeclared_output_builds_proves_and_verifies(settings: ngx.Settings, tmp_path: Path) -> None:
    """Before, the manifest kept the declared 4 outputs and the proof (12) was called 'for another model'."""
    onnx_path = onnx_factory.misdeclared_pool(tmp_path / "lppool" / "network.onnx")
    circuit = ngx.build_circuit(onnx_path.parent, settings, tune=False)
    assert circuit.manifest.outputs[0].shape == (1, 3, 2, 2)
    x = [0.5, -0.25, 0.75, -1.0] * 3
    data = ngx.InputData((tuple(x),))
    proof = ngx.prove(circuit, ngx.commit(circuit.manifest, data)[1], tmp_path / "proof.json", settings)
    assert len(proof.outputs) == 12
    assert max(abs(a - b * b) for a, b in zip(proof.outputs, x, strict=True)) <= 0.02
    ngx.verify(proof.path, circuit, settings)


@pytest.mark.slow
def test_an_int8_matmul_model_builds_and_proves_with_its_reference_recorded(settings: ngx.Settings, tmp_path: Path) -> None:
    onnx_path = onnx_factory.int8_matmul(tmp_path / "tree" / "network.onnx")
    progress: list[str] = []
    circuit = ngx.build_circuit(onnx_path.parent, settings, tune=False, progress=progress.append)
    assert "int8 in int32" in circuit.manifest.tuning["reference"]
    assert any("reference outputs: onnxruntime, with leaf_votes" in p for p in progress)
    data = ngx.InputData(((0.3, -0.2, 0.1, 0.9),))
    proof = ngx.prove(circuit, ngx.commit(circuit.manifest, data)[1], tmp_path / "proof.json", settings)
    assert [round(v) for v in proof.outputs] == [2, 1, 2]
    ngx.verify(proof.path, circuit, settings)


def _tune_wide(
    tmp_path: Path, memory_mb: int, candidates: tuple[tuner.Candidate, ...], measure: tuner.Measure = lambda s, c: 0.0
) -> tuner.Tuning:
    onnx_path = onnx_factory.wide_matmul(tmp_path / "wide.onnx", 16)
    calibration = tmp_path / "cal.json"
    calibration.write_text(
        '{"input_data": [[0.5, -0.5, 0.25, 0.0, 0.1, 0.2, 0.3, 0.4, -0.1, -0.2, -0.3, -0.4, 1.0, -1.0, 0.7, 0.6]]}'
    )
    work = tmp_path / "work"
    work.mkdir()
    return tuner.tune(
        work,
        onnx_path,
        calibration,
        {"input_visibility": "public", "param_visibility": "fixed", "output_visibility": "public"},
        max_logrows=20,
        tolerance=1.0,
        measure=measure,
        candidates=candidates,
        knobs=False,
        memory_mb=memory_mb,
    )


SMALL_TABLE = tuner.Candidate(256, 4, 4)


def test_a_layout_estimated_over_the_memory_limit_is_not_built_and_a_smaller_one_is(tmp_path: Path) -> None:
    """lenet_5: EZKL's default (logrows 20, about 20 GB to prove) ran a 16 GB build out of memory. Here the
    default's range table forces logrows 15 (about 1 GB to prove); under an 800 MB limit the 256x4
    layout (logrows 9) is chosen instead and the default is never calibrated."""
    assert limits.estimate_mb(20, 2) > limits.memory_budget_mb(16384) > limits.estimate_mb(18, 4)
    chosen = _tune_wide(tmp_path, 800, (tuner.EZKL_DEFAULT, SMALL_TABLE))
    assert chosen.candidate == SMALL_TABLE
    default = next(t for t in chosen.tried if t["label"] == tuner.EZKL_DEFAULT.label)
    assert "800 MB build limit" in default["rejected"] and default["memory_mb"] > limits.memory_budget_mb(800)
    assert "logrows" not in default  # refused on its lower bound, before calibration


def test_a_model_no_layout_of_which_fits_the_memory_limit_is_refused_at_once_with_the_setting(tmp_path: Path) -> None:
    with pytest.raises(CircuitError) as info:
        _tune_wide(tmp_path, 300, (tuner.EZKL_DEFAULT, SMALL_TABLE))
    assert "more memory than the build may use" in info.value.message
    assert "raise NGX_ZK_BUILD_MEMORY_MB to at least" in str(info.value.hint)
    assert not list((tmp_path / "work").glob("settings-*.json"))


def test_when_the_layouts_that_fit_the_memory_fail_the_refusal_says_so_and_names_the_memory_setting(tmp_path: Path) -> None:
    """multihead_attention with --max-logrows 21 and a raised memory limit: the 4-column layouts that fit failed
    EZKL's calibration, the rest were over the memory limit; the build said "no circuit settings fit" and told the
    user to check the calibration data. The refusal names both, and the setting that lets the others be tried."""

    def calibration_fails(settings: Path, compiled: Path) -> float:
        raise CircuitError("calibration failed: no suitable parameters", "-")

    with pytest.raises(CircuitError) as info:
        _tune_wide(tmp_path, 800, (tuner.EZKL_DEFAULT, SMALL_TABLE), calibration_fails)
    assert info.value.message.startswith(
        "the 1 circuit layout(s) of this model that fit the build's memory failed (calibration failed: no suitable "
        "parameters); the others are estimated to need more memory than the build may use (the smallest about "
    )
    assert "raise NGX_ZK_BUILD_MEMORY_MB to at least" in str(info.value.hint)
