"""The only module that calls EZKL: every call goes through here.

EZKL's Python calls take paths, print tables to the process's stderr, and report failure by
returning False or raising ``RuntimeError`` with a terse message. This module silences the native
output (keeping it for error messages), turns failures into :mod:`ngx_zk.errors` exceptions, and
keeps the prover swappable behind one small surface.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import ezkl

from .errors import NgxZkError, ProvingError

VERSION: str = getattr(ezkl, "__version__", "23.0.5")

# EZKL logs through Python's logging (calibration tables at WARNING level): keep it off the user's
# terminal; _call collects what it says for error hints instead.
_log = logging.getLogger("ezkl")
_log.propagate = False
_log.addHandler(logging.NullHandler())


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


E = TypeVar("E", bound=NgxZkError)


@contextlib.contextmanager
def _native_output_captured() -> Iterator[list[str]]:
    """Send fds 1 and 2 (and EZKL's log) to a temporary file while native code runs; yield the text."""
    captured: list[str] = []
    collect = _Collect()
    _log.addHandler(collect)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        for stream in ("stdout", "stderr"):
            with contextlib.suppress(Exception):
                getattr(__import__("sys"), stream).flush()
        saved = [os.dup(1), os.dup(2)]
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            _log.removeHandler(collect)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", "replace") + "\n".join(collect.lines))


def _call(error: type[E], what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an EZKL call quietly; raise ``error`` naming ``what`` if it fails or returns False."""
    with _native_output_captured() as out:
        try:
            result = fn(*args, **kwargs)
            failure = "EZKL reported failure" if result is False else None
        except (RuntimeError, ValueError, OSError) as exc:
            result, failure = None, _first_line(str(exc))
        except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException, a BaseException
            if type(exc).__name__ != "PanicException":
                raise
            result, failure = None, f"EZKL panicked: {_first_line(str(exc))}"
    if failure is not None:
        raise error(f"{what} failed: {failure}", _hint_from(out[0] if out else ""))
    return result


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "no message"
    return line[:400]


def _hint_from(native_output: str) -> str | None:
    lines = [ln.strip() for ln in native_output.splitlines() if ln.strip() and not ln.startswith(("+", "|"))]
    return f"EZKL said: {lines[-1][:300]}" if lines else None


def run_args(**fields: Any) -> Any:
    args = ezkl.PyRunArgs()
    for key, value in fields.items():
        setattr(args, key, value)
    return args


def gen_settings(error: type[E], onnx: Path, settings: Path, args: Any) -> None:
    _call(error, "generating circuit settings", ezkl.gen_settings, str(onnx), str(settings), py_run_args=args)


def calibrate(
    error: type[E],
    data: Path,
    onnx: Path,
    settings: Path,
    *,
    margin: float,
    max_logrows: int | None,
    scales: Sequence[int] | None = None,
    rebase: Sequence[int] = (1,),
) -> None:
    """``scales`` None lets EZKL try its own input/param scales; ``rebase``: the scale rebase multipliers to try."""
    _call(
        error,
        "calibration",
        ezkl.calibrate_settings,
        str(data),
        str(onnx),
        str(settings),
        "resources",
        lookup_safety_margin=margin,
        scales=list(scales) if scales else None,
        scale_rebase_multiplier=list(rebase),
        max_logrows=max_logrows,
    )


def compile_circuit(error: type[E], onnx: Path, compiled: Path, settings: Path) -> None:
    _call(error, "compiling the circuit", ezkl.compile_circuit, str(onnx), str(compiled), str(settings))


def gen_test_srs(error: type[E], path: Path, logrows: int) -> None:
    _call(error, "generating the test SRS", ezkl.gen_srs, str(path), logrows)


def setup(error: type[E], compiled: Path, vk: Path, pk: Path, srs: Path) -> None:
    _call(
        error,
        "key setup",
        ezkl.setup,
        str(compiled),
        str(vk),
        str(pk),
        srs_path=str(srs),
        witness_path=None,
        disable_selector_compression=False,
    )


def gen_witness(error: type[E], data: Path, compiled: Path, witness: Path, vk: Path | None, srs: Path | None) -> dict[str, Any]:
    result = _call(
        error,
        "witness generation",
        ezkl.gen_witness,
        str(data),
        str(compiled),
        str(witness),
        vk_path=str(vk) if vk else None,
        srs_path=str(srs) if srs else None,
    )
    return dict(result) if isinstance(result, dict) else json.loads(witness.read_text())


def prove(witness: Path, compiled: Path, pk: Path, proof: Path, srs: Path) -> dict[str, Any]:
    result = _call(ProvingError, "proving", ezkl.prove, str(witness), str(compiled), str(pk), str(proof), srs_path=str(srs))
    return dict(result) if isinstance(result, dict) else json.loads(proof.read_text())


def verify(proof: Path, settings: Path, vk: Path, srs: Path) -> bool:
    """True when EZKL accepts the proof; False (never an exception) when it rejects it."""
    with _native_output_captured():
        try:
            return bool(ezkl.verify(str(proof), str(settings), str(vk), srs_path=str(srs), reduced_srs=False))
        except (RuntimeError, ValueError):
            return False


def float_to_felt(value: float, scale: int) -> int:
    return felt_to_int(ezkl.float_to_felt(value, scale, ezkl.PyInputType.F32))


def felt_to_int(felt: str) -> int:
    """An EZKL felt (little-endian hex, as in proofs and witnesses) as an integer in [0, p)."""
    return int.from_bytes(bytes.fromhex(felt.removeprefix("0x")), "little")


def int_to_felt(value: int) -> str:
    return value.to_bytes(32, "little").hex()


def felt_to_float(felt: str, scale: int) -> float:
    return float(ezkl.felt_to_float(felt, scale))


def poseidon(felts: Sequence[int]) -> int:
    return felt_to_int(ezkl.poseidon_hash([int_to_felt(f) for f in felts])[0])


def kzg_commit(felts: Sequence[int], vk: Path, settings: Path, srs: Path) -> list[tuple[int, int]]:
    """The KZG commitments (G1 points, as integer coordinates) EZKL makes of a ``polycommit`` input
    column holding ``felts``: one point per advice column the values fill."""
    points = ezkl.kzg_commit([int_to_felt(f) for f in felts], str(vk), str(settings), str(srs))
    # EZKL's stubs do not declare the coordinates; each prints as little-endian hex, like a felt
    return [(felt_to_int(str(p.x)), felt_to_int(str(p.y))) for p in points]  # type: ignore[attr-defined]


def evm_calldata(error: type[E], proof: Path, calldata: Path) -> bytes:
    return bytes(_call(error, "encoding EVM calldata", ezkl.encode_evm_calldata, str(proof), str(calldata), addr_vk=None))


def render_verifier(vk: Path, settings: Path, sol: Path, srs: Path) -> None:
    """Write the dedicated Solidity verifier. EZKL then tries to download solc, which fails offline
    after the source is written; the caller compiles it (see :mod:`ngx_zk.evm`)."""
    _run_async(lambda: ezkl.create_evm_verifier(str(vk), str(settings), str(sol), str(sol.with_suffix(".abi")), str(srs), False))


def render_vka(vk: Path, settings: Path, vka: Path, srs: Path) -> None:
    """Write the verifying-key artifact (VKA) for EZKL's reusable verifier."""
    _run_async(lambda: ezkl.create_evm_vka(str(vk), str(settings), str(vka), str(srs)))


def _run_async(start: Any) -> None:
    """EZKL's async calls need a running event loop when they are called, not only when awaited."""

    async def run() -> None:
        with contextlib.suppress(RuntimeError):
            await start()

    with _native_output_captured():
        asyncio.run(run())
