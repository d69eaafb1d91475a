"""Small ONNX graphs made in code, for bad-input and architecture tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def linear(path: Path, n_in: int = 4, n_out: int = 2, *, batch: int | str = 1, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.uniform(-1, 1, (n_in, n_out)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.uniform(-1, 1, (n_out,)).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, n_out])],
        [w, b],
    )
    return save(graph, path)


def save(graph: onnx.GraphProto, path: Path, opset: int = 17) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def with_external_data(path: Path, location: str = "../../etc/passwd") -> Path:
    model = onnx.load(str(linear(path)))
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    onnx.save(model, str(path))
    return path


def constant_of_shape_bomb(path: Path) -> Path:
    shape = numpy_helper.from_array(np.array([1, 1 << 20, 1 << 20], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["big"]), helper.make_node("Add", ["x", "big"], ["y"])],
        "bomb",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [shape],
    )
    return save(graph, path)


def unsupported_op(path: Path) -> Path:
    """A graph EZKL cannot turn into a circuit (a string-free but unsupported op)."""
    k = numpy_helper.from_array(np.array([2], dtype=np.int64), "k")
    graph = helper.make_graph(
        [helper.make_node("TopK", ["x", "k"], ["y", "idx"], axis=1)],
        "topk",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2]),
            helper.make_tensor_value_info("idx", TensorProto.INT64, [1, 2]),
        ],
        [k],
    )
    return save(graph, path)


def dynamic_feature_dim(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "dyn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "features"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "features"])],
    )
    return save(graph, path)


def runtime_type_clash(path: Path) -> Path:
    """Valid for the ONNX checker, refused by onnxruntime: an Add of a float input and an int64 constant."""
    c = numpy_helper.from_array(np.ones((1, 4), dtype=np.int64), "c")
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["h"], name="relu_0"), helper.make_node("Add", ["h", "c"], ["y"], name="add_clash")],
        "clash",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [c],
    )
    return save(graph, path)


def unknown_custom_op(path: Path) -> Path:
    """A node in a custom domain that onnxruntime has no kernel for."""
    graph = helper.make_graph(
        [helper.make_node("Frobnicate", ["x"], ["y"], name="frob_1", domain="com.example")],
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def int_index_gather(path: Path, rows: int = 6, cols: int = 4) -> Path:
    """Two inputs, float data and int64 indices into it (EZKL's gather_elements example, in small)."""
    graph = helper.make_graph(
        [helper.make_node("GatherElements", ["x", "idx"], ["y"], axis=1, name="gather")],
        "gather_elements",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, rows]),
            helper.make_tensor_value_info("idx", TensorProto.INT64, [1, cols]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cols])],
    )
    return save(graph, path)


def bool_input(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
        "flags",
        [helper.make_tensor_value_info("x", TensorProto.BOOL, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    return save(graph, path)


def layernorm(path: Path, n: int = 8) -> Path:
    """One LayerNormalization: EZKL's witness fails on an all-zero input (variance 0), not on real ones."""
    graph = helper.make_graph(
        [helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1)],
        "layernorm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
        [numpy_helper.from_array(np.ones(n, np.float32), "g"), numpy_helper.from_array(np.zeros(n, np.float32), "b")],
    )
    return save(graph, path)


def misdeclared_pool(path: Path) -> Path:
    """An Lp pool (p = 2, before the root) as torch exports it, Mul then AveragePool, that computes
    ``[1, 3, 2, 2]`` while its output is declared ``[batch, 2, 2]`` (EZKL's ``1l_lppool`` in small)."""
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["x", "x"], ["sq"], name="square"),
            helper.make_node("AveragePool", ["sq"], ["y"], kernel_shape=[1, 1], strides=[1, 1], pads=[0, 0, 0, 0], name="pool"),
        ],
        "lppool",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2, 2])],
    )
    return save(graph, path)


def symbolic_output_dim(path: Path, n_in: int = 4) -> Path:
    """A fixed-shape input whose output is declared with a symbolic feature dimension (as exporters
    name MatMul outputs, ``MatMuloutput_dim_1``): the graph fixes it, the declaration does not."""
    w = numpy_helper.from_array(np.random.default_rng(1).uniform(-1, 1, (n_in, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        "symbolic_out",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch_size", n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch_size", "MatMuloutput_dim_1"])],
        [w],
    )
    return save(graph, path)


def int8_matmul(path: Path) -> Path:
    """A decision-tree-like graph (hummingbird's export, EZKL's ``decision_tree`` in small): thresholds
    give int8 indicators, an int8 MatMul (which onnxruntime has no kernel for) sums them per leaf."""
    thresholds = numpy_helper.from_array(np.array([[0.0, 0.5, -0.5, 0.25]], dtype=np.float32), "threshold")
    paths = numpy_helper.from_array(np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]], dtype=np.int8), "paths")
    graph = helper.make_graph(
        [
            helper.make_node("Less", ["threshold", "x"], ["above"], name="split"),
            helper.make_node("Cast", ["above"], ["ind"], to=TensorProto.INT8, name="as_int8"),
            helper.make_node("MatMul", ["ind", "paths"], ["votes"], name="leaf_votes"),
            helper.make_node("Cast", ["votes"], ["y"], to=TensorProto.FLOAT, name="as_float"),
        ],
        "int8_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch_size", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch_size", 3])],
        [thresholds, paths],
    )
    return save(graph, path, opset=10)


def float_equal_opset10(path: Path) -> Path:
    """An ``Equal`` on floats at opset 10, which onnxruntime refuses (Equal takes floats from opset 11), as
    in EZKL's ``nanoGPT`` (its causal mask)."""
    zero = numpy_helper.from_array(np.zeros((1, 4), dtype=np.float32), "zero")
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("Equal", ["r", "zero"], ["mask"], name="is_zero"),
            helper.make_node("Cast", ["mask"], ["y"], to=TensorProto.FLOAT, name="as_float"),
        ],
        "float_equal",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [zero],
    )
    return save(graph, path, opset=10)


def wide_matmul(path: Path, n: int = 48, seed: int = 0) -> Path:
    """One ``[1, n] x [n, n]`` MatMul with public input: its rows grow with n^2 / num_inner_cols, so a low
    logrows cap sits between EZKL's default layout (2 columns) and a 4-column one."""
    w = numpy_helper.from_array(np.random.default_rng(seed).uniform(-1, 1, (n, n)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "wide_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
        [w],
    )
    return save(graph, path)
