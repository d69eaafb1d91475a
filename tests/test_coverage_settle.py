"""External-style models, the way a new user brings them (issue 28): each built, published and settled
once on a devnet, then audited with ``verify --job``.

The models (``benchmarks/coverage_models.py``) are ONNX graphs shaped as other exporters write them,
one per op family of EZKL's examples that ngx-zk once shut out: an LPPool whose declared output is
wrong, a decision tree with an int8 MatMul onnxruntime refuses, boosted trees with a symbolic output
dimension, a LayerNorm (whose witness fails on zeros, so publish must prove a real sample), a GRU.
The job runs as users run it: a worker process serving the model, ``prove-job`` as the consumer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ngx_zk as ngx
from benchmarks import coverage_models
from ngx_zk.inference import OnnxRunner
from ngx_zk.publish import publish

from .chain_fixtures import Net, ngx_zk, start_worker

pytestmark = [pytest.mark.chain, pytest.mark.slow]


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("external")
    coverage_models.write(root)
    return root


def reference(folder: Path) -> np.ndarray:
    """The float model's outputs on its input.json, flattened in graph output order."""
    runner = OnnxRunner(folder / "network.onnx")
    x = json.loads((folder / "input.json").read_text())["input_data"]
    shapes = [tuple(1 if isinstance(d, str) or d is None else d for d in meta.shape) for meta in runner.inputs]
    return np.concatenate([o.reshape(-1).astype(np.float64) for o in runner.run(x, shapes)])


@pytest.mark.parametrize("name", list(coverage_models.MODELS))
def test_an_external_style_model_builds_publishes_settles_a_job_and_audits_valid(
    chain_snapshot: Net, external: Path, tmp_path: Path, name: str
) -> None:
    net = chain_snapshot
    folder = external / name
    circuit = ngx.build_circuit(folder, net.settings)
    published = publish(net.settings, net.market, net.signer("deployer"), circuit)
    assert net.market.model(published.model_id).verifier == published.verifier

    worker = start_worker(net, tmp_path / "worker", "--model", name, "--max-jobs", "1")
    try:
        done = ngx_zk(
            net,
            tmp_path / "consumer",
            "prove-job",
            name,
            "--input",
            str(folder / "input.json"),
            "--account",
            "consumer",
            "--price",
            "10",
            "--json",
            "--timeout",
            "240",
            timeout=300,
        )
    finally:
        worker.wait(timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    job = json.loads(done.stdout)
    assert job["status"] == "Settled" and job["proof_valid"] is True

    expected = reference(folder)
    got = np.asarray(job["outputs"], dtype=np.float64)
    assert got.shape == expected.shape, (got, expected)
    span = max(1.0, float(np.ptp(expected)))
    assert np.max(np.abs(got - expected)) <= 0.02 * span, (got, expected)

    audit = ngx_zk(net, tmp_path / "auditor", "verify", "--job", str(job["job_id"]), "--model", name, "--json")
    assert audit.returncode == 0, audit.stderr[-2000:]
    assert json.loads(audit.stdout)["valid"] is True
