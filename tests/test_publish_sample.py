"""``model publish`` proves a real input for its settlement dry run, bounded in time.

It used to prove an all-zero input: EZKL's witness fails on zeros for a LayerNorm (variance 0), so
such a model could not be published at all, and an RNN's proof of zeros hung publish for good."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ngx_zk as ngx
from ngx_zk.artifacts import Circuit
from ngx_zk.errors import InputError, ProvingError
from ngx_zk.publish import circuit_sample, publish, sample_input

from . import onnx_factory
from .chain_fixtures import Net, ngx_zk

pytestmark = [pytest.mark.chain, pytest.mark.slow]


@pytest.fixture(scope="session")
def layernorm(net: Net, tmp_path_factory: pytest.TempPathFactory) -> Circuit:
    folder = tmp_path_factory.mktemp("layernorm")
    onnx_factory.layernorm(folder / "network.onnx")
    values = np.random.default_rng(0).uniform(-1, 1, 8).tolist()
    (folder / "input.json").write_text(json.dumps({"input_data": [values]}))
    return ngx.build_circuit(folder, net.settings, name="layernorm")


def test_the_build_keeps_the_input_it_calibrated_on_and_publish_proves_it(chain_snapshot: Net, layernorm: Circuit) -> None:
    net = chain_snapshot
    sample, what = circuit_sample(layernorm)
    assert "sample.json" in what and sample.values != sample_input(layernorm.manifest).values
    steps: list[str] = []

    published = publish(net.settings, net.market, net.signer("deployer"), layernorm, progress=steps.append)

    assert not published.already_published and net.market.model(published.model_id).verifier == published.verifier
    assert any("the build's sample input" in step for step in steps)


def test_a_sample_the_circuit_cannot_evaluate_is_refused_with_the_cause_and_nothing_sent(
    chain_snapshot: Net, layernorm: Circuit
) -> None:
    net = chain_snapshot
    models = net.market.model_count()
    with pytest.raises(InputError, match="cannot evaluate") as refused:
        publish(net.settings, net.market, net.signer("deployer"), layernorm, sample=sample_input(layernorm.manifest))
    assert "sample input" in refused.value.message
    assert net.market.model_count() == models


def test_a_sample_proof_that_runs_too_long_is_stopped_and_nothing_is_published(chain_snapshot: Net, layernorm: Circuit) -> None:
    net = chain_snapshot
    models = net.market.model_count()
    with pytest.raises(ProvingError, match=r"did not finish within 0\.01s"):  # no process starts, let alone proves, that fast
        publish(net.settings, net.market, net.signer("deployer"), layernorm, prove_timeout_s=0.01)
    assert net.market.model_count() == models


def test_publish_takes_a_sample_file_and_refuses_one_of_the_wrong_shape_before_any_chain_work(
    chain_snapshot: Net, layernorm: Circuit, tmp_path: Path
) -> None:
    net = chain_snapshot
    models = net.market.model_count()
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"input_data": [[0.5, 0.25]]}))
    done = ngx_zk(net, tmp_path, "model", "publish", "layernorm", "--account", "deployer", "--sample", str(wrong), "--json")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "8" in done.stderr and net.market.model_count() == models
