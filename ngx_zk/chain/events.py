"""The one place chain logs become typed records: ABI names in, the snake_case records of :mod:`.types` out.

web3 decodes a log's topics and data into ``args`` keyed by the ABI's camelCase names; :func:`decode`
turns those into the event's frozen dataclass (converting each value by the field's type), and
:func:`logged` adds where the log sits (:class:`~ngx_zk.chain.types.LogMeta`). Filters go the other way:
:func:`abi_filters` names a record's indexed fields as the ABI does. Nothing outside this module reads an
event by its ABI spelling (tests/test_house.py checks).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

from ..errors import ChainError
from .abi import abi
from .types import EVENTS, ChainEvent, Logged, LogMeta, snake

E = TypeVar("E", bound=ChainEvent)
MISMATCH_HINT = "the contract artifacts and the deployed contracts differ: redeploy or update ngx-zk"


def _converter(hint: Any) -> Callable[[Any], Any]:
    if hint in (int, str, bool, bytes):
        return typing.cast(Callable[[Any], Any], hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return lambda v: hint(int(v))
    if typing.get_origin(hint) is tuple:
        return lambda v: tuple(int(x) for x in v)
    raise TypeError(f"no decoder for event fields of type {hint!r}")


def _converters(kind: type[ChainEvent]) -> dict[str, Callable[[Any], Any]]:
    if kind not in _CONVERTERS:
        hints = typing.get_type_hints(kind)
        _CONVERTERS[kind] = {f.name: _converter(hints[f.name]) for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    return _CONVERTERS[kind]


_CONVERTERS: dict[type[ChainEvent], dict[str, Callable[[Any], Any]]] = {}


def decode(kind: type[E], args: Mapping[str, Any]) -> E:
    """The ``kind`` record of a log's arguments (keyed by ABI name, as web3 decodes them)."""
    values = {snake(str(k)): v for k, v in args.items()}
    converters = _converters(kind)
    missing = sorted(set(converters) - set(values))
    if missing:
        raise ChainError(f"a {kind.__name__} log has no {', '.join(missing)}", MISMATCH_HINT)
    return kind(**{name: convert(values[name]) for name, convert in converters.items()})


def logged(kind: type[E], log: Mapping[str, Any]) -> Logged[E]:
    """A log as web3 returns it (``args``, ``blockNumber``, ``transactionHash``, ``logIndex``), typed."""
    meta = LogMeta(int(log["blockNumber"]), "0x" + bytes(log["transactionHash"]).hex(), int(log.get("logIndex", 0)))
    return Logged(decode(kind, log["args"]), meta)


@functools.cache
def _indexed(contract: str, name: str) -> dict[str, str]:
    for entry in abi(contract):
        if entry.get("type") == "event" and entry["name"] == name:
            return {snake(str(i["name"])): str(i["name"]) for i in entry["inputs"] if i.get("indexed")}
    raise ChainError(f"{contract} has no event {name}", MISMATCH_HINT)


def abi_filters(kind: type[ChainEvent], filters: Mapping[str, Any]) -> dict[str, Any]:
    """``{field: value}`` filters on ``kind``'s indexed fields, keyed as the ABI (and web3's log filter) names them."""
    names = _indexed(kind.contract, kind.__name__)
    unknown = sorted(set(filters) - set(names))
    if unknown:
        raise TypeError(f"{kind.__name__} cannot be filtered by {', '.join(unknown)} (indexed: {', '.join(names)})")
    return {names[k]: v for k, v in filters.items()}


def call_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """A decoded function call's arguments (web3's ``decode_function_input``), keyed in snake_case."""
    return {snake(str(k)): v for k, v in args.items()}


BY_NAME: dict[tuple[str, str], type[ChainEvent]] = {(kind.contract, kind.__name__): kind for kind in EVENTS}


def decode_named(contract: str, name: str, args: Mapping[str, Any]) -> ChainEvent | None:
    """The record of event ``name`` of ``contract`` (an artifact name); None for an event no room reads."""
    kind = BY_NAME.get((contract, name))
    return None if kind is None else decode(kind, args)
