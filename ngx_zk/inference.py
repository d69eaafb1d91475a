"""Float inference with onnxruntime: the reference the circuit's outputs are compared against.

Uses the CUDA execution provider when onnxruntime-gpu offers it, the CPU otherwise. Each input is fed
with the element type the graph declares (int64 token ids stay integers).

Some graphs EZKL proves use types onnxruntime has no kernel for (an int8 ``MatMul`` exported by
hummingbird's decision trees). The reference then runs on a copy where each refused node computes in
a wider type (int32, or float32 for float16) with its result cast back, which is exact as long as
the narrow result does not overflow; :attr:`OnnxRunner.reference` says so, and the build records it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnx.version_converter
import onnxruntime as ort
from onnx import TensorProto, helper

from .errors import InputError, InvalidModelError

_ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16, "tensor(uint32)": np.uint32,
}  # fmt: skip


def providers() -> list[str]:
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxRunner:
    """One onnxruntime session, reused across calls.

    Raises :class:`InvalidModelError` naming the node when onnxruntime cannot load the graph, even
    with its refused nodes widened (module docstring)."""

    def __init__(self, onnx_path: Path) -> None:
        self.reference = "onnxruntime"
        """What computes the reference outputs: onnxruntime, and which nodes it runs widened."""
        try:
            self.session = _session(str(onnx_path))
        except Exception as exc:  # onnxruntime raises its own untyped errors, with a multi-part message
            widened = _widened(onnx_path, str(exc))
            if widened is None:
                raise load_error(onnx_path, str(exc)) from None
            self.session, self.reference = widened
        self.inputs = self.session.get_inputs()

    @property
    def provider(self) -> str:
        return str(self.session.get_providers()[0])

    def run(self, flat_inputs: Sequence[Sequence[float]], shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
        feed = {}
        for meta, values, shape in zip(self.inputs, flat_inputs, shapes, strict=True):
            dtype = _ORT_TYPES.get(str(meta.type), np.float32)
            feed[meta.name] = np.asarray(values, dtype=dtype).reshape(shape)
        try:
            return [np.asarray(o) for o in self.session.run(None, feed)]
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise InputError(f"onnxruntime could not run the model on this input: {str(exc).splitlines()[0]}") from None


def _session(model: str | bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options, providers=providers())


_TYPE_REFUSED = re.compile(r"Type 'tensor\((\w+)\)' of input parameter \(([^)]*)\) of operator \((\w+)\) in node \(([^)]*)\)")
_WIDER = {
    "int8": TensorProto.INT32,
    "uint8": TensorProto.INT32,
    "int16": TensorProto.INT32,
    "uint16": TensorProto.INT32,
    "float16": TensorProto.FLOAT,
    "bfloat16": TensorProto.FLOAT,
}
_NARROW = {
    "int8": TensorProto.INT8,
    "uint8": TensorProto.UINT8,
    "int16": TensorProto.INT16,
    "uint16": TensorProto.UINT16,
    "float16": TensorProto.FLOAT16,
    "bfloat16": TensorProto.BFLOAT16,
}
MAX_WIDENED = 64


def _widened(path: Path, message: str) -> tuple[ort.InferenceSession, str] | None:
    """A session on a copy of the graph that onnxruntime accepts, and what was changed; None when
    onnxruntime refuses the graph for another reason than an operand type.

    A node refused for a narrow type computes in a wider one; a type its opset does not allow yet
    (float ``Equal`` before opset 11) is tried on the graph converted to a newer opset."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # the caller reports onnxruntime's own error
        return None
    taken = {n.name for n in model.graph.node}
    unnamed = [(k, n) for k, n in enumerate(model.graph.node) if not n.name]
    for k, node in unnamed:  # exporters often leave names empty: name them, so a refusal names its node
        node.name = next(name for name in (f"{node.op_type}_{k}", f"{node.op_type}_{k}_ngx") if name not in taken)
    if unnamed:
        try:
            return _session(model.SerializeToString()), "onnxruntime"
        except Exception as exc:  # the refusal again, now naming the node
            message = str(exc)
    done: list[str] = []
    converted = ""
    for _ in range(MAX_WIDENED):
        match = _TYPE_REFUSED.search(message)
        if match is None:
            return None
        narrow, _param, op, node_name = match.groups()
        refused = next((n for n in model.graph.node if n.name == node_name), None)
        if narrow in _WIDER and refused is not None and not refused.name.endswith(_WIDENED):
            # Every node of that operator on that type is refused alike (a forest has hundreds): widen them
            # all at once rather than one session load per node.
            types = _elem_types(model)
            kin = [n for n in model.graph.node if n.op_type == op and any(types.get(i) == _NARROW[narrow] for i in n.input)]
            for node in kin or [refused]:
                _widen(model, node, _NARROW[narrow], _WIDER[narrow], types)
            wide = TensorProto.DataType.Name(_WIDER[narrow]).lower()
            done.append(
                f"{node_name} ({op}, {narrow} in {wide})"
                if len(kin) <= 1
                else f"{len(kin)} {op} nodes ({narrow} in {wide}, {node_name} the first refused)"
            )
        elif not converted and (newer := _newer_opset(model)) is not None:
            model, converted = (
                newer[0],
                f"the graph converted to opset {newer[1]} ({op} on {narrow} is refused at the model's opset)",
            )
        else:
            return None
        try:
            session = _session(model.SerializeToString())
        except Exception as exc:  # the next refused node, or another error
            message = str(exc)
            continue
        changes = [f"{', '.join(done)} computed wider" if done else "", converted]
        return session, "onnxruntime, with " + " and ".join(c for c in changes if c)
    return None


