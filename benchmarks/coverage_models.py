"""Small external-style models: ONNX graphs shaped the way other tools export them, not the way ngx-zk's own
``model export`` does (issue 28). Each reproduces, in small and with its own weights, an op family of
EZKL's ``examples/onnx`` that ngx-zk once shut out or had trouble with:

- ``lppool``: torch's LPPool2d (Pow, AveragePool, Sign, Abs, Relu, Mul, Pow 0.5, Gather), its output
  declared ``[batch, 2, 2]`` while the graph computes ``[3, 2, 2]`` (``1l_lppool``);
- ``tree``: a decision tree in hummingbird's GEMM form: double thresholds, an int8 MatMul that onnxruntime
  has no kernel for, Equal, And, ArgMax, Gather of an int64 class label (``decision_tree``);
- ``boosted``: gradient-boosted trees in hummingbird's tree-traversal form: Gather, GatherElements, Less,
  Reshape, ReduceSum, Softmax, ArgMax, its probabilities declared with a symbolic dimension (``xgboost``);
- ``layernorm``: a LayerNormalization over ``[batch, 4, 4]`` (witness generation fails on zeros);
- ``gru``: a one-layer GRU as torch exports it, its initial state built by Shape/ConstantOfShape (``gru``).

Written only when named (:data:`ENSEMBLES`, larger: not in the default set nor its slow tier):

- ``forest``: a random forest as sk2torch/hummingbird export it, 40 random trees of the ``tree`` form
  (80 int8 MatMuls), each voting a float class label, averaged (``random_forest``, whose tuning overran
  the tuner's time budget).

Every input has a symbolic batch dimension, as exporters write it. Deterministic (fixed seeds):

    .venv/bin/python benchmarks/coverage_models.py /tmp/coverage/models          # writes NAME/network.onnx, input.json
    .venv/bin/python benchmarks/coverage_models.py /tmp/coverage/forest forest   # only these names
    .venv/bin/python benchmarks/run.py --only coverage --coverage-dir /tmp/coverage/forest
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 28
BATCH = "batch_size"


def _const(name: str, value: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))


def _save(graph: onnx.GraphProto, path: Path, opset: int) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="coverage_models")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def lppool(path: Path, rng: np.random.Generator) -> tuple[int, ...]:
    """LPPool2d(p=2, kernel 2, stride 1) on ``[1, 3, 3, 3]``, then ``x[0]``: computes ``[3, 2, 2]``."""
    nodes = [
        _const("two", np.array(2.0, np.float32)),
        helper.make_node("Pow", ["input", "two"], ["sq"]),
        helper.make_node("AveragePool", ["sq"], ["avg"], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 0, 0]),
        helper.make_node("Sign", ["avg"], ["sign"]),
        helper.make_node("Abs", ["avg"], ["abs"]),
        helper.make_node("Relu", ["abs"], ["relu"]),
        helper.make_node("Mul", ["sign", "relu"], ["signed"]),
        _const("window", np.array(4.0, np.float32)),
        helper.make_node("Mul", ["signed", "window"], ["summed"]),
        _const("half", np.array(0.5, np.float32)),
        helper.make_node("Pow", ["summed", "half"], ["pooled"]),
        _const("first", np.array(0, np.int64)),
        helper.make_node("Gather", ["pooled", "first"], ["output"], axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        "lppool",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [BATCH, 3, 3, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [BATCH, 2, 2])],  # misdeclared, as torch wrote it
    )
    _save(graph, path, 17)
    return (1, 3, 3, 3)


# A depth-2 tree over 4 features: node 0 splits to nodes 1 and 2, each splits to two leaves (0-3).
TREE_FEATURES = np.array([2, 0, 3], np.int64)
TREE_THRESHOLDS = np.array([0.1, -0.3, 0.4], np.float64)
TREE_RIGHT = np.array([[0, 0, 1, 1], [0, 1, 0, 0], [0, 0, 0, 1]], np.int8)  # node n is passed on the right to reach leaf l
TREE_LEFT = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]], np.int8)  # ... on the left


def tree(path: Path, rng: np.random.Generator) -> tuple[int, ...]:
    """Hummingbird's GEMM strategy: the leaf is the one whose right turns all hold and left turns none."""
    leaf_values = rng.dirichlet(np.ones(3), size=4).reshape(4, 1, 3).astype(np.float64)
    inits = [
        numpy_helper.from_array(TREE_FEATURES, "feature"),
        numpy_helper.from_array(TREE_THRESHOLDS, "threshold"),
        numpy_helper.from_array(TREE_RIGHT, "right"),
        numpy_helper.from_array(TREE_LEFT, "left"),
        numpy_helper.from_array(TREE_RIGHT.T.astype(np.int64), "right_count"),
        numpy_helper.from_array(leaf_values, "value"),
        numpy_helper.from_array(np.array([3, 5, 7], np.int64), "classes"),
    ]
    nodes = [
        helper.make_node("Gather", ["input", "feature"], ["picked"], axis=1),
        helper.make_node("Cast", ["picked"], ["picked64"], to=TensorProto.DOUBLE),
        helper.make_node("Less", ["threshold", "picked64"], ["goes_right"]),
        helper.make_node("Cast", ["goes_right"], ["turns"], to=TensorProto.INT8),
        helper.make_node("MatMul", ["turns", "right"], ["right_taken"]),
        helper.make_node("ReduceSum", ["right_count"], ["right_needed"], axes=[1], keepdims=0),
        helper.make_node("Cast", ["right_taken"], ["right_taken64"], to=TensorProto.INT64),
        helper.make_node("Equal", ["right_taken64", "right_needed"], ["rights_hold"]),
        helper.make_node("MatMul", ["turns", "left"], ["left_taken"]),
        helper.make_node("Cast", ["left_taken"], ["left_taken64"], to=TensorProto.INT64),
        _const("none", np.zeros(4, np.int64)),
        helper.make_node("Equal", ["left_taken64", "none"], ["lefts_hold"]),
        helper.make_node("And", ["rights_hold", "lefts_hold"], ["reached"]),
        helper.make_node("Cast", ["reached"], ["reached32"], to=TensorProto.INT32),
        helper.make_node("ArgMax", ["reached32"], ["leaf"], axis=-1, keepdims=0),
        helper.make_node("Gather", ["value", "leaf"], ["votes3"], axis=0),
        _const("zero", np.array(0, np.int64)),
        helper.make_node("Gather", ["votes3", "zero"], ["votes"], axis=1),
        helper.make_node("ArgMax", ["votes"], ["label"], axis=1, keepdims=0),
        helper.make_node("Gather", ["classes", "label"], ["output"], axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        "tree",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [BATCH, 4])],
        [helper.make_tensor_value_info("output", TensorProto.INT64, [BATCH])],
        inits,
    )
    _save(graph, path, 10)
    return (1, 4)


