"""Stage 0: a PyTorch model -> the model folder the rest of the pipeline reads.

:func:`export` writes ``network.onnx`` (TorchScript exporter, ``dynamo=False``, opset 17: the settings
EZKL reads), ``input.json`` (one sample), ``calibration.json`` (given or random samples) and
``expected_output.json`` (PyTorch's output on the sample). It checks the ONNX against PyTorch with
onnxruntime before anything reaches the folder, so a user with a torch model needs no ONNX knowledge.

torch is an optional dependency (``pip install 'ngx-zk[torch]'``): it is imported only here, inside
the functions that need it. :func:`load_model` runs the user's own Python file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import math
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import safejson
from .errors import ModelError
from .inference import OnnxRunner
from .onnx_model import CALIBRATION_FILE, ONNX_FILE, SAMPLE_INPUT_FILE, TensorInfo, resolve

EXPECTED_OUTPUT_FILE = "expected_output.json"
OPSET = 17
"""EZKL reads opsets 17-18 well; 20 and above break GELU."""
DEFAULT_SAMPLES = 16
FLOAT_RANGE = (-1.0, 1.0)
"""Where random float calibration samples are drawn from (the default build calibrates on [-1, 1] too)."""
MAX_DIFF = 1e-3
"""onnxruntime and PyTorch must agree this closely (relative to the output's magnitude) on the sample."""
MAX_INPUT_ELEMENTS = 1 << 24
"""Largest input tensor ``--input-shape`` takes (16M elements; a provable input is far smaller)."""
TORCH_HINT = "install it with: pip install torch==2.13.0 (CPU build), or pip install 'ngx-zk[torch]'"


class ExportError(ModelError):
    """A PyTorch model could not be loaded or exported."""


@dataclass(frozen=True)
class InputShape:
    """One model input as ``model export --input-shape`` gives it: ``1,8``, ``1,16:int`` or ``1,16:int:100``."""

    shape: tuple[int, ...]
    integer: bool = False
    high: int | None = None
    """For an integer input: random samples are drawn from [0, high); None reads it from the model's embedding."""

    @classmethod
    def parse(cls, text: str) -> InputShape:
        dims, _, kind = text.partition(":")
        kind, _, high = kind.partition(":")
        try:
            shape = tuple(int(d) for d in dims.split(","))
        except ValueError:
            raise ValueError(f"{text!r}: expected comma-separated sizes such as 1,8 (or 1,16:int for token ids)") from None
        if not shape or any(d <= 0 for d in shape):
            raise ValueError(f"{text!r}: every size must be a positive integer")
        if math.prod(shape) > MAX_INPUT_ELEMENTS:  # refused before PyTorch tries to allocate it
            raise ValueError(
                f"{text!r}: {math.prod(shape):,} elements per input is above the limit of {MAX_INPUT_ELEMENTS:,} "
                "(no circuit proves an input that large)"
            )
        if kind not in ("", "int", "float"):
            raise ValueError(f"{text!r}: the element type after ':' must be int or float")
        if high and kind != "int":
            raise ValueError(f"{text!r}: only an int input takes a value bound (1,16:int:100)")
        try:
            bound = int(high) if high else None
        except ValueError:
            raise ValueError(f"{text!r}: the bound after ':int:' must be an integer (ids are drawn from [0, bound))") from None
        if bound is not None and bound <= 0:
            raise ValueError(f"{text!r}: the bound must be positive")
        return cls(shape, kind == "int", bound)


@dataclass(frozen=True)
class ExportedModel:
    """A model folder written by :func:`export`."""

    path: Path
    onnx_sha256: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    calibration_samples: int
    max_abs_diff: float
    """Largest |onnxruntime - PyTorch| on the sample input."""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "onnx_sha256": self.onnx_sha256,
            "inputs": [_info_json(i) for i in self.inputs],
            "outputs": [_info_json(o) for o in self.outputs],
            "calibration_samples": self.calibration_samples,
            "max_abs_diff": self.max_abs_diff,
        }


