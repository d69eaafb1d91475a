"""Input files: parse, validate against the circuit, and write what EZKL's witness generator reads.

An input file is JSON: ``{"input_data": [[x0, x1, ...], ...]}`` with one list per model input,
flat or nested to the input's shape. An integer input (token ids, indices) takes integers only, within
the range of the table it indexes when the model shows one. A salted input (written by ``ngx-zk commit``) also carries
``"salt": [[s0, s1, ...], ...]``: secret integers that make its commitment unguessable.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import safejson
from .artifacts import Manifest, TensorSpec
from .errors import InputError
from .files import read_bounded

MAX_INPUT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class InputData:
    """Validated input values, one flat tuple per model input (ints for integer inputs), plus the salt when there is one."""

    values: tuple[tuple[float, ...], ...]
    salt: tuple[tuple[int, ...], ...] | None = None

    def with_salt(self, salt: tuple[tuple[int, ...], ...]) -> InputData:
        return InputData(self.values, salt)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"input_data": [list(v) for v in self.values]}
        if self.salt is not None:
            data["salt"] = [list(s) for s in self.salt]
        return data

    def circuit_rows(self, manifest: Manifest) -> list[list[float]]:
        """The values EZKL sees: each input followed by its salt, as floats at the input's scale (integers as is)."""
        if any(spec.salt_elements for spec in manifest.inputs) and self.salt is None:
            raise InputError("this input has no salt", "commit to it first: ngx-zk commit INPUT --model NAME")
        rows = []
        for i, (values, spec) in enumerate(zip(self.values, manifest.inputs, strict=True)):
            salt = self.salt[i] if self.salt is not None and spec.salt_elements else ()
            rows.append(list(values) + (list(salt) if spec.is_int else [s / (1 << spec.scale) for s in salt]))
        return rows


def load(path: Path, manifest: Manifest) -> InputData:
    """Read and validate an input file for the circuit described by ``manifest``."""
    raw = read_bounded(path, MAX_INPUT_BYTES, what="input file", hint="pass a JSON file like models/mlp/input.json")
    try:
        data = safejson.loads(raw, what=str(path), max_bytes=MAX_INPUT_BYTES)
    except InputError as exc:
        raise InputError(exc.message, 'expected {"input_data": [[...]]} with finite numbers') from None
    return parse(data, manifest, source=str(path))


MAX_QUANTIZED = 1 << 63
"""Without a circuit's own range (see ``Circuit.input_limit``), no quantized input may reach 2^63."""


def read_lines(path: Path) -> list[Any]:
    """A JSON Lines input file for a batch job: one input object per non-empty line, in order."""
    raw = read_bounded(
        path, MAX_INPUT_BYTES, what="input file", hint='pass a file with one {"input_data": [[...]]} object per line'
    )
    objects = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            objects.append(safejson.loads(line, what=f"{path} line {number}", max_bytes=MAX_INPUT_BYTES))
        except InputError as exc:
            raise InputError(exc.message, 'each line must be one JSON object: {"input_data": [[...]]}') from None
    if not objects:
        raise InputError(f"{path} holds no inputs", 'write one {"input_data": [[...]]} object per line')
    return objects


def parse_batch(objects: Sequence[Any], manifest: Manifest, *, source: str = "input", limit: int = MAX_QUANTIZED) -> InputData:
    """The inputs of a batch job: ``manifest.batch`` input objects (as in :func:`parse`), side by side in one InputData."""
    if len(objects) != manifest.batch:
        raise InputError(f"{source} holds {len(objects)} inputs; circuit {manifest.name!r} proves {manifest.batch} per job")
    single = manifest.single()
    parts = [parse(obj, single, source=f"{source} input {k + 1}", limit=limit) for k, obj in enumerate(objects)]
    salts = [p.salt for p in parts]
    if any(s is not None for s in salts) and not all(s is not None for s in salts):
        raise InputError(f"{source}: some inputs carry a salt and others do not", "salt all of them or none")
    salt = tuple(x for p in parts for x in (p.salt or ())) if salts[0] is not None else None
    return InputData(tuple(v for p in parts for v in p.values), salt)


def split_batch(data: InputData, manifest: Manifest) -> list[InputData]:
    """One InputData per inference of a batch input (salts kept): the reverse of :func:`parse_batch`."""
    values = manifest.per_inference(data.values)
    salts = manifest.per_inference(data.salt) if data.salt is not None else [None] * manifest.batch
    return [InputData(tuple(v), tuple(s) if s is not None else None) for v, s in zip(values, salts, strict=True)]


