"""Float inference with onnxruntime: the reference the circuit's outputs are compared against.

Uses the CUDA execution provider when onnxruntime-gpu offers it, the CPU otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .errors import InputError


def providers() -> list[str]:
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxRunner:
    """One onnxruntime session, reused across calls."""

    def __init__(self, onnx_path: Path) -> None:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), sess_options=options, providers=providers())
        self.inputs = self.session.get_inputs()

    @property
    def provider(self) -> str:
        return str(self.session.get_providers()[0])

    def run(self, flat_inputs: Sequence[Sequence[float]], shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
        feed = {}
        for meta, values, shape in zip(self.inputs, flat_inputs, shapes, strict=True):
            feed[meta.name] = np.asarray(values, dtype=np.float32).reshape(shape)
        try:
            return [np.asarray(o) for o in self.session.run(None, feed)]
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise InputError(f"onnxruntime could not run the model on this input: {str(exc).splitlines()[0]}") from None
