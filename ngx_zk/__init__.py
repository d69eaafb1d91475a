"""ngx-zk: verifiable AI inference for the NeuroGrid GPU marketplace.

The pipeline, in data-flow order::

    export(torch_model, sample, "models/mine")                # PyTorch -> model folder (needs torch)
    circuit = build_circuit("models/mlp", settings)          # ONNX -> EZKL circuit + keys
    commitment, salted = commit(circuit.manifest, data)       # what a consumer posts on chain
    proof = prove(circuit, salted, Path("proof.json"), settings)
    verify(Path("proof.json"), circuit, settings)             # raises InvalidProofError if not valid
"""

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
