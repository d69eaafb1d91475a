"""ngx-zk: verifiable AI inference for the NeuroGrid GPU marketplace.

The pipeline, in data-flow order::

    export(torch_model, sample, "models/mine")                # PyTorch -> model folder (needs torch)
    circuit = build_circuit("models/mlp", settings)          # ONNX -> EZKL circuit + keys
    commitment, salted = commit(circuit.manifest, data)       # what a consumer posts on chain
    proof = prove(circuit, salted, Path("proof.json"), settings)
    verify(Path("proof.json"), circuit, settings)             # raises InvalidProofError if not valid

Every public name is imported on first use (PEP 562), so ``import ngx_zk`` (and the CLI's start)
does not load EZKL, onnxruntime or web3 until something needs them.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .artifacts import Circuit, Manifest, Proof, TensorSpec, Visibility
    from .circuit import build_circuit, load_circuit
    from .client import Client, connect
    from .commitment import Commitment, commit
    from .config import Settings, load_settings
    from .errors import NgxZkError
    from .export import ExportedModel, ExportError, export
    from .inputs import InputData
    from .inputs import load as load_input
    from .prover import prove, verify

__version__ = "0.1.0"

_LAZY = {
    "Circuit": "artifacts",
    "Manifest": "artifacts",
    "Proof": "artifacts",
    "TensorSpec": "artifacts",
    "Visibility": "artifacts",
    "build_circuit": "circuit",
    "load_circuit": "circuit",
    "Client": "client",
    "connect": "client",
    "Commitment": "commitment",
    "commit": "commitment",
    "Settings": "config",
    "load_settings": "config",
    "NgxZkError": "errors",
    "ExportedModel": "export",
    "ExportError": "export",
    "export": "export",
    "InputData": "inputs",
    "load_input": "inputs:load",
    "prove": "prover",
    "verify": "prover",
}
"""Public name -> the module that defines it (``module:attribute`` where the names differ)."""


def __getattr__(name: str) -> Any:
    try:
        module, _, attr = _LAZY[name].partition(":")
    except KeyError:
        raise AttributeError(f"module 'ngx_zk' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), attr or name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


class _Package(types.ModuleType):
    """Keeps ``ngx_zk.export`` the function: importing the submodule of the same name sets it as an
    attribute of this package, which would hide the function (an eager import used to rebind it)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "export" and isinstance(value, types.ModuleType):
            value = value.export
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "Circuit",
    "Client",
    "Commitment",
    "ExportError",
    "ExportedModel",
    "InputData",
    "Manifest",
    "NgxZkError",
    "Proof",
    "Settings",
    "TensorSpec",
    "Visibility",
    "build_circuit",
    "commit",
    "connect",
    "export",
    "load_circuit",
    "load_input",
    "load_settings",
    "prove",
    "verify",
]