def _newer_opset(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int] | None:
    current = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    for target in (11, 13, 17):
        if target > current:
            try:
                return onnx.version_converter.convert_version(model, target), target
            except Exception:  # no adapter for some node: try the next opset
                continue
    return None


_WIDENED = "__ngx_widened"


def _widen(model: onnx.ModelProto, node: onnx.NodeProto, narrow: int, wide: int, types: dict[str, int]) -> None:
    """Cast ``node``'s narrow inputs to ``wide`` and its outputs back to ``narrow``, in place (``types``: the
    element type of each tensor before any widening)."""
    casts = []
    for k, name in enumerate(node.input):
        if name and types.get(name, narrow) == narrow:
            cast_name = f"{name}__ngx_wide_{node.name}_{k}"
            casts.append(helper.make_node("Cast", [name], [cast_name], to=wide, name=f"{cast_name}_cast"))
            node.input[k] = cast_name
    backs = []
    for k, name in enumerate(node.output):
        if name and types.get(name, narrow) == narrow:
            wide_name = f"{name}__ngx_wide"
            backs.append(helper.make_node("Cast", [wide_name], [name], to=narrow, name=f"{wide_name}_back"))
            node.output[k] = wide_name
    pos = list(model.graph.node).index(node)
    for extra in reversed(casts):
        model.graph.node.insert(pos, extra)
    for offset, extra in enumerate(backs):
        model.graph.node.insert(pos + len(casts) + 1 + offset, extra)
    node.name += _WIDENED
    del model.graph.value_info[:]  # stale types of the renamed tensors


def _elem_types(model: onnx.ModelProto) -> dict[str, int]:
    types = {t.name: t.data_type for t in model.graph.initializer}
    for v in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        types.setdefault(v.name, v.type.tensor_type.elem_type)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # best effort: unknown tensors are taken to have the refused type
        return types
    for v in inferred.graph.value_info:
        types.setdefault(v.name, v.type.tensor_type.elem_type)
    for node in model.graph.node:  # Constant nodes carry their tensors
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    types.setdefault(node.output[0], attr.t.data_type)
    return types


_NODE_NAME = re.compile(r"[Nn]ode \(([^)]*)\)|node with name '([^']*)'|[Nn]ode name: ?'?([\w./:-]+)")
_UNKNOWN_OP = re.compile(r"(?:([\w.]+):)?(\w+)\(-?\d+\) is not a registered function/op")


def load_error(path: Path, message: str) -> InvalidModelError:
    """onnxruntime's load failure as one line naming the node (and its operator) at fault."""
    reason = message.strip().splitlines()[0] if message.strip() else "unknown error"
    reason = re.sub(r"^\[ONNXRuntimeError\][^:]*:[^:]*:[^:]*: *", "", reason)
    reason = re.sub(r"^Load model from .*? failed: ?", "", reason)
    reason = re.sub(r"^(Fatal error|Node \([^)]*\) Op \([^)]*\)): *", "", reason).strip()
    nodes = _graph_nodes(path)
    where = None
    if match := _NODE_NAME.search(message):
        name = next(g for g in match.groups() if g is not None)
        op = nodes.get(name)
        where = f"node {name!r}" + (f" ({op})" if op else "")
    elif match := _UNKNOWN_OP.search(message):
        domain, op = match.groups()
        named = [n for n, o in nodes.items() if o == op]
        where = f"node {named[0]!r} ({op})" if named else f"operator {op}"
        reason = f"operator {f'{domain}:' if domain else ''}{op} is not known to onnxruntime"
    head = f"onnxruntime cannot load {where}" if where else "onnxruntime cannot load the model"
    return InvalidModelError(
        path, f"{head}: {reason[:240]}", "check that node's operator and input types, or re-export the model"
    )


def _graph_nodes(path: Path) -> dict[str, str]:
    """Node name -> operator type, best effort (the file has already passed the ONNX checks)."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # only used to enrich an error message
        return {}
    return {n.name: n.op_type for n in model.graph.node if n.name}
