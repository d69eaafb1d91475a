"""Float inference with onnxruntime: the reference the circuit's outputs are compared against.

Uses the CUDA execution provider when onnxruntime-gpu offers it, the CPU otherwise. Each input is fed
with the element type the graph declares (int64 token ids stay integers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

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

    Raises :class:`InvalidModelError` naming the node when onnxruntime cannot load the graph."""

    def __init__(self, onnx_path: Path) -> None:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(onnx_path), sess_options=options, providers=providers())
        except Exception as exc:  # onnxruntime raises its own untyped errors, with a multi-part message
            raise load_error(onnx_path, str(exc)) from None
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
