"""Stage 3: prove an inference and verify a proof, locally (no chain).

``prove`` runs witness generation and EZKL's prover with the cached proving key; ``verify`` checks a
proof file against a circuit whose artifacts match their manifest. Proof files are EZKL's own JSON
format, so EZKL's tools read them too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from . import _ezkl, defaults, keys, srs
from .artifacts import Circuit, Manifest, Proof
from .commitment import proof_points
from .config import SECRET_ENV_VARS, Settings
from .errors import InputError, InvalidProofError, NgxZkError, ProvingError
from .inputs import InputData, write_witness_input

Progress = Callable[[str], None]


def prove(
    circuit: Circuit,
    data: InputData,
    out: Path,
    settings: Settings,
    *,
    progress: Progress = lambda _: None,
) -> Proof:
    """Prove that the circuit's model maps ``data`` to its output; write the proof to ``out``."""
    m = circuit.manifest
    progress("checking circuit artifacts")
    circuit.check()
    srs_path = srs.locate(settings, m.srs)
    rows = data.circuit_rows(m)
    progress("loading the proving key")
    pk = keys.proving_key(settings, circuit, srs_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ngx-prove-", dir=out.parent) as tmp:
        witness_input, witness, proof_tmp = Path(tmp) / "input.json", Path(tmp) / "witness.json", Path(tmp) / "proof.json"
        write_witness_input(witness_input, rows)
        progress("generating the witness")
        try:
            witness_data = _ezkl.gen_witness(ProvingError, witness_input, circuit.compiled, witness, circuit.vk, srs_path)
        except ProvingError as exc:
            raise InputError(
                f"the circuit cannot evaluate this input ({exc.message})",
                "values far outside the model's calibration range overflow the circuit; "
                "rebuild with calibration data that covers them",
            ) from None
        progress("proving")
        started = time.perf_counter()
        try:
            _ezkl.prove(witness, circuit.compiled, pk, proof_tmp, srs_path)
        except ProvingError as exc:
            if "load pk" in exc.message:  # EZKL's words for a key file it cannot read: the cache, not the circuit
                raise keys.damaged(settings, pk, exc.message.rsplit(": ", 1)[-1]) from None
            raise
        seconds = time.perf_counter() - started
        os.replace(proof_tmp, out)
    felts = tuple(_ezkl.felt_to_int(str(f)) for group in witness_data.get("outputs", []) for f in group)
    return replace(_read(out, circuit, seconds), output_felts=felts)


_env_lock = threading.Lock()


@contextlib.contextmanager
def without_secrets() -> Iterator[None]:
    """The process environment minus every secret ngx-zk reads, for as long as children are spawned.

    Proving children run untrusted ONNX; they must not inherit ``NGX_ZK_PRIVATE_KEY`` or the
    keystore password."""
    with _env_lock:
        saved = {k: os.environ.pop(k) for k in SECRET_ENV_VARS if k in os.environ}
        try:
            yield
        finally:
            os.environ.update(saved)


def prove_bounded(circuit: Circuit, data: InputData, out: Path, settings: Settings, *, timeout_s: float, what: str) -> Proof:
    """:func:`prove` in a child process that is killed after ``timeout_s`` seconds.

    EZKL can spin forever on some inputs (seen: an RNN proving an all-zero input); a command that
    proves on the user's behalf must end. ``what`` names the input in the errors. The child gets
    no secrets: neither in its settings nor in its environment."""
    context = multiprocessing.get_context("spawn")  # fork after native threads can deadlock
    receiver, sender = context.Pipe(duplex=False)
    clean = dataclasses.replace(settings, private_key=None, keystore_password=None)
    child = context.Process(target=_prove_child, args=(sender, circuit, data, out, clean), daemon=True)
    with without_secrets():
        child.start()
    sender.close()
    started = time.perf_counter()
    try:
        answer = receiver.recv() if receiver.poll(timeout_s) else None
    except EOFError:
        answer = ("crash", f"the proving process died (exit code {child.exitcode})", None)
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    if answer is None:
        raise ProvingError(
            f"proving {what} did not finish within {timeout_s:g}s (the prover was stopped)",
            "EZKL can hang on inputs far from the model's calibration data: pass a realistic input, or allow more time",
        )
    kind, message, hint = answer
    if kind == "input":
        raise InputError(f"{what}: {message}", hint)
    if kind != "ok":
        raise ProvingError(f"proving {what} failed: {message}", hint)
    return _read(out, circuit, time.perf_counter() - started)


def _prove_child(conn: Connection, circuit: Circuit, data: InputData, out: Path, settings: Settings) -> None:
    try:
        prove(circuit, data, out, settings)
        conn.send(("ok", "", None))
    except InputError as exc:
        conn.send(("input", exc.message, exc.hint))
    except NgxZkError as exc:
        conn.send(("error", exc.message, exc.hint))
    except Exception as exc:  # an EZKL panic surfaces as a plain exception: report it, one line
        conn.send(("error", f"{type(exc).__name__}: {exc}".splitlines()[0], None))
    finally:
        conn.close()


def verify(proof_file: Path, circuit: Circuit, settings: Settings) -> Proof:
    """Check ``proof_file`` against ``circuit``; raise :class:`InvalidProofError` unless it is valid."""
    proof = _read(proof_file, circuit)
    circuit.check_public()
    srs_path = srs.locate(settings, circuit.manifest.srs)
    if not _ezkl.verify(proof_file, circuit.settings, circuit.vk, srs_path):
        raise InvalidProofError(
            f"proof {proof_file} is NOT valid for circuit {circuit.name!r}",
            "the proof was altered, or it was made for another model or build",
        )
    return proof


def _read(path: Path, circuit: Circuit, seconds: float = 0.0) -> Proof:
    m = circuit.manifest
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file" if path.exists() else None
        raise InvalidProofError(
            f"proof file not found: {path}" if what is None else f"{path} is {what}, not a proof file",
            "pass the proof file `ngx-zk prove --out` wrote",
        )
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidProofError(
            f"{path} is not a proof file (not JSON)", "pass the proof file `ngx-zk prove --out` wrote"
        ) from None
    instances = _instances(path, data)
    if len(instances) != m.proof_instance_count:
        raise InvalidProofError(
            f"proof {path} has {len(instances)} public instances; circuit {m.name!r} has {m.proof_instance_count}",
            "the proof was made for another model",
        )
    instances = _without_params(path, m, instances)
    if m.polycommit:  # the market's instances: the input's KZG commitment (from the proof bytes), then the file's
        instances = [*proof_points(bytes(data["proof"]), m.commitment_points), *instances]
    return Proof(
        path=path,
        circuit_name=m.name,
        instances=tuple(instances),
        outputs=output_values(m, instances),
        commitments=tuple(instances[: m.commitment_count]),
        prove_seconds=seconds,
    )


def _without_params(path: Path, m: Manifest, instances: list[int]) -> list[int]:
    """The proof file's instances less a hashed-weights circuit's weight hashes, which must be the manifest's:
    the chain puts the pinned ones back, so a proof made with other weights could never settle."""
    start, count = m.param_slice
    if not count:
        return instances
    if tuple(instances[start : start + count]) != m.param_hashes:
        raise InvalidProofError(
            f"proof {path} was made with other weights than model {m.name!r} commits to (weight hash mismatch)",
            "prove with the weights the owner licensed (ngx-zk model install-license FILE checks them)",
        )
    return [*instances[:start], *instances[start + count :]]


def _instances(path: Path, data: Any) -> list[int]:
    try:
        groups = data["instances"]
        if not isinstance(data["proof"], list) or not isinstance(groups, list):
            raise TypeError
        values = [_ezkl.felt_to_int(str(f)) for group in groups for f in group]
    except (KeyError, TypeError, ValueError):
        raise InvalidProofError(f"{path} is not an EZKL proof file (no proof bytes or instances)") from None
    for v in values:
        if v >= defaults.BN254_SCALAR_MODULUS:
            raise InvalidProofError(f"proof {path} has a public instance outside the BN254 scalar field")
    return values


def output_values(m: Manifest, instances: list[int]) -> tuple[float, ...]:
    """The model's outputs as floats, when the output is public (empty otherwise)."""
    if m.visibility.output != "public":
        return ()
    out: list[float] = []
    pos = m.input_instance_count
    for spec in m.outputs:
        for v in instances[pos : pos + spec.size]:
            out.append(_ezkl.felt_to_float(_ezkl.int_to_felt(v), spec.scale))
        pos += spec.size
    return tuple(out)


def write_proof_from_calldata(proof: bytes, instances: list[int], path: Path, m: Manifest) -> Path:
    """An EZKL proof file rebuilt from on-chain calldata (a submission's instances), so it can be verified
    offline. A polycommit input's commitment words are left out: EZKL reads them from the proof bytes; a
    hashed-weights circuit's weight hashes are put back in (the manifest's, as the chain's ParamsBinding does)."""
    own = m.with_params(instances)
    path.write_text(json.dumps({"proof": list(proof), "instances": [[_ezkl.int_to_felt(v) for v in own]]}))
    return path


def verify_calldata(settings: Settings, circuit: Circuit, proof: bytes, instances: list[int]) -> Proof:
    """Check a proof given as the market sees it (proof bytes and instances) against the local verification key,
    offline; raises :class:`~ngx_zk.errors.InvalidProofError` unless it is valid. The auditor checks a settled
    job's proof with it, the watchtower (:mod:`ngx_zk.watch`) an optimistic job's served proof before the chain does."""
    with tempfile.TemporaryDirectory(prefix="ngx-audit-") as tmp:
        path = write_proof_from_calldata(proof, instances, Path(tmp) / "proof.json", circuit.manifest)
        return verify(path, circuit, settings)


def outputs_from_felts(m: Manifest, felts: list[int]) -> tuple[float, ...]:
    """Output field elements (as the witness holds them) as floats at each output's scale."""
    out: list[float] = []
    pos = 0
    for spec in m.outputs:
        out.extend(_ezkl.felt_to_float(_ezkl.int_to_felt(v), spec.scale) for v in felts[pos : pos + spec.size])
        pos += spec.size
    return tuple(out)


def output_hashes(m: Manifest, felts: list[int]) -> list[int]:
    """The Poseidon hash per output tensor that a circuit with hashed outputs makes public."""
    hashes, pos = [], 0
    for spec in m.outputs:
        hashes.append(_ezkl.poseidon(felts[pos : pos + spec.size]))
        pos += spec.size
    return hashes