def export(
    model: Any,
    sample: Any,
    out_dir: str | Path,
    *,
    calibration: Any = None,
    samples: int = DEFAULT_SAMPLES,
    value_ranges: Sequence[tuple[float, float] | None] | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> ExportedModel:
    """Export a ``torch.nn.Module`` and its sample input(s) as a model folder at ``out_dir``.

    ``sample``: one tensor, or a tuple with one tensor per model input (float, or integer for token
    ids), shaped as the model takes them (batch 1). ``calibration``: tensors with the samples stacked
    on the first axis (``(N, 8)`` for an input of shape ``(1, 8)``), or a calibration JSON file;
    without it ``samples`` random samples are drawn (floats from [-1, 1]; integers from
    ``value_ranges[i]`` or the range of the embedding the input indexes). Other files in ``out_dir``
    (a ``model.py``) are kept; the four written files replace any old ones only with ``overwrite``.
    """
    return _export(
        model,
        sample,
        Path(out_dir),
        calibration=calibration,
        samples=samples,
        value_ranges=value_ranges,
        seed=seed,
        overwrite=overwrite,
        draw_sample=False,
    )


def _export(
    model: Any,
    sample: Any,
    out: Path,
    *,
    calibration: Any,
    samples: int,
    value_ranges: Sequence[tuple[float, float] | None] | None,
    seed: int,
    overwrite: bool,
    draw_sample: bool,
) -> ExportedModel:
    """``draw_sample``: ``sample`` only traces the graph; input.json gets the first calibration sample."""
    torch = _torch()
    inputs = _as_tensors(torch, sample, "sample")
    if not isinstance(model, torch.nn.Module):
        raise ExportError(f"expected a torch.nn.Module, got {type(model).__name__}")
    if samples < 1:
        raise ExportError(f"samples must be at least 1, got {samples}")
    if value_ranges is not None and len(value_ranges) != len(inputs):
        raise ExportError(f"value_ranges has {len(value_ranges)} entries for {len(inputs)} inputs")
    written = [ONNX_FILE, SAMPLE_INPUT_FILE, CALIBRATION_FILE, EXPECTED_OUTPUT_FILE]
    if not overwrite and (clash := [f for f in written if (out / f).exists()]):
        raise ExportError(f"{out} already holds {', '.join(clash)}", "replace them with: ngx-zk model export ... --force")
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder")
    model.eval()
    expected = _run_torch(torch, model, inputs)
    in_names = ["input"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))]
    out_names = ["output"] if len(expected) == 1 else [f"output_{i}" for i in range(len(expected))]

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        onnx_path = staging / ONNX_FILE
        _torch_export(torch, model, inputs, onnx_path, in_names, out_names)
        source = resolve(onnx_path)
        ranges = _value_ranges(source.inputs, value_ranges)
        if calibration is None:
            generator = torch.Generator().manual_seed(seed)
            stacked = [_random(torch, generator, t, samples, r) for t, r in zip(inputs, ranges, strict=True)]
            calibration_data = [_flat(s) for s in stacked]
        elif isinstance(calibration, (str, Path)):
            calibration_data = _read_calibration(Path(calibration), source.inputs)
        else:
            calibration_data = [_flat(c) for c in _as_tensors(torch, calibration, "calibration")]
        count = _check_calibration(calibration_data, source.inputs)
        if draw_sample:
            inputs = tuple(
                torch.tensor(values[: info.size], dtype=t.dtype).reshape(t.shape)
                for values, info, t in zip(calibration_data, source.inputs, inputs, strict=True)
            )
            expected = _run_torch(torch, model, inputs)
        runner = OnnxRunner(onnx_path)
        got = runner.run([_flat(t) for t in inputs], [i.shape for i in source.inputs])
        diff = max(
            (
                float(np.max(np.abs(g.astype(np.float64) - e.detach().double().numpy()), initial=0.0))
                for g, e in zip(got, expected, strict=True)
            ),
            default=0.0,
        )
        scale = max((float(e.detach().abs().max()) for e in expected if e.numel()), default=0.0)
        if not math.isfinite(diff) or diff > MAX_DIFF * max(1.0, scale):
            raise ExportError(
                f"the exported ONNX disagrees with PyTorch on the sample (max difference {diff:.3g})",
                "tracing records one path through the model: data-dependent control flow or randomness does not export",
            )
        _write_json(staging / SAMPLE_INPUT_FILE, {"input_data": [_flat(t) for t in inputs]})
        _write_json(staging / CALIBRATION_FILE, {"input_data": calibration_data})
        _write_json(staging / EXPECTED_OUTPUT_FILE, {"output_data": [_flat(e) for e in expected]})
        out.mkdir(exist_ok=True)
        for name in written:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    final = resolve(out)
    return ExportedModel(out, final.sha256, final.inputs, final.outputs, count, diff)


