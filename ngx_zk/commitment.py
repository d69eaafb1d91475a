"""Input commitments: what a consumer posts with a job so that a proof can only be of its input.

Two kinds. A ``hashed`` input: the Poseidon hash the circuit makes public for each input tensor;
the proof's first public instances must equal it. A ``polycommit`` input: the KZG commitment EZKL
makes of the input's advice column (no hash in the circuit, so it proves faster); it is the first
G1 point(s) of the proof bytes, posted as (x, y) words, and ``PolycommitBinding`` on chain checks
the proof starts with them. Either covers the input's values followed by its salt slots (see
:func:`ngx_zk.onnx_model.with_salt_slots`), so a low-entropy input (a yes/no answer, a small
integer) cannot be recovered by committing to guesses: the salt adds 128 secret bits to a hash and
1,536 to a KZG commitment (unblinded and linear in the values: see ``defaults.KZG_SALT_BITS_TARGET``).

A float value enters the hash as EZKL quantizes it (``round(x * 2^scale)`` as a field element); an
integer input (token ids) has scale 0 in EZKL, so its field element is the integer itself (mod p).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import _ezkl, defaults, srs
from .artifacts import Circuit, Manifest, TensorSpec
from .config import Settings
from .errors import CircuitError, InputError, InvalidProofError
from .inputs import InputData, fresh_salt

FRESH_SALT_TRIES = 8
"""Fresh salts tried for a KZG commitment with a coordinate outside the scalar field (each has odds ~2^-126)."""


@dataclass(frozen=True)
class Commitment:
    """The words a job posts: one Poseidon hash per hashed input tensor, or (x, y) per KZG point of a
    polycommit input; and the salt that went into them (secret)."""

    values: tuple[int, ...]
    salt: tuple[tuple[int, ...], ...] | None

    @property
    def hex(self) -> list[str]:
        """As 0x-prefixed 32-byte big-endian words, the form used on chain."""
        return [f"0x{v:064x}" for v in self.values]


@dataclass(frozen=True)
class KzgKey:
    """What committing to a ``polycommit`` input takes besides the values: the circuit's verifying
    key and settings (the column layout) and the SRS it was built on."""

    vk: Path
    settings: Path
    srs: Path


def kzg_key(circuit: Circuit, settings: Settings) -> KzgKey | None:
    """The key :func:`commit` needs for ``circuit`` (None unless its input is ``polycommit``)."""
    if not circuit.manifest.polycommit:
        return None
    return KzgKey(circuit.vk, circuit.settings, srs.locate(settings, circuit.manifest.srs))


def commit(
    manifest: Manifest, data: InputData, *, new_salt: bool = False, kzg: KzgKey | None = None
) -> tuple[Commitment, InputData]:
    """The commitment to ``data`` under the circuit ``manifest``.

    A salted circuit needs a salt: the one in ``data``, or a fresh one when ``data`` has none or
    ``new_salt`` is set. Returns the commitment and the (salted) input to keep with it. A
    ``polycommit`` circuit also needs ``kzg`` (:func:`kzg_key`).
    """
    if manifest.visibility.input not in ("hashed", "polycommit"):
        raise InputError(
            f"circuit {manifest.name!r} does not commit to its input (input visibility: {manifest.visibility.input})",
            "build it with --visibility hashed/fixed/public (or polycommit/fixed/public) to commit to inputs",
        )
    salted = any(s.salt_elements for s in manifest.inputs)
    if salted and (new_salt or data.salt is None):
        data = data.with_salt(fresh_salt(manifest))
    if not manifest.polycommit:
        rows = data.circuit_rows(manifest)
        values = tuple(_ezkl.poseidon(felts(row, spec)) for row, spec in zip(rows, manifest.inputs, strict=True))
        return Commitment(values, data.salt), data
    if kzg is None:
        raise CircuitError(f"circuit {manifest.name!r} commits to inputs with KZG: its folder and SRS are needed")
    for _ in range(FRESH_SALT_TRIES):
        values = kzg_values(manifest, data, kzg)
        if all(v < defaults.BN254_SCALAR_MODULUS for v in values) or not (salted and new_salt):
            break
        data = data.with_salt(fresh_salt(manifest))
    if any(v >= defaults.BN254_SCALAR_MODULUS for v in values):
        raise InputError(
            "this input's KZG commitment has a coordinate above the scalar field, which the market refuses",
            "commit again with a fresh salt",
        )
    return Commitment(values, data.salt), data


def kzg_values(manifest: Manifest, data: InputData, kzg: KzgKey) -> tuple[int, ...]:
    """A polycommit input's commitment words: (x, y) of each point, in the order the proof holds them."""
    (row,) = data.circuit_rows(manifest)
    points = _ezkl.kzg_commit(felts(row, manifest.inputs[0]), kzg.vk, kzg.settings, kzg.srs)
    if manifest.commitment_points and len(points) != manifest.commitment_points:
        raise CircuitError(
            f"circuit {manifest.name!r} expects {manifest.commitment_points} KZG point(s), EZKL made {len(points)}",
            "rebuild the circuit with ngx-zk model build",
        )
    return tuple(c for point in points for c in point)


def proof_points(proof: bytes, points: int) -> tuple[int, ...]:
    """The (x, y) words the first ``points`` G1 points of ``proof`` hold (big-endian, as the EVM
    verifier reads them): a polycommit input's commitment, which ``PolycommitBinding`` compares with
    the job's posted commitment."""
    if len(proof) < 64 * points:
        raise InvalidProofError(f"the proof is {len(proof)} bytes, too short to start with {points} KZG point(s)")
    return tuple(int.from_bytes(proof[32 * i : 32 * i + 32], "big") for i in range(2 * points))


def felts(row: Sequence[float], spec: TensorSpec) -> list[int]:
    """One input's circuit values (salt included) as the field elements EZKL hashes."""
    if spec.is_int:
        return [(int(v) << spec.scale) % defaults.BN254_SCALAR_MODULUS for v in row]  # EZKL gives integer inputs scale 0
    return [_ezkl.float_to_felt(v, spec.scale) for v in row]
