"""Stage 1 of the pipeline: find, check and prepare an ONNX model for EZKL.

Hostile or unusable files are refused here, before any circuit work: missing files, non-ONNX bytes,
external data (a path-traversal and exfiltration vector), oversized files and tensors, dynamic shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import defaults
from .artifacts import sha256_file
from .errors import InvalidModelError, ModelNotFoundError

ONNX_FILE = "network.onnx"
CALIBRATION_FILE = "calibration.json"
SAMPLE_INPUT_FILE = "input.json"
SALT_PREFIX = "ngx_salt"


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class ModelSource:
    """A checked ONNX model and the files that came with it."""

    name: str
    onnx_path: Path
    sha256: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    calibration: Path | None
    sample_input: Path | None


def resolve(spec: str | Path) -> ModelSource:
    """A model folder (holding ``network.onnx``) or an ``.onnx`` file, checked for safe use."""
    path = Path(spec)
    if path.is_dir():
        folder, onnx_path, name = path, path / ONNX_FILE, path.resolve().name
        if not onnx_path.is_file():
            raise InvalidModelError(path, f"folder has no {ONNX_FILE}", "export the model to ONNX first (see models/build.py)")
    elif path.is_file():
        folder, onnx_path, name = path.parent, path, path.stem if path.stem != "network" else path.resolve().parent.name
    else:
        raise ModelNotFoundError(path)
    model = load_checked(onnx_path)
    inputs, outputs = _io(onnx_path, model)
    return ModelSource(
        name=_safe_name(name),
        onnx_path=onnx_path,
        sha256=sha256_file(onnx_path),
        inputs=inputs,
        outputs=outputs,
        calibration=_optional(folder / CALIBRATION_FILE),
        sample_input=_optional(folder / SAMPLE_INPUT_FILE),
    )


def load_checked(path: Path, *, max_bytes: int = defaults.MAX_ONNX_BYTES) -> onnx.ModelProto:
    """Parse an ONNX file, refusing anything unsafe or unusable with a clear reason."""
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidModelError(
            path,
            f"file is {size:,} bytes, above the {max_bytes:,}-byte limit",
            "circuits for such models would be far above the logrows cap",
        )
    raw = path.read_bytes()
    try:
        model = onnx.load_from_string(raw)
    except Exception:  # protobuf raises several unrelated types for garbage input
        raise InvalidModelError(path, "not an ONNX model (the file does not parse as ONNX protobuf)") from None
    if not model.graph.node and not model.graph.output:
        raise InvalidModelError(path, "not an ONNX model (empty graph)")
    for tensor in _all_tensors(model):
        if tensor.data_location == TensorProto.EXTERNAL or tensor.external_data:
            raise InvalidModelError(
                path,
                f"tensor {tensor.name!r} uses ONNX external data, which is refused",
                "embed the weights in the file (onnx.save(model, path, save_as_external_data=False))",
            )
    if len(model.graph.node) > defaults.MAX_GRAPH_NODES:
        raise InvalidModelError(path, f"graph has {len(model.graph.node):,} nodes, above the {defaults.MAX_GRAPH_NODES:,} limit")
    _check_tensor_sizes(path, model)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise InvalidModelError(path, f"invalid ONNX graph: {str(exc).splitlines()[0]}") from None
    return model


def _all_tensors(model: onnx.ModelProto) -> list[TensorProto]:
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                tensors.append(attr.t)
            tensors.extend(attr.tensors)
    return tensors


def _check_tensor_sizes(path: Path, model: onnx.ModelProto) -> None:
    """Refuse graphs that declare or infer huge tensors (e.g. a ConstantOfShape memory bomb)."""
    cap = defaults.MAX_TENSOR_ELEMENTS
    for tensor in model.graph.initializer:
        if math.prod(tensor.dims) > cap:
            raise InvalidModelError(
                path, f"initializer {tensor.name!r} has {math.prod(tensor.dims):,} elements, above the {cap:,} limit"
            )
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape":
            shape_src = node.input[0]
            for init in model.graph.initializer:
                if init.name == shape_src and math.prod(int(d) for d in numpy_helper.to_array(init).reshape(-1)) > cap:
                    raise InvalidModelError(path, f"ConstantOfShape node {node.name!r} would allocate more than {cap:,} elements")
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # inference is best effort here; EZKL checks shapes again
        return
    for value in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim if d.HasField("dim_value")]
        if dims and math.prod(dims) > cap:
            raise InvalidModelError(path, f"tensor {value.name!r} has {math.prod(dims):,} elements, above the {cap:,} limit")


def _io(path: Path, model: onnx.ModelProto) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    initializers = {t.name for t in model.graph.initializer}
    graph_inputs = [v for v in model.graph.input if v.name not in initializers]
    if not graph_inputs:
        raise InvalidModelError(path, "the graph has no inputs")
    inputs = tuple(_tensor_info(path, v, "input") for v in graph_inputs)
    for v in graph_inputs:
        if v.type.tensor_type.elem_type not in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16):
            raise InvalidModelError(path, f"input {v.name!r} is not a float tensor", "ngx-zk proves models with float inputs")
    return inputs, tuple(_tensor_info(path, v, "output") for v in model.graph.output)


def _tensor_info(path: Path, value: onnx.ValueInfoProto, role: str) -> TensorInfo:
    dims: list[int] = []
    for i, d in enumerate(value.type.tensor_type.shape.dim):
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(d.dim_value)
        elif i == 0:
            dims.append(1)  # a symbolic batch dimension: EZKL proves one sample (batch_size = 1)
        else:
            raise InvalidModelError(
                path, f"{role} {value.name!r} has a dynamic dimension {i}", "export the model with fixed shapes"
            )
    return TensorInfo(value.name, tuple(dims))


def _optional(path: Path) -> Path | None:
    return path if path.is_file() else None


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_-")
    return cleaned or "model"


def with_salt_slots(model: onnx.ModelProto, inputs: tuple[TensorInfo, ...], salt_elements: int) -> onnx.ModelProto:
    """The graph EZKL compiles: each input becomes a flat ``[1, n + salt_elements]`` tensor.

    A Slice keeps the first ``n`` values and a Reshape restores the original shape, so the model
    computes exactly what it did, while EZKL's Poseidon commitment covers the salt as well.
    """
    if salt_elements == 0:
        return model
    graph = model.graph
    originals = {i.name: i for i in inputs}
    kept = [v for v in graph.input if v.name not in originals]
    del graph.input[:]
    new_nodes = []
    for idx, info in enumerate(inputs):
        flat = f"{info.name}_{SALT_PREFIX}ed"
        graph.input.append(helper.make_tensor_value_info(flat, TensorProto.FLOAT, [1, info.size + salt_elements]))
        consts = {
            f"{SALT_PREFIX}_{idx}_starts": [0],
            f"{SALT_PREFIX}_{idx}_ends": [info.size],
            f"{SALT_PREFIX}_{idx}_axes": [1],
            f"{SALT_PREFIX}_{idx}_shape": list(info.shape),
        }
        for cname, values in consts.items():
            graph.initializer.append(numpy_helper.from_array(np.array(values, dtype=np.int64), cname))
        sliced = f"{SALT_PREFIX}_{idx}_values"
        new_nodes.append(helper.make_node("Slice", [flat, *list(consts)[:3]], [sliced], name=f"{SALT_PREFIX}_{idx}_slice"))
        new_nodes.append(helper.make_node("Reshape", [sliced, list(consts)[3]], [info.name], name=f"{SALT_PREFIX}_{idx}_reshape"))
    graph.input.extend(kept)
    for pos, node in enumerate(new_nodes):
        graph.node.insert(pos, node)
    onnx.checker.check_model(model)
    return model