def export_from_file(
    spec: str,
    shapes: Sequence[InputShape],
    out_dir: str | Path,
    *,
    calibration: Path | None = None,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    overwrite: bool = False,
) -> ExportedModel:
    """``model export``: load ``FILE.py:NAME`` (runs that file), make a sample of each shape, and :func:`export`."""
    torch = _torch()
    model = load_model(spec)
    if not shapes:
        raise ExportError("give the shape of each model input (--input-shape 1,8)")
    # the sample only traces the graph (zeros are valid ids for any embedding); input.json gets the first
    # calibration sample, drawn once the valid ids are known from the exported graph
    sample = tuple(torch.zeros(s.shape, dtype=torch.long if s.integer else torch.float32) for s in shapes)
    ranges = [(0, s.high) if s.high else None for s in shapes]
    return _export(
        model,
        sample,
        Path(out_dir),
        calibration=calibration,
        samples=samples,
        value_ranges=ranges,
        seed=seed,
        overwrite=overwrite,
        draw_sample=True,
    )


def load_model(spec: str) -> Any:
    """``FILE.py:NAME`` -> the ``torch.nn.Module`` it names: a module instance, a class or a factory taking no
    arguments. Imports (runs) FILE.py, with its folder on ``sys.path`` while it loads."""
    torch = _torch()
    file_part, sep, attr = spec.rpartition(":")
    if not sep or not file_part or not attr:
        raise ExportError(f"{spec!r} is not FILE.py:NAME", "e.g. models/mlp/model.py:Model")
    path = Path(file_part)
    if not path.is_file():
        raise ExportError(f"module file not found: {path}")
    module_spec = importlib.util.spec_from_file_location(f"ngx_zk_user_{abs(hash(path.resolve()))}", path)
    if module_spec is None or module_spec.loader is None:
        raise ExportError(f"{path} cannot be imported as a Python module", "pass a .py file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module  # dataclasses and pickling look a class's module up here
    with _on_path(path.resolve().parent):
        try:
            module_spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            sys.modules.pop(module_spec.name, None)
            raise ExportError(f"{path} failed while loading: {_one_line(exc)}") from None
    if not hasattr(module, attr):
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_")
            and (inspect.isclass(v) or inspect.isfunction(v))
            and getattr(v, "__module__", None) == module.__name__
        ]
        raise ExportError(f"{path} has no attribute {attr!r}", f"it defines: {', '.join(names)}" if names else None)
    target = getattr(module, attr)
    if isinstance(target, torch.nn.Module):
        return target
    if not callable(target):
        raise ExportError(f"{path}:{attr} is a {type(target).__name__}, not a torch.nn.Module, class or factory")
    with contextlib.suppress(TypeError, ValueError):  # builtins without a signature: just try the call
        required = [
            p.name
            for p in inspect.signature(target).parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        if required:
            raise ExportError(
                f"{path}:{attr} needs constructor arguments ({', '.join(required)})",
                f"add a factory that takes none to {path.name}, e.g. def make(): return {attr}(...), and pass {file_part}:make",
            )
    try:
        made = target()
    except (Exception, SystemExit) as exc:
        raise ExportError(f"{path}:{attr}() failed: {_one_line(exc)}") from None
    if not isinstance(made, torch.nn.Module):
        raise ExportError(f"{path}:{attr}() returned a {type(made).__name__}, not a torch.nn.Module")
    return made


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ExportError("PyTorch is not installed (model export needs it)", TORCH_HINT) from None
    return torch


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def _as_tensors(torch: Any, value: Any, what: str) -> tuple[Any, ...]:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not items or not all(isinstance(t, torch.Tensor) for t in items):
        raise ExportError(f"{what} must be a tensor or a tuple of tensors, one per model input")
    for t in items:
        if t.is_floating_point() or t.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            continue
        raise ExportError(f"{what} holds a {t.dtype} tensor", "model inputs must be float or integer tensors")
    return items


def _run_torch(torch: Any, model: Any, inputs: tuple[Any, ...]) -> list[Any]:
    shapes = ", ".join(f"{list(t.shape)} {str(t.dtype).removeprefix('torch.')}" for t in inputs)
    try:
        with torch.no_grad():
            result = model(*inputs)
    except (Exception, SystemExit) as exc:
        raise ExportError(
            f"the model failed on an input of shape {shapes}: {_one_line(exc)}",
            "check --input-shape (one per model input, batch first) against the model",
        ) from None
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    if not outputs or not all(isinstance(o, torch.Tensor) for o in outputs):
        raise ExportError(f"the model returned {type(result).__name__}", "the model must return a tensor or a tuple of tensors")
    return outputs


def _torch_export(torch: Any, model: Any, inputs: tuple[Any, ...], path: Path, in_names: list[str], out_names: list[str]) -> None:
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, inputs, str(path), dynamo=False, opset_version=OPSET, input_names=in_names, output_names=out_names
            )
    except Exception as exc:  # the exporter raises many types, with long messages
        raise ExportError(
            f"torch.onnx.export failed: {_one_line(exc)}",
            "the TorchScript exporter supports most layers; see the operator it names",
        ) from None