def boosted(path: Path, rng: np.random.Generator) -> tuple[int, ...]:
    """Six depth-2 trees (two per class) walked level by level; class scores summed, then Softmax, ArgMax."""
    trees, classes = 6, 3
    inits = [
        numpy_helper.from_array(rng.integers(0, 4, trees).astype(np.int64), "root_features"),
        numpy_helper.from_array(rng.uniform(-0.5, 0.5, trees).astype(np.float32), "root_biases"),
        numpy_helper.from_array((np.arange(trees) * 2).astype(np.int64), "tree_offsets"),
        numpy_helper.from_array(rng.integers(0, 4, 2 * trees).astype(np.int64), "features_1"),
        numpy_helper.from_array(rng.uniform(-0.5, 0.5, 2 * trees).astype(np.float32), "biases_1"),
        numpy_helper.from_array(rng.uniform(-1, 1, (4 * trees, 1)).astype(np.float32), "leaves"),
    ]
    nodes = [
        helper.make_node("Gather", ["input", "root_features"], ["root_x"], axis=1),
        helper.make_node("Less", ["root_x", "root_biases"], ["root_lt"]),
        helper.make_node("Cast", ["root_lt"], ["root_turn"], to=TensorProto.INT64),
        helper.make_node("Add", ["root_turn", "tree_offsets"], ["node_1"]),
        _const("flat", np.array([-1], np.int64)),
        helper.make_node("Reshape", ["node_1", "flat"], ["node_1f"]),
        helper.make_node("Gather", ["features_1", "node_1f"], ["feat_1"], axis=0),
        _const("per_tree", np.array([-1, trees], np.int64)),
        helper.make_node("Reshape", ["feat_1", "per_tree"], ["feat_1r"]),
        helper.make_node("GatherElements", ["input", "feat_1r"], ["x_1"], axis=1),
        helper.make_node("Reshape", ["x_1", "flat"], ["x_1f"]),
        _const("two", np.array(2, np.int64)),
        helper.make_node("Mul", ["node_1f", "two"], ["node_1x2"]),
        helper.make_node("Gather", ["biases_1", "node_1f"], ["bias_1"], axis=0),
        helper.make_node("Less", ["x_1f", "bias_1"], ["lt_1"]),
        helper.make_node("Cast", ["lt_1"], ["turn_1"], to=TensorProto.INT64),
        helper.make_node("Add", ["node_1x2", "turn_1"], ["leaf"]),
        helper.make_node("Gather", ["leaves", "leaf"], ["leaf_value"], axis=0),
        _const("by_class", np.array([-1, classes, trees // classes], np.int64)),
        helper.make_node("Reshape", ["leaf_value", "by_class"], ["scores"]),
        helper.make_node("ReduceSum", ["scores"], ["logits"], axes=[2], keepdims=0),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["output"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "boosted",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [BATCH, 4])],
        [
            helper.make_tensor_value_info("output", TensorProto.INT64, [BATCH]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [BATCH, "Softmaxprobabilities_dim_1"]),
        ],
        inits,
    )
    _save(graph, path, 11)
    return (1, 4)


def layernorm(path: Path, rng: np.random.Generator) -> tuple[int, ...]:
    inits = [
        numpy_helper.from_array(rng.uniform(0.5, 1.5, 4).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.uniform(-0.5, 0.5, 4).astype(np.float32), "beta"),
    ]
    graph = helper.make_graph(
        [helper.make_node("LayerNormalization", ["input", "gamma", "beta"], ["output"], axis=-1, epsilon=1e-5)],
        "layernorm",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [BATCH, 4, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [BATCH, 4, 4])],
        inits,
    )
    _save(graph, path, 17)
    return (1, 4, 4)


def gru(path: Path, rng: np.random.Generator) -> tuple[int, ...]:
    """torch.nn.GRU(3, 3) on ``x.unsqueeze(1)``, zero initial state made from the input's shape."""
    hidden = 3
    inits = [
        numpy_helper.from_array(rng.uniform(-0.6, 0.6, (1, 3 * hidden, 3)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.uniform(-0.6, 0.6, (1, 3 * hidden, hidden)).astype(np.float32), "R"),
        numpy_helper.from_array(rng.uniform(-0.3, 0.3, (1, 6 * hidden)).astype(np.float32), "B"),
    ]
    nodes = [
        helper.make_node("Unsqueeze", ["input"], ["seq"], axes=[1]),
        helper.make_node("Shape", ["seq"], ["shape"]),
        _const("one_i", np.array(1, np.int64)),
        helper.make_node("Gather", ["shape", "one_i"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch"], ["batch1"], axes=[0]),
        _const("layers", np.array([1], np.int64)),
        _const("width", np.array([hidden], np.int64)),
        helper.make_node("Concat", ["layers", "batch1", "width"], ["h0_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["h0_shape"], ["h0"], value=numpy_helper.from_array(np.zeros(1, np.float32))),
        helper.make_node("GRU", ["seq", "W", "R", "B", "", "h0"], ["y", "y_h"], hidden_size=hidden, linear_before_reset=1),
        helper.make_node("Squeeze", ["y"], ["y1"], axes=[1]),
        helper.make_node("Squeeze", ["y1"], ["output"], axes=[1]),
    ]
    graph = helper.make_graph(
        nodes,
        "gru",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [BATCH, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [BATCH, hidden])],
        inits,
    )
    _save(graph, path, 10)
    return (1, 3)


def _random_tree(rng: np.random.Generator, leaves: int) -> tuple[np.ndarray, np.ndarray]:
    """A random binary tree with ``leaves`` leaves: (right, left) int8 ``[nodes, leaves]`` path matrices."""
    paths: list[list[tuple[int, int]]] = [[]]  # per leaf: (node, 1 right / 0 left) on its path
    for node in range(leaves - 1):
        split = int(rng.integers(0, len(paths)))
        path = paths.pop(split)
        paths[split:split] = [[*path, (node, 0)], [*path, (node, 1)]]
    right, left = np.zeros((leaves - 1, leaves), np.int8), np.zeros((leaves - 1, leaves), np.int8)
    for leaf, path in enumerate(paths):
        for node, turn in path:
            (right if turn else left)[node, leaf] = 1
    return right, left


def forest(path: Path, rng: np.random.Generator, trees: int = 40) -> tuple[int, ...]:
    """EZKL's ``random_forest`` in small: ``trees`` sk2torch-style trees (the ``tree`` graph, 5 to 9 leaves
    each, iris-sized: 4 features, 3 classes), each voting a float class label, averaged."""
    nodes: list[onnx.NodeProto] = [_const("zero", np.array(0, np.int64))]
    inits = [numpy_helper.from_array(np.array([0.0, 1.0, 2.0], np.float32), "classes")]
    labels = []
    for t in range(trees):
        right, left = _random_tree(rng, int(rng.integers(5, 10)))
        n, leaves = int(right.shape[0]), int(right.shape[1])
        inits += [
            numpy_helper.from_array(rng.integers(0, 4, (n,)).astype(np.int64), f"t{t}_feature"),
            numpy_helper.from_array(rng.uniform(-0.8, 0.8, (n,)).astype(np.float64), f"t{t}_threshold"),
            numpy_helper.from_array(right, f"t{t}_right"),
            numpy_helper.from_array(left, f"t{t}_left"),
            numpy_helper.from_array(right.T.astype(np.int64), f"t{t}_right_count"),
            numpy_helper.from_array(rng.dirichlet(np.ones(3), size=leaves).reshape(leaves, 1, 3), f"t{t}_value"),
            numpy_helper.from_array(np.zeros(leaves, np.int64), f"t{t}_none"),
        ]
        nodes += [
            helper.make_node("Gather", ["input", f"t{t}_feature"], [f"t{t}_x"], axis=1),
            helper.make_node("Cast", [f"t{t}_x"], [f"t{t}_x64"], to=TensorProto.DOUBLE),
            helper.make_node("Less", [f"t{t}_threshold", f"t{t}_x64"], [f"t{t}_lt"]),
            helper.make_node("Cast", [f"t{t}_lt"], [f"t{t}_turns"], to=TensorProto.INT8),
            helper.make_node("MatMul", [f"t{t}_turns", f"t{t}_right"], [f"t{t}_rt"]),
            helper.make_node("ReduceSum", [f"t{t}_right_count"], [f"t{t}_rn"], axes=[1], keepdims=0),
            helper.make_node("Cast", [f"t{t}_rt"], [f"t{t}_rt64"], to=TensorProto.INT64),
            helper.make_node("Equal", [f"t{t}_rt64", f"t{t}_rn"], [f"t{t}_rh"]),
            helper.make_node("MatMul", [f"t{t}_turns", f"t{t}_left"], [f"t{t}_lft"]),
            helper.make_node("Cast", [f"t{t}_lft"], [f"t{t}_lft64"], to=TensorProto.INT64),
            helper.make_node("Equal", [f"t{t}_lft64", f"t{t}_none"], [f"t{t}_lh"]),
            helper.make_node("And", [f"t{t}_rh", f"t{t}_lh"], [f"t{t}_reached"]),
            helper.make_node("Cast", [f"t{t}_reached"], [f"t{t}_reached32"], to=TensorProto.INT32),
            helper.make_node("ArgMax", [f"t{t}_reached32"], [f"t{t}_leaf"], axis=-1, keepdims=0),
            helper.make_node("Gather", [f"t{t}_value", f"t{t}_leaf"], [f"t{t}_votes3"], axis=0),
            helper.make_node("Gather", [f"t{t}_votes3", "zero"], [f"t{t}_votes"], axis=1),
            helper.make_node("ArgMax", [f"t{t}_votes"], [f"t{t}_label"], axis=1, keepdims=0),
            helper.make_node("Gather", ["classes", f"t{t}_label"], [f"t{t}_out"], axis=0),
        ]
        labels.append(f"t{t}_out")
    nodes += [
        helper.make_node("Sum", labels, ["votes_sum"]),
        _const("count", np.array(float(trees), np.float32)),
        helper.make_node("Div", ["votes_sum", "count"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "forest",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [BATCH, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [BATCH])],
        inits,
    )
    _save(graph, path, 11)
    return (1, 4)


MODELS: dict[str, Callable[[Path, np.random.Generator], tuple[int, ...]]] = {
    "lppool": lppool,
    "tree": tree,
    "boosted": boosted,
    "layernorm": layernorm,
    "gru": gru,
}

ENSEMBLES: dict[str, Callable[[Path, np.random.Generator], tuple[int, ...]]] = {"forest": forest}
"""Larger models, written only by name (not part of the default set or its slow tier)."""


def write(root: Path, names: tuple[str, ...] = tuple(MODELS)) -> list[Path]:
    """Write ``root/NAME/network.onnx`` and ``input.json`` (one sample drawn from [-1, 1]) for each model."""
    every = {**MODELS, **ENSEMBLES}
    if unknown := [n for n in names if n not in every]:
        raise ValueError(f"no model named {', '.join(unknown)} (names: {', '.join(every)})")
    folders = []
    for name in names:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(SEED + list(every).index(name))  # the same model whichever others are written
        shape = every[name](folder / "network.onnx", rng)
        sample = rng.uniform(-1, 1, int(np.prod(shape))).round(4).tolist()
        (folder / "input.json").write_text(json.dumps({"input_data": [sample]}))
        folders.append(folder)
    return folders


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(
            f"usage: {sys.argv[0]} FOLDER [NAME ...]   (names: {', '.join([*MODELS, *ENSEMBLES])}; default: {', '.join(MODELS)})"
        )
    try:
        written = write(Path(sys.argv[1]), tuple(sys.argv[2:]) or tuple(MODELS))
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    for folder in written:
        print(folder)
