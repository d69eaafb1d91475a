"""``prove-job --settlement optimistic`` as users run it, on anvil: a real worker (serving its proofs with --listen)
commits the result without on-chain verification; the consumer's prove-job fetches the committed proof, verifies it
locally and ends with the job finalized after the (60 s, governed minimum) challenge window, which the test moves
anvil's clock past. ``job show --json`` then reports the settlement fields scripts rely on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ngx_zk import crypto, prover
from ngx_zk.chain.types import FLAG_OPTIMISTIC, JobStatus

from .chain_fixtures import Net, free_port, start_worker
from .optimistic_fixtures import WINDOW, short, show
from .paths import MODELS

pytestmark = [pytest.mark.chain, pytest.mark.slow]
__all__ = ["short"]  # fixtures


def travel_once_submitted(net: Net, first_job: int, stop: threading.Event) -> None:
    """Move anvil's clock past the challenge window as soon as the job is Submitted (the idle devnet would otherwise
    take a minute of real time)."""
    while not stop.is_set():
        if net.market.job_count() >= first_job and net.market.job(first_job).status is JobStatus.SUBMITTED:
            net.travel(WINDOW + 1)
            return
        time.sleep(0.2)


def test_prove_job_optimistic_ends_finalized_with_the_output_verified(short: Net, tmp_path: Path) -> None:
    net, m = short, short.market
    port = free_port()
    signer = net.signer("provider")
    m.update_provider(
        signer, crypto.public_bytes(crypto.derive_key(signer.encryption_key_material())), f"http://127.0.0.1:{port}"
    )
    job_id = m.job_count() + 1
    stop = threading.Event()
    traveller = threading.Thread(target=travel_once_submitted, args=(net, job_id, stop), daemon=True)
    worker = start_worker(net, tmp_path / "worker", "--listen", f"127.0.0.1:{port}", "--max-jobs", "1")
    try:
        traveller.start()
        done = subprocess.run(
            [sys.executable, "-m", "ngx_zk", "prove-job", "mlp", "--input", str(MODELS / "mlp" / "input.json"),
             "--account", "consumer", "--price", "10", "--settlement", "optimistic", "--json", "--timeout", "240"],
            env=net.env(tmp_path / "consumer"), capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        stop.set()
        traveller.join(5)
        if worker.poll() is None:
            worker.terminate()
        worker.wait(timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["job_id"] == job_id and result["status"] == "Settled" and result["proof_valid"] is True
    assert (result["settlement"], result["finalized"]) == ("optimistic", True) and isinstance(result["challenge_deadline"], int)
    job = m.job(job_id)
    assert job.flags & FLAG_OPTIMISTIC and job.status is JobStatus.SETTLED
    assert result["outputs"] == list(prover.outputs_from_felts(net.circuit.manifest, m.outputs(job_id))), "the committed output"

    shown = show(net, tmp_path / "consumer", job_id)
    assert (shown["settlement"], shown["finalized"], shown["challenge_deadline"]) == (
        "optimistic",
        True,
        result["challenge_deadline"],
    )