def _value_ranges(infos: tuple[TensorInfo, ...], given: Sequence[tuple[float, float] | None] | None) -> list[tuple[float, float]]:
    ranges = []
    for i, info in enumerate(infos):
        chosen = given[i] if given is not None else None
        if chosen is None:
            chosen = info.value_range if info.is_int else FLOAT_RANGE
        if chosen is None:
            raise ExportError(
                f"integer input {info.name!r} does not index an embedding, so the values to calibrate with are unknown",
                "give its bound (--input-shape 1,8:int:HIGH, value_ranges=[(0, HIGH)]) or calibration samples",
            )
        if info.value_range is not None and (chosen[0] < info.value_range[0] or chosen[1] > info.value_range[1]):
            raise ExportError(
                f"input {info.name!r}: values {chosen[0]}..{chosen[1] - 1} go beyond the embedding's {info.value_range[1]} rows"
            )
        ranges.append(chosen)
    return ranges


def _random(torch: Any, generator: Any, like: Any, count: int, value_range: tuple[float, float] | None) -> Any:
    low, high = value_range or FLOAT_RANGE
    shape = (count, *like.shape[1:])
    if like.is_floating_point():
        return torch.rand(shape, generator=generator) * (high - low) + low
    return torch.randint(int(low), int(high), shape, generator=generator, dtype=like.dtype)


def _flat(tensor: Any) -> list[Any]:
    values = tensor.detach().reshape(-1)
    if values.is_floating_point():
        return [round(float(v), 6) for v in values]
    return [int(v) for v in values]


def _read_calibration(path: Path, infos: tuple[TensorInfo, ...]) -> list[list[Any]]:
    if not path.is_file():
        raise ExportError(f"calibration file not found: {path}")
    try:
        data = safejson.loads(path.read_bytes(), what=str(path), max_bytes=64 * 1024 * 1024)
        rows = data["input_data"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise TypeError
    except (KeyError, TypeError, ModelError):
        raise ExportError(f'{path} is not {{"input_data": [[...], ...]}} (one list per model input)') from None
    except Exception as exc:  # safejson's own errors: depth, size, syntax
        raise ExportError(f"{path}: {_one_line(exc)}") from None
    flat = [_flatten(r) for r in rows]
    return [
        [int(v) if info.is_int and _integral(v) else v for v in values] for values, info in zip(flat, infos, strict=False)
    ] + flat[len(infos) :]


def _flatten(item: Any) -> list[Any]:
    return [x for sub in item for x in _flatten(sub)] if isinstance(item, list) else [item]


def _integral(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and float(v).is_integer()


def _check_calibration(data: list[list[Any]], infos: tuple[TensorInfo, ...]) -> int:
    if len(data) != len(infos):
        raise ExportError(f"calibration data has {len(data)} input list(s), the model has {len(infos)} input(s)")
    counts = []
    for values, info in zip(data, infos, strict=True):
        if not values or len(values) % info.size:
            raise ExportError(
                f"calibration data for {info.name!r} has {len(values)} values, not a multiple of {info.size} "
                f"(shape {list(info.shape)})"
            )
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ExportError(f"calibration data for {info.name!r} holds {v!r}, not a finite number")
            if info.is_int and not float(v).is_integer():
                raise ExportError(f"calibration data for integer input {info.name!r} holds {v!r}, not an integer")
            if info.value_range is not None and not info.value_range[0] <= v < info.value_range[1]:
                raise ExportError(
                    f"calibration data for {info.name!r} holds {v!r}, outside the embedding's ids "
                    f"{info.value_range[0]}..{info.value_range[1] - 1}"
                )
        counts.append(len(values) // info.size)
    if len(set(counts)) > 1:
        raise ExportError(f"calibration data holds {counts} samples per input; every input needs the same number")
    return counts[0]


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data) + "\n")


def _info_json(info: TensorInfo) -> dict[str, Any]:
    data: dict[str, Any] = {"name": info.name, "shape": list(info.shape), "dtype": info.dtype}
    if info.value_range is not None:
        data["value_range"] = list(info.value_range)
    return data


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {line[:300]}" if line else type(exc).__name__


__all__ = ["ExportError", "ExportedModel", "InputShape", "export", "export_from_file", "load_model"]
