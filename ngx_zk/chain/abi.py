"""Contract artifacts (ABI + bytecode) exported from the Foundry build, and revert decoding."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from eth_abi.abi import decode
from eth_utils.abi import function_signature_to_4byte_selector

from ..errors import DeploymentError

PANIC_CODES = {0x01: "assertion failed", 0x11: "arithmetic overflow", 0x12: "division by zero", 0x32: "array index out of bounds"}


@functools.cache
def artifact(name: str) -> dict[str, Any]:
    """``{"abi": [...], "bytecode": "0x..."}`` of contract ``name``."""
    try:
        text = resources.files("ngx_zk.chain").joinpath("artifacts", f"{name}.json").read_text()
    except FileNotFoundError:
        raise DeploymentError(f"no contract artifact named {name}", "run `make contracts` to build and export them") from None
    return dict(json.loads(text))


def abi(name: str) -> list[dict[str, Any]]:
    return list(artifact(name)["abi"])


def _signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(_type(i) for i in entry['inputs'])})"


def _type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        return f"({','.join(_type(c) for c in item['components'])}){item['type'][5:]}"
    return str(item["type"])


@functools.cache
def _errors() -> dict[bytes, dict[str, Any]]:
    table: dict[bytes, dict[str, Any]] = {}
    for path in resources.files("ngx_zk.chain").joinpath("artifacts").iterdir():
        if path.name.endswith(".json"):
            for entry in json.loads(path.read_text())["abi"]:
                if entry.get("type") == "error":
                    table[function_signature_to_4byte_selector(_signature(entry))] = entry
    return table


def decode_revert(data: bytes) -> tuple[str, dict[str, Any]] | None:
    """The custom error (name, arguments) encoded in revert ``data``, or None if unknown."""
    if len(data) < 4:
        return None
    selector, body = data[:4], data[4:]
    if selector == function_signature_to_4byte_selector("Error(string)"):
        return "Error", {"reason": decode(["string"], body)[0]}
    if selector == function_signature_to_4byte_selector("Panic(uint256)"):
        code = decode(["uint256"], body)[0]
        return "Panic", {"code": hex(code), "meaning": PANIC_CODES.get(code, "unknown")}
    entry = _errors().get(selector)
    if entry is None:
        return None
    values = decode([_type(i) for i in entry["inputs"]], body)
    return str(entry["name"]), {i["name"] or f"arg{n}": v for n, (i, v) in enumerate(zip(entry["inputs"], values, strict=True))}