def parse(data: Any, manifest: Manifest, *, source: str = "input", limit: int = MAX_QUANTIZED) -> InputData:
    """Validate ``data``; every value times 2^scale must stay below ``limit`` in magnitude (the circuit's range)."""
    if not isinstance(data, dict) or "input_data" not in data:
        raise InputError(f'{source} has no "input_data" key', 'expected {"input_data": [[...]]}')
    raw = data["input_data"]
    specs = manifest.inputs
    if not isinstance(raw, list) or len(raw) != len(specs):
        got = len(raw) if isinstance(raw, list) else type(raw).__name__
        raise InputError(f'{source}: "input_data" must hold {len(specs)} input list(s), found {got}')
    values = tuple(_tensor(source, item, spec, limit) for item, spec in zip(raw, specs, strict=True))
    salt = _salt(source, data.get("salt"), specs) if "salt" in data else None
    return InputData(values, salt)


def _flatten(item: Any) -> list[Any]:
    if isinstance(item, list):
        return [x for sub in item for x in _flatten(sub)]
    return [item]


def _tensor(source: str, item: Any, spec: TensorSpec, limit: int) -> tuple[float, ...]:
    flat = _flatten(item) if isinstance(item, list) else [item]
    if len(flat) != spec.size:
        raise InputError(
            f"{source}: input {spec.name!r} has {len(flat)} values, the model expects {spec.size} (shape {list(spec.shape)})",
            "check that the input belongs to this model",
        )
    if spec.is_int:
        return _int_tensor(source, flat, spec, limit)
    out = []
    for pos, v in enumerate(flat):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputError(f"{source}: input {spec.name!r} value {pos} is {v!r}, not a number")
        if isinstance(v, float) and not math.isfinite(v):
            raise InputError(f"{source}: input {spec.name!r} value {pos} is {v}", "replace NaN/Infinity with finite numbers")
        if abs(v) * (1 << spec.scale) >= limit:  # exact for an int of any size (float() of 10**400 overflows)
            shown = f"{v:.6g}" if isinstance(v, float) or abs(v) < 10**15 else f"an integer of {len(str(abs(v)))} digits"
            raise InputError(
                f"{source}: input {spec.name!r} value {pos} ({shown}) is outside the circuit's range "
                f"(|value| < {limit / (1 << spec.scale):.6g} at input scale {spec.scale})",
                "values this large cannot be proved by this circuit",
            )
        out.append(float(v))
    return tuple(out)


def _int_tensor(source: str, flat: list[Any], spec: TensorSpec, limit: int) -> tuple[int, ...]:
    """An integer input (token ids, indices): integers only (``3.0`` counts), in the indexed table's range."""
    low, high = spec.value_range if spec.value_range is not None else (-limit + 1, limit)
    low, high = max(low, -limit + 1), min(high, limit)
    out = []
    for pos, v in enumerate(flat):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
            raise InputError(
                f"{source}: input {spec.name!r} value {pos} is {v!r}, not an integer",
                f"input {spec.name!r} is an {spec.dtype} tensor (e.g. token ids)",
            )
        if not low <= v < high:
            what = f"valid ids are {low}..{high - 1}" if spec.value_range is not None else "outside the circuit's range"
            raise InputError(
                f"{source}: input {spec.name!r} value {pos} ({int(v)}) is out of range: {what}",
                "values outside this range cannot be proved by this circuit",
            )
        out.append(int(v))
    return tuple(out)


def _salt(source: str, raw: Any, specs: Sequence[TensorSpec]) -> tuple[tuple[int, ...], ...]:
    if not isinstance(raw, list) or len(raw) != len(specs):
        raise InputError(f'{source}: "salt" must hold {len(specs)} list(s) of integers')
    salts = []
    for spec, item in zip(specs, raw, strict=True):
        if not isinstance(item, list) or len(item) != spec.salt_elements:
            raise InputError(f"{source}: salt for {spec.name!r} must hold {spec.salt_elements} integers")
        for s in item:
            if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < (1 << spec.salt_bits):
                raise InputError(f"{source}: salt element {s!r} is not an integer in [0, 2^{spec.salt_bits})")
        salts.append(tuple(item))
    return tuple(salts)


def fresh_salt(manifest: Manifest) -> tuple[tuple[int, ...], ...]:
    """New secret salt for every input, from the OS's CSPRNG."""
    return tuple(tuple(secrets.randbelow(1 << s.salt_bits) for _ in range(s.salt_elements)) for s in manifest.inputs)


def write_witness_input(path: Path, rows: list[list[float]]) -> None:
    path.write_text(json.dumps({"input_data": rows}))
