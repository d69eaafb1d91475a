"""Input commitments: the Poseidon hash the circuit makes public for each hashed input.

A consumer computes it from a plain input file before any proof exists and posts it with the job;
the proof's first public instances must equal it. The hash covers the input's values followed by
its salt slots (see :func:`ngx_zk.onnx_model.with_salt_slots`), so a low-entropy input (a yes/no
answer, a small integer) cannot be recovered by hashing guesses: the salt adds 128 secret bits.

A float value enters the hash as EZKL quantizes it (``round(x * 2^scale)`` as a field element); an
integer input (token ids) has scale 0 in EZKL, so its field element is the integer itself (mod p).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import _ezkl, defaults
from .artifacts import Manifest, TensorSpec
from .errors import InputError
from .inputs import InputData, fresh_salt


@dataclass(frozen=True)
class Commitment:
    """One field element per hashed input tensor, and the salt that went into them (secret)."""

    values: tuple[int, ...]
    salt: tuple[tuple[int, ...], ...] | None

    @property
    def hex(self) -> list[str]:
        """As 0x-prefixed 32-byte big-endian words, the form used on chain."""
        return [f"0x{v:064x}" for v in self.values]


def commit(manifest: Manifest, data: InputData, *, new_salt: bool = False) -> tuple[Commitment, InputData]:
    """The commitment to ``data`` under the circuit ``manifest``.

    A salted circuit needs a salt: the one in ``data``, or a fresh one when ``data`` has none or
    ``new_salt`` is set. Returns the commitment and the (salted) input to keep with it.
    """
    if manifest.visibility.input != "hashed":
        raise InputError(
            f"circuit {manifest.name!r} does not hash its input (input visibility: {manifest.visibility.input})",
            "build it with --visibility hashed/fixed/public to commit to inputs",
        )
    salted = any(s.salt_elements for s in manifest.inputs)
    if salted and (new_salt or data.salt is None):
        data = data.with_salt(fresh_salt(manifest))
    rows = data.circuit_rows(manifest)
    values = tuple(_ezkl.poseidon(felts(row, spec)) for row, spec in zip(rows, manifest.inputs, strict=True))
    return Commitment(values, data.salt), data


def felts(row: Sequence[float], spec: TensorSpec) -> list[int]:
    """One input's circuit values (salt included) as the field elements EZKL hashes."""
    if spec.is_int:
        return [(int(v) << spec.scale) % defaults.BN254_SCALAR_MODULUS for v in row]  # EZKL gives integer inputs scale 0
    return [_ezkl.float_to_felt(v, spec.scale) for v in row]
