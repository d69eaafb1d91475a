"""Artifact file names and the typed objects the pipeline passes between stages.

This is the only module that knows what the files in a circuit folder are called.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from .errors import ArtifactMismatchError, CircuitError

SETTINGS = "settings.json"
COMPILED = "network.compiled"
VK = "vk.key"
MANIFEST = "manifest.json"
CIRCUIT_ONNX = "circuit.onnx"
SAMPLE = "sample.json"
"""An input the build calibrated on (not pinned by the manifest): publish proves it for its settlement dry run."""
"""The graph EZKL compiles: the user's ONNX with salt slots added in front of each input."""
PRIVATE_FILES = (COMPILED, CIRCUIT_ONNX)
"""The files that hold a model's weights in clear. A ``hashed``-weights circuit's public bundle leaves them
out (its manifest still pins their sha256); the owner seals them to licensed providers (:mod:`ngx_zk.licensing`)."""
MAX_PARAM_HASHES = 4
"""Most weight-hash instances a ``hashed``-weights circuit may have (``ParamsBinding`` holds them as immutables)."""

MANIFEST_SCHEMA = 1
T = TypeVar("T")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output as the circuit sees it."""

    name: str
    shape: tuple[int, ...]
    scale: int
    salt_elements: int = 0
    salt_bits: int = 0
    dtype: str = "float32"
    """The ONNX element type as a numpy name. Integer inputs (``int64`` token ids, ...) enter the
    circuit as the integers themselves: scale 0, felt = the value."""
    value_range: tuple[int, int] | None = None
    """Valid values [low, high) of an integer input that indexes a weight table (an embedding)."""

    @property
    def is_int(self) -> bool:
        return self.dtype.startswith(("int", "uint"))

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class SrsInfo:
    kind: str  # "public" (KZG ceremony) or "test" (generated locally: insecure)
    logrows: int
    sha256: str

    @property
    def insecure(self) -> bool:
        return self.kind != "public"


@dataclass(frozen=True)
class Visibility:
    input: str = "hashed"
    params: str = "fixed"
    output: str = "public"

    def __str__(self) -> str:
        return f"{self.input}/{self.params}/{self.output}"

    @classmethod
    def parse(cls, text: str) -> Visibility:
        parts = text.split("/")
        if len(parts) != 3:
            raise ValueError("expected input/params/output, e.g. hashed/fixed/public")
        return cls(*parts)


@dataclass(frozen=True)
class Manifest:
    """What a circuit folder holds, pinned by hashes. Written last, so its presence marks a complete build."""

    name: str
    ezkl_version: str
    logrows: int
    visibility: Visibility
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    onnx_sha256: str
    circuit_onnx_sha256: str
    settings_sha256: str
    compiled_sha256: str
    vk_sha256: str
    srs: SrsInfo
    tuning: dict[str, Any] = field(default_factory=dict)
    batch: int = 1
    """Inferences per proof: a batch circuit runs the model ``batch`` times side by side. ``inputs`` and
    ``outputs`` then list every inference's tensors in order (``<name>__0``, ..., ``<name>__<batch-1>``)."""
    param_hashes: tuple[int, ...] = ()
    """A ``hashed``-weights circuit's Poseidon hash(es) of its weights: the proof file's instances after the input
    commitments, before the outputs. The market's instances leave them out; the model's verifier on chain
    (``ParamsBinding``) puts these values back in, so a proof made with other weights does not verify."""
    commitment_points: int = 0
    """A ``polycommit`` input's KZG commitments: G1 points at the front of the proof bytes (one per
    advice column the input fills), posted on chain as two words each, (x, y)."""
    schema: int = MANIFEST_SCHEMA

    @property
    def insecure(self) -> bool:
        """True when built on a locally generated test SRS: whoever made it can forge proofs."""
        return self.srs.insecure

    def single(self) -> Manifest:
        """The manifest of one inference of a batch circuit: the first inference's tensors, under the model's own names."""
        if self.batch == 1:
            return self
        k, m = len(self.inputs) // self.batch, len(self.outputs) // self.batch
        return replace(
            self,
            inputs=tuple(replace(t, name=_base_name(t.name)) for t in self.inputs[:k]),
            outputs=tuple(replace(t, name=_base_name(t.name)) for t in self.outputs[:m]),
            batch=1,
        )

    def per_inference(self, values: Sequence[T]) -> list[list[T]]:
        """Split a flat list over all inferences' tensors (e.g. output values) into one list per inference."""
        if len(values) % self.batch:
            raise ValueError(f"{len(values)} values do not split into {self.batch} inferences")
        step = len(values) // self.batch
        return [list(values[k * step : (k + 1) * step]) for k in range(self.batch)]

    @property
    def polycommit(self) -> bool:
        """The input is KZG-committed: its commitment is in the proof bytes, not among the proof's instances."""
        return self.visibility.input == "polycommit"

    @property
    def commitment_count(self) -> int:
        """Input commitment words a job posts and a submission's instances start with."""
        if self.polycommit:
            return 2 * self.commitment_points
        return len(self.inputs) if self.visibility.input == "hashed" else 0

    @property
    def hashed_weights(self) -> bool:
        """The weights are private witnesses pinned by :attr:`param_hashes` (``--weights hashed``)."""
        return self.visibility.params == "hashed"

    @property
    def param_slice(self) -> tuple[int, int]:
        """(start, count) of the weight-hash instances in the proof file (count 0: fixed weights)."""
        return (self.commitment_count if not self.polycommit else 0, len(self.param_hashes))

    @property
    def proof_instance_count(self) -> int:
        """Instances in the EZKL proof file: the market's instances less a polycommit input's points,
        which the market reads from the proof bytes instead, plus the weight hashes the chain inserts."""
        return self.instance_count - (self.commitment_count if self.polycommit else 0) + len(self.param_hashes)

    def with_params(self, market_instances: Sequence[int]) -> list[int]:
        """The proof file's instances from the market's: the weight hashes put back after the input commitments."""
        start, _ = self.param_slice
        own = list(market_instances[self.commitment_count :] if self.polycommit else market_instances)
        return [*own[:start], *self.param_hashes, *own[start:]]

    @property
    def output_instance_count(self) -> int:
        if self.visibility.output == "public":
            return sum(o.size for o in self.outputs)
        if self.visibility.output == "hashed":
            return len(self.outputs)
        return 0

    @property
    def input_instance_count(self) -> int:
        """The market's instances before the outputs (weight hashes are not among the market's instances)."""
        if self.visibility.input == "public":
            return sum(i.size for i in self.inputs)
        return self.commitment_count

    @property
    def instance_count(self) -> int:
        return self.input_instance_count + self.output_instance_count

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["visibility"] = asdict(self.visibility)
        data["insecure"] = self.insecure
        if self.param_hashes:
            data["param_hashes"] = [f"0x{h:064x}" for h in self.param_hashes]
        else:
            del data["param_hashes"]  # a fixed-weights manifest keeps its bytes (and artifacts hash) as before
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("schema") != MANIFEST_SCHEMA:
            raise CircuitError(f"manifest schema {data.get('schema')!r} is not supported", "rebuild the circuit")
        data = dict(data)
        data.pop("insecure", None)
        return cls(
            name=data["name"],
            ezkl_version=data["ezkl_version"],
            logrows=int(data["logrows"]),
            visibility=Visibility(**data["visibility"]),
            inputs=tuple(_tensor_spec(t) for t in data["inputs"]),
            outputs=tuple(_tensor_spec(t) for t in data["outputs"]),
            onnx_sha256=data["onnx_sha256"],
            circuit_onnx_sha256=data["circuit_onnx_sha256"],
            settings_sha256=data["settings_sha256"],
            compiled_sha256=data["compiled_sha256"],
            vk_sha256=data["vk_sha256"],
            srs=SrsInfo(**data["srs"]),
            tuning=dict(data.get("tuning", {})),
            batch=int(data.get("batch", 1)),
            commitment_points=int(data.get("commitment_points", 0)),
            param_hashes=tuple(int(str(h), 16) for h in data.get("param_hashes", ())),
        )


