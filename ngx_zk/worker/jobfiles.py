"""The worker's files and the inputs it opens: the served models, sealed inputs, and a job's private files.

Everything a consumer sends is a stranger's bytes. :meth:`InputOpener.open` decrypts a sealed
payload, parses it with bounded JSON (:mod:`ngx_zk.safejson`), checks every value against the
circuit's range *before* EZKL quantizes it, and checks that it opens the job's commitment. Any
failure, of any kind, raises :class:`InputRejected` with the reason: one poisoned payload must never
take the worker down.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from .. import crypto, safejson
from ..artifacts import Circuit
from ..chain.types import ModelEntry
from ..commitment import KzgKey, commit
from ..errors import InputError, NgxZkError
from ..files import write_private
from ..inputs import InputData, parse

MAX_SEALED_JSON_BYTES = 4 * 1024 * 1024
"""Largest decrypted input message the worker parses."""


class InputRejected(InputError):
    """A stranger's input the worker will not prove (``reason`` says why; it is journaled as a refusal)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Served:
    """A model this worker proves: the local circuit, its matching registry entry, warm resources."""

    circuit: Circuit
    entry: ModelEntry
    srs_path: Path
    pk_path: Path
    input_limit: int

    @property
    def kzg(self) -> KzgKey | None:
        """What opening a polycommit input takes (None for a hashed one)."""
        m = self.circuit.manifest
        return KzgKey(self.circuit.vk, self.circuit.settings, self.srs_path) if m.polycommit else None


class InputOpener:
    """Opens sealed inputs for the served models and keeps each job's salted input in a private file."""

    def __init__(self, enc_key: X25519PrivateKey, chain_id: int, market: str, served: Mapping[int, Served], home: Path) -> None:
        self.enc_key, self.chain_id, self.market, self.served, self.home = enc_key, chain_id, market, served, home

    def context(self, job_id: int, model_id: int, direction: str) -> crypto.JobContext:
        return crypto.JobContext(self.chain_id, self.market, job_id, model_id, direction)

    def open(
        self, payload: bytes, ctx: crypto.JobContext, model_id: int, commitments: tuple[int, ...] | list[int]
    ) -> tuple[InputData, bytes]:
        """(salted input, the consumer's reply key) if ``payload`` opens ``commitments``; else
        :class:`InputRejected` says why not."""
        served = self.served.get(model_id)
        if served is None:
            raise InputRejected(f"model {model_id} is not served here")
        manifest = served.circuit.manifest
        try:
            message = safejson.loads(
                crypto.open_sealed(self.enc_key, payload, ctx), what="sealed input", max_bytes=MAX_SEALED_JSON_BYTES
            )
            if not isinstance(message, dict):
                raise InputRejected("input unusable: not a JSON object")
            salted = parse(message.get("input"), manifest, source=f"{ctx.direction} input", limit=served.input_limit)
            reply_to = bytes.fromhex(str(message.get("reply_to", "")))
            if reply_to and len(reply_to) != 32:
                raise InputRejected("input unusable: reply_to is not a 32-byte key")
            commitment, _ = commit(manifest, salted, kzg=served.kzg)
        except InputRejected:
            raise
        except NgxZkError as exc:
            raise InputRejected(f"input unusable: {exc.message}") from None
        except Exception as exc:  # a stranger's bytes: whatever EZKL or the decoder raises, refuse, never crash
            raise InputRejected(f"input unusable: {type(exc).__name__}: {str(exc)[:200]}") from None
        if list(commitment.values) != list(commitments):
            raise InputRejected("input does not open the job's commitment")
        return salted, reply_to

    def input_path(self, job_id: int) -> Path:
        return self.home / "inputs" / f"{job_id}.json"

    def proof_path(self, job_id: int) -> Path:
        return self.home / "proofs" / f"{job_id}.json"

    def save_input(self, job_id: int, salted: InputData) -> Path:
        path = self.input_path(job_id)
        write_private(path, json.dumps(salted.to_json()).encode())
        return path

    def load_input(self, job_id: int, model_id: int, path: str) -> InputData:
        """The salted input journaled for a job (our own file, written after it was checked)."""
        served = self.served[model_id]
        try:
            data = safejson.loads(Path(path).read_bytes(), what=f"job {job_id} input")
        except OSError as exc:
            raise NgxZkError(f"job {job_id}: the journaled input is unreadable: {exc.strerror}") from None
        return parse(data, served.circuit.manifest, source=f"job {job_id} input", limit=served.input_limit)

    def discard(self, job_id: int) -> None:
        """Delete a finished job's salted input (the proof file stays: it is on chain once submitted)."""
        with contextlib.suppress(OSError):
            self.input_path(job_id).unlink()
