"""Stage 1 of the pipeline: find, check and prepare an ONNX model for EZKL.

Hostile or unusable files are refused here, before any circuit work: missing files, non-ONNX bytes,
external data (a path-traversal and exfiltration vector), oversized files and tensors, inputs with
dynamic dimensions beyond the batch. Output shapes are read from what the graph computes, not from
its declaration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import defaults
from .artifacts import sha256_file
from .errors import InvalidModelError, ModelNotFoundError, NgxZkError

ONNX_FILE = "network.onnx"
CALIBRATION_FILE = "calibration.json"
SAMPLE_INPUT_FILE = "input.json"
SALT_PREFIX = "ngx_salt"


FLOAT_TYPES = {TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64", TensorProto.FLOAT16: "float16"}
INT_TYPES = {
    TensorProto.INT64: "int64",
    TensorProto.INT32: "int32",
    TensorProto.INT16: "int16",
    TensorProto.INT8: "int8",
    TensorProto.UINT8: "uint8",
    TensorProto.UINT16: "uint16",
    TensorProto.UINT32: "uint32",
}
"""ONNX input element types ngx-zk proves. EZKL quantizes float inputs at the input scale; integer inputs
(token ids, indices) enter the circuit as the integers themselves (scale 0)."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    """numpy name of the element type: one of FLOAT_TYPES' or INT_TYPES' values."""
    value_range: tuple[int, int] | None = None
    """For an integer input used as indices into a weight table: the valid values [low, high)."""

    @property
    def is_int(self) -> bool:
        return self.dtype in INT_TYPES.values()

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
    for v in graph_inputs:
        elem = v.type.tensor_type.elem_type
        if elem not in FLOAT_TYPES and elem not in INT_TYPES:
            raise InvalidModelError(
                path,
                f"input {v.name!r} has element type {TensorProto.DataType.Name(elem).lower()}",
                "ngx-zk proves models whose inputs are float or integer tensors",
            )
    ranges = index_ranges(model)
    inputs = tuple(
        replace(
            _tensor_info(path, v, "input"),
            dtype=FLOAT_TYPES.get(v.type.tensor_type.elem_type) or INT_TYPES[v.type.tensor_type.elem_type],
            value_range=ranges.get(v.name) if v.type.tensor_type.elem_type in INT_TYPES else None,
        )
        for v in graph_inputs
    )
    return inputs, _outputs(path, model, inputs)


def _outputs(path: Path, model: onnx.ModelProto, inputs: tuple[TensorInfo, ...]) -> tuple[TensorInfo, ...]:
    """The graph's outputs with the shapes it computes for one sample, not the shapes it declares.

    Exporters declare symbolic dimensions (``MatMuloutput_dim_1``) and sometimes wrong ones (an
    LpPool declared ``[batch, 2, 2]`` that yields ``[3, 2, 2]``), while EZKL lays out what the graph
    computes. ONNX shape inference with the inputs' fixed shapes answers first; where it cannot,
    onnxruntime runs the graph on zeros (EZKL resolves dimensions the same way, from the input shapes).
    """
    inferred = _inferred_output_shapes(model, inputs)
    ran: dict[str, tuple[int, ...]] | None = None
    found = []
    for v in model.graph.output:
        shape = inferred.get(v.name)
        if shape is None:
            if ran is None:
                ran = graph_output_shapes(path, inputs)
            shape = ran.get(v.name)
        found.append(TensorInfo(v.name, shape) if shape is not None else _tensor_info(path, v, "output"))
    return tuple(found)


def _inferred_output_shapes(model: onnx.ModelProto, inputs: tuple[TensorInfo, ...]) -> dict[str, tuple[int, ...]]:
    concrete = onnx.ModelProto()
    concrete.CopyFrom(model)
    fixed = {i.name: i.shape for i in inputs}
    for v in concrete.graph.input:
        if v.name in fixed:
            v.type.tensor_type.ClearField("shape")
            for d in fixed[v.name]:
                v.type.tensor_type.shape.dim.add().dim_value = d
    for v in concrete.graph.output:
        v.type.tensor_type.ClearField("shape")  # the declaration must not leak into the answer
    del concrete.graph.value_info[:]
    try:
        result = onnx.shape_inference.infer_shapes(concrete, strict_mode=False, data_prop=True)
    except Exception:  # best effort: onnxruntime answers where inference cannot
        return {}
    shapes = {}
    for v in result.graph.output:
        t = v.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") and d.dim_value > 0 for d in t.shape.dim):
            shapes[v.name] = tuple(int(d.dim_value) for d in t.shape.dim)
    return shapes


def graph_output_shapes(path: Path, inputs: tuple[TensorInfo, ...]) -> dict[str, tuple[int, ...]]:
    """Output name -> shape, from one onnxruntime run on zeros (integer inputs at their lowest valid value);
    empty when onnxruntime cannot run the graph."""
    from .inference import OnnxRunner  # onnxruntime loads only for graphs shape inference cannot size

    try:
        runner = OnnxRunner(path)
        values = [[float(i.value_range[0] if i.value_range else 0)] * i.size for i in inputs]
        outs = runner.run(values, [i.shape for i in inputs])
    except NgxZkError:
        return {}
    return {meta.name: tuple(int(d) for d in out.shape) for meta, out in zip(runner.session.get_outputs(), outs, strict=True)}


_PASS_THROUGH = {"Cast", "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose"}
"""Ops that move or retype an index tensor without changing its values."""


def index_ranges(model: onnx.ModelProto) -> dict[str, tuple[int, int]]:
    """Integer graph inputs whose values index a tensor (an Embedding's Gather), and their valid range.

    An input, possibly reshaped or cast on the way, that is only ever the indices of ``Gather`` or
    ``GatherElements`` nodes over weights or fixed-shape inputs can take values in ``[0, size)`` of
    the smallest such axis; EZKL fails on anything else (negative indices included). Inputs used in
    any other way get no range.
    """
    weights = {t.name for t in model.graph.initializer}
    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
    for value in model.graph.input:  # a gather from another input of fixed shape (EZKL's gather_elements)
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in value.type.tensor_type.shape.dim]
        if value.name not in weights and dims and all(d > 0 for d in dims[1:]):
            shapes[value.name] = (max(dims[0], 1), *dims[1:])
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            if name:
                consumers.setdefault(name, []).append(node)
    found: dict[str, tuple[int, int]] = {}
    for value in model.graph.input:
        if value.name in weights or value.type.tensor_type.elem_type not in INT_TYPES:
            continue
        bound = _index_bound(value.name, consumers, shapes, depth=0)
        if bound:
            found[value.name] = (0, bound)
    return found


def _index_bound(
    name: str, consumers: dict[str, list[onnx.NodeProto]], shapes: dict[str, tuple[int, ...]], depth: int
) -> int | None:
    users = consumers.get(name, [])
    if not users or depth > 8:
        return None
    bounds = []
    for node in users:
        if (
            node.op_type in ("Gather", "GatherElements")
            and len(node.input) > 1
            and node.input[1] == name
            and node.input[0] != name
        ):
            dims = shapes.get(node.input[0])
            axis = next((int(a.i) for a in node.attribute if a.name == "axis"), 0)
            if not dims or not -len(dims) <= axis < len(dims):
                return None
            bounds.append(dims[axis])
        elif node.op_type in _PASS_THROUGH and node.input[0] == name:
            inner = [_index_bound(out, consumers, shapes, depth + 1) for out in node.output]
            if any(b is None for b in inner):
                return None
            bounds.extend(b for b in inner if b is not None)
        else:
            return None
    return min(bounds) if bounds else None


def _tensor_info(path: Path, value: onnx.ValueInfoProto, role: str) -> TensorInfo:
    dims: list[int] = []
    for i, d in enumerate(value.type.tensor_type.shape.dim):
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(d.dim_value)
        elif i == 0:
            dims.append(1)  # a symbolic batch dimension: EZKL proves one sample (batch_size = 1)
        elif role == "output":
            raise InvalidModelError(
                path,
                f"output {value.name!r} has a dynamic dimension {i} ({d.dim_param or 'unnamed'}) that neither ONNX shape "
                "inference nor an onnxruntime run resolves",
                "export the model with fixed output shapes",
            )
        else:
            raise InvalidModelError(
                path,
                f"input {value.name!r} has a dynamic dimension {i} ({d.dim_param or 'unnamed'}); EZKL fixes only the batch dimension",
                "export the model with fixed input shapes (e.g. torch.onnx.export without dynamic_axes beyond the batch)",
            )
    return TensorInfo(value.name, tuple(dims))


def _optional(path: Path) -> Path | None:
    return path if path.is_file() else None


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_-")
    return cleaned or "model"


def with_salt_slots(model: onnx.ModelProto, inputs: tuple[TensorInfo, ...], salt_elements: int) -> onnx.ModelProto:
    """The graph EZKL compiles: each input becomes a flat ``[1, n + salt_elements]`` tensor of its own element type.

    A Slice keeps the first ``n`` values and a Reshape restores the original shape, so the model
    computes exactly what it did, while EZKL's Poseidon commitment covers the salt as well.
    """
    if salt_elements == 0:
        return model
    graph = model.graph
    originals = {i.name: i for i in inputs}
    elem_types = {v.name: v.type.tensor_type.elem_type for v in graph.input}
    kept = [v for v in graph.input if v.name not in originals]
    del graph.input[:]
    new_nodes = []
    for idx, info in enumerate(inputs):
        flat = f"{info.name}_{SALT_PREFIX}ed"
        # an integer input gets integer salt slots: the Slice keeps the element type
        graph.input.append(helper.make_tensor_value_info(flat, elem_types[info.name], [1, info.size + salt_elements]))
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


BATCH_SEPARATOR = "__"
"""Input and output names of a batch circuit: ``<name>__<k>`` for inference ``k``."""
MAX_BATCH = 256


def batch_name(name: str, k: int) -> str:
    return f"{name}{BATCH_SEPARATOR}{k}"


def batched(model: onnx.ModelProto, source: ModelSource, n: int) -> tuple[onnx.ModelProto, ModelSource]:
    """One graph that runs the model ``n`` times, side by side: inference ``k`` reads ``<input>__k`` and writes ``<output>__k``.

    The nodes are copied per inference (their tensors renamed), the weights shared. EZKL then
    commits to every input tensor on its own, so each inference keeps its own salt and its own
    Poseidon commitment: one inference can be shown to a third party without the others. (EZKL's
    batch dimension would hash all ``n`` inputs into one commitment.) Inputs and outputs come in
    inference order: those of inference 0, then those of inference 1, ...
    """
    if not 1 <= n <= MAX_BATCH:
        raise InvalidModelError(source.onnx_path, f"batch size {n} is out of range", f"choose 1..{MAX_BATCH}")
    if n == 1:
        return model, source
    graph = model.graph
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for node in graph.node for a in node.attribute):
        raise InvalidModelError(
            source.onnx_path,
            "the graph has control flow (If/Loop/Scan subgraphs): it cannot be batched",
            "build it without --batch",
        )
    weights = {t.name for t in graph.initializer}
    io_names = {i.name for i in source.inputs} | {o.name for o in source.outputs}

    def rename(name: str, k: int) -> str:
        if not name or name in weights:
            return name
        return batch_name(name, k) if name in io_names else f"b{k}/{name}"

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    del g.node[:], g.input[:], g.output[:], g.value_info[:]
    for k in range(n):
        for v in graph.input:
            if v.name not in weights:
                g.input.append(_renamed_value(v, batch_name(v.name, k)))
        for v in graph.output:
            g.output.append(_renamed_value(v, batch_name(v.name, k)))
        for v in graph.value_info:
            g.value_info.append(_renamed_value(v, rename(v.name, k)))
        for node in graph.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            copy.name = f"b{k}/{node.name}" if node.name else ""
            copy.input[:] = [rename(x, k) for x in node.input]
            copy.output[:] = [rename(x, k) for x in node.output]
            g.node.append(copy)
    g.input.extend(v for v in graph.input if v.name in weights)  # old-style graphs list weights as inputs too
    onnx.checker.check_model(out)
    inputs = tuple(replace(i, name=batch_name(i.name, k)) for k in range(n) for i in source.inputs)
    outputs = tuple(replace(o, name=batch_name(o.name, k)) for k in range(n) for o in source.outputs)
    return out, replace(source, inputs=inputs, outputs=outputs)


def _renamed_value(value: onnx.ValueInfoProto, name: str) -> onnx.ValueInfoProto:
    copy = onnx.ValueInfoProto()
    copy.CopyFrom(value)
    copy.name = name
    return copy