def _base_name(name: str) -> str:
    """``x__3`` -> ``x``: a batch circuit's tensor name without its inference index."""
    base, sep, index = name.rpartition("__")
    return base if sep and index.isdigit() else name


def _tensor_spec(data: dict[str, Any]) -> TensorSpec:
    """A manifest tensor entry; manifests written before ``dtype`` / ``value_range`` existed are float inputs."""
    value_range = data.get("value_range")
    return TensorSpec(
        **{
            **data,
            "shape": tuple(data["shape"]),
            "value_range": (int(value_range[0]), int(value_range[1])) if value_range is not None else None,
        }
    )


@dataclass(frozen=True)
class Circuit:
    """A built circuit folder: ``circuits/<name>/``."""

    path: Path
    manifest: Manifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def settings(self) -> Path:
        return self.path / SETTINGS

    @property
    def compiled(self) -> Path:
        return self.path / COMPILED

    @property
    def vk(self) -> Path:
        return self.path / VK

    @property
    def circuit_onnx(self) -> Path:
        return self.path / CIRCUIT_ONNX

    @property
    def sample(self) -> Path:
        return self.path / SAMPLE

    @classmethod
    def load(cls, path: Path) -> Circuit:
        manifest_path = path / MANIFEST
        try:
            data = json.loads(manifest_path.read_text())
        except FileNotFoundError:
            raise CircuitError(
                f"{path} has no {MANIFEST}: not a complete circuit build", "rebuild it with ngx-zk model build"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CircuitError(f"{manifest_path} is not valid JSON ({exc})", "rebuild it with ngx-zk model build") from None
        try:
            return cls(path=path, manifest=Manifest.from_json(data))
        except (KeyError, TypeError, ValueError) as exc:
            raise CircuitError(f"{manifest_path} is malformed ({exc})", "rebuild it with ngx-zk model build") from None

    @property
    def has_weights(self) -> bool:
        """Can this folder prove? A fixed-weights circuit always can; a hashed-weights one only once the owner's
        licence has put the private files (:data:`PRIVATE_FILES`) in (a public bundle has none)."""
        return not self.manifest.hashed_weights or all((self.path / f).is_file() for f in PRIVATE_FILES)

    def check(self) -> None:
        """Raise :class:`ArtifactMismatchError` unless every file matches the hash the manifest pins."""
        self._check(self._pinned())

    def check_public(self) -> None:
        """:meth:`check` of what verifying needs (settings, vk): a hashed-weights circuit's public bundle has no
        compiled circuit or circuit ONNX; a fixed-weights circuit is checked whole."""
        pinned = self._pinned()
        if self.manifest.hashed_weights:
            pinned = {label: v for label, v in pinned.items() if v[0].name not in PRIVATE_FILES}
        self._check(pinned)

    def _check(self, pinned: dict[str, tuple[Path, str]]) -> None:
        for label, (path, expected) in pinned.items():
            if not path.is_file():
                if path.name in PRIVATE_FILES and self.manifest.hashed_weights:
                    raise CircuitError(
                        f"{label} missing: {path} (model {self.name!r} has private weights)",
                        f"ask the model's owner for a licence: ngx-zk model license {self.name} --provider YOUR_ADDRESS, "
                        "then ngx-zk model install-license FILE",
                    )
                raise CircuitError(f"{label} missing: {path}", "rebuild the circuit with ngx-zk model build")
            actual = sha256_file(path)
            if actual != expected:
                raise ArtifactMismatchError(label, path, expected, actual)

    def _pinned(self) -> dict[str, tuple[Path, str]]:
        return {
            "settings": (self.settings, self.manifest.settings_sha256),
            "compiled circuit": (self.compiled, self.manifest.compiled_sha256),
            "verification key": (self.vk, self.manifest.vk_sha256),
            "circuit ONNX": (self.circuit_onnx, self.manifest.circuit_onnx_sha256),
        }

    def settings_json(self) -> dict[str, Any]:
        return dict(json.loads(self.settings.read_text()))

    def input_limit(self) -> int:
        """The largest |quantized input| the circuit's range check takes: half of ``decomp_base ** decomp_legs``.

        Checked before quantization, so a stranger's ``1e300`` is refused with a clear error instead of
        overflowing EZKL's fixed-point conversion."""
        run_args = self.settings_json().get("run_args", {})
        try:
            return max(1, int(run_args["decomp_base"]) ** int(run_args["decomp_legs"]) // 2)  # type: ignore[no-any-return]
        except (KeyError, TypeError, ValueError):
            return 1 << 63


@dataclass(frozen=True)
class Proof:
    """A proof file and what it states: the public instances as integers in the BN254 scalar field."""

    path: Path
    circuit_name: str
    instances: tuple[int, ...]
    outputs: tuple[float, ...]
    commitments: tuple[int, ...]
    prove_seconds: float = 0.0
    output_felts: tuple[int, ...] = ()
    """The output values as field elements, from the witness (private: not in a proof file)."""
