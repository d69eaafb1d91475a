"""Parsing JSON that a stranger wrote: bounded in size and nesting, finite numbers only.

web3's dependency py_ecc raises Python's recursion limit to 100,000 on import, so ``json.loads``
of a deeply nested document (``[[[[...]]]]``) overflows the C stack and kills the process with
SIGSEGV instead of raising. Anything that came over a socket, out of a sealed payload or from a
provider's endpoint goes through :func:`loads`, which counts the nesting before parsing and refuses
``NaN``/``Infinity`` and numbers too large for a float (``1e400``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import InputError

MAX_DEPTH = 32
"""Deepest nesting accepted (an input tensor of rank 4 inside an object needs about 6)."""
MAX_BYTES = 4 * 1024 * 1024
"""Largest document accepted by default."""


def depth(text: str | bytes) -> int:
    """The deepest bracket nesting of a JSON text, ignoring brackets inside strings (no recursion)."""
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    deepest = level = 0
    in_string = escaped = False
    for ch in data:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    return deepest


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range for a float")
    return value


def loads(text: str | bytes, *, what: str = "JSON", max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted text: raises :class:`InputError` naming ``what`` on anything unsafe or malformed."""
    if len(text) > max_bytes:
        raise InputError(f"{what} is {len(text):,} bytes, above the {max_bytes:,}-byte limit")
    nesting = depth(text)
    if nesting > max_depth:
        raise InputError(f"{what} is nested {nesting} levels deep, above the limit of {max_depth}")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{what} is not valid JSON: {exc}") from None
