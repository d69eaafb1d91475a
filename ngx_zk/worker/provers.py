"""The worker's proofs, run in a pool of child processes.

EZKL's Python binding keeps the GIL for the whole of a proof. On a thread, a proof froze the rest of
the worker for as long as it ran: measured here, a claim sent while an offered job was proving left
only when the proof ended, and the data-plane endpoint could not answer meanwhile. So proofs run in
``concurrency`` spawned processes, started with the worker and warmed once (EZKL imported, one
onnxruntime session per served model); the worker's loop, endpoint and metrics stay responsive.

A child gets the circuit, the salted input and the cache paths, never a key or password: the
settings it receives have their secrets removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from .. import prover
from ..artifacts import Circuit, Proof
from ..config import Settings
from ..errors import NgxZkError, ProofError
from ..inference import OnnxRunner
from ..inputs import InputData
from ..prover import without_secrets


@dataclasses.dataclass(frozen=True)
class ProofRun:
    """A finished proof of one job's input, not yet journaled."""

    proof: Proof
    path: Path
    inference_s: float
    drift: float  # max |circuit output - onnxruntime float output|
    runtime: str  # the onnxruntime execution provider that ran the float model
    node: str = "local"  # where it ran: "local" (this machine's pool) or a Ray node id


class ProverLost(ProofError):
    """The machine or process running a proof went away mid-proof (a fleet node lost): the proof
    itself did not fail, and may be run again elsewhere if the job's deadline allows."""

    def __init__(self, node: str, detail: str) -> None:
        super().__init__(
            f"the prover running this proof was lost (node {node[:12]}): {detail}",
            "the job is proved again on another node if its deadline allows, else declined",
        )
        self.node, self.detail = node, detail

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.node, self.detail))


START_TIMEOUT_S = 120.0
_runners: dict[Path, OnnxRunner] = {}


PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal this process gets when the thread that started it ends."""


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux): a worker killed with SIGKILL
    must not leave proofs running on its cores until they end. Elsewhere a no-op."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if os.getppid() != parent_pid:  # the parent died before the prctl: nobody would signal us
        os._exit(1)


def _warm(onnx_files: Sequence[Path], threads: int, parent_pid: int) -> None:
    """Child start: die with the worker; the parent alone handles Ctrl-C (warm shutdown); this
    child's share of the cores; load what every proof needs."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # EZKL proves on a rayon pool as wide as the machine: N children would run N x cores threads
    os.environ.setdefault("RAYON_NUM_THREADS", str(threads))
    for path in onnx_files:
        # a failing initializer would make the pool respawn children forever; the proof reports it instead
        with contextlib.suppress(Exception):
            _runners[path] = OnnxRunner(path)


def _started(_: int) -> int:
    time.sleep(0.05)  # long enough for the other children to take the other calls
    return os.getpid()


def prove_input(circuit: Circuit, settings: Settings, salted: InputData, out: Path) -> ProofRun:
    """onnxruntime inference, EZKL witness + proof (runs in a child).

    No local verification here: before submitting, the worker dry-runs the submission, which runs
    the model's on-chain verifier on the exact calldata (a stricter check, on the same path)."""
    runner = _runners.get(circuit.circuit_onnx)
    if runner is None:
        runner = _runners[circuit.circuit_onnx] = OnnxRunner(circuit.circuit_onnx)
    rows = salted.circuit_rows(circuit.manifest)
    started = time.perf_counter()
    floats = runner.run(rows, [(1, len(r)) for r in rows])
    inference_s = time.perf_counter() - started
    proof = prover.prove(circuit, salted, out, settings)
    drift = (
        float(np.max(np.abs(np.concatenate([f.reshape(-1) for f in floats]) - np.array(proof.outputs)))) if proof.outputs else 0.0
    )
    return ProofRun(proof, out, inference_s, drift, runner.provider)


class ProverPool:
    """``processes`` warm proving processes; ``submit`` returns a Future of the :class:`ProofRun`."""

    def __init__(self, processes: int, circuits: Sequence[Circuit], settings: Settings) -> None:
        self.settings = dataclasses.replace(settings, private_key=None, keystore_password=None)
        context = multiprocessing.get_context("spawn")  # fork after native threads can deadlock
        threads = max(1, (os.cpu_count() or 1) // processes)
        with without_secrets():  # spawned children copy the environment: keep keys and passwords out of it
            self._pool = context.Pool(
                processes, initializer=_warm, initargs=([c.circuit_onnx for c in circuits], threads, os.getpid())
            )
        self.threads_per_proof = threads
        self._processes = processes
        self._closed = False

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Block until the children are up (spawned, EZKL and onnxruntime loaded): not the first job's cost."""
        try:
            self._pool.map_async(_started, range(self._processes), chunksize=1).get(timeout=timeout_s)
        except multiprocessing.TimeoutError:
            raise NgxZkError(
                f"the worker's proving processes did not start within {timeout_s:.0f}s",
                "check that `python -c 'import ezkl, onnxruntime'` works in this environment",
            ) from None

    def submit(self, circuit: Circuit, salted: InputData, out: Path) -> Future[ProofRun]:
        future: Future[ProofRun] = Future()
        future.set_running_or_notify_cancel()
        self._pool.apply_async(
            prove_input, (circuit, self.settings, salted, out), callback=future.set_result, error_callback=future.set_exception
        )
        return future

    def close(self, *, wait: bool) -> None:
        """``wait``: let running proofs finish (warm shutdown); otherwise stop the children now."""
        if self._closed:
            return
        self._closed = True
        if wait:
            self._pool.close()
        else:
            self._pool.terminate()
        self._pool.join()
