"""Batch jobs: one job, N inputs of one model, one proof; each input keeps its own salt and commitment."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnx
import pytest

import ngx_zk as ngx
from ngx_zk import disclosure, inputs
from ngx_zk.artifacts import Circuit, Visibility
from ngx_zk.chain import devnet
from ngx_zk.chain.types import JobSettled
from ngx_zk.circuit import batch_circuit
from ngx_zk.commitment import commit
from ngx_zk.consumer import load_record
from ngx_zk.errors import InputError, InvalidModelError
from ngx_zk.inference import OnnxRunner
from ngx_zk.onnx_model import batched, load_checked, resolve
from ngx_zk.publish import publish

from .chain_fixtures import Net, ngx_zk, start_worker
from .paths import MODELS

BATCH4 = MODELS / "mlp" / "batch4.jsonl"


def lines(path: Path) -> list[list[float]]:
    return [json.loads(line)["input_data"][0] for line in path.read_text().splitlines() if line.strip()]


def reference(values: list[float]) -> np.ndarray:
    """The float model's output for one input (onnxruntime on the user's ONNX)."""
    return np.asarray(OnnxRunner(MODELS / "mlp" / "network.onnx").run([values], [(1, len(values))])[0]).reshape(-1)


# --- the batch graph ------------------------------------------------------------------------------
def test_batched_graph_runs_the_model_once_per_input(tmp_path: Path) -> None:
    source = resolve(MODELS / "mlp")
    graph, batch_source = batched(load_checked(source.onnx_path), source, 3)
    onnx.save(graph, str(tmp_path / "b3.onnx"))
    assert [i.name for i in batch_source.inputs] == [f"{source.inputs[0].name}__{k}" for k in range(3)]
    assert len(batch_source.outputs) == 3 * len(source.outputs)

    rows = lines(MODELS / "mlp" / "batch16.jsonl")[:3]
    got = OnnxRunner(tmp_path / "b3.onnx").run(rows, [(1, len(r)) for r in rows])
    for k, row in enumerate(rows):  # inference k sees input k only: no mixing across the batch
        np.testing.assert_allclose(np.asarray(got[k]).reshape(-1), reference(row), rtol=1e-6)


@pytest.mark.parametrize("n", [0, 257])
def test_batch_size_out_of_range_is_refused(n: int) -> None:
    source = resolve(MODELS / "mlp")
    with pytest.raises(InvalidModelError, match="batch size"):
        batched(load_checked(source.onnx_path), source, n)


# --- batch input files ------------------------------------------------------------------------------
def test_batch_input_files_are_checked_line_by_line(tmp_path: Path, mlp_circuit: Circuit) -> None:
    manifest = mlp_circuit.manifest
    four = inputs.read_lines(BATCH4)
    assert len(four) == 4

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="holds no inputs"):
        inputs.read_lines(empty)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(BATCH4.read_text() + "{not json\n")
    with pytest.raises(InputError, match="line 5"):
        inputs.read_lines(broken)

    b4 = dataclasses.replace(manifest, batch=4, inputs=manifest.inputs * 4, outputs=manifest.outputs * 4)
    with pytest.raises(InputError, match="holds 3 inputs; circuit 'mlp' proves 4 per job"):
        inputs.parse_batch(four[:3], b4)
    bad = [*four[:3], {"input_data": [[1.0, 2.0]]}]
    with pytest.raises(InputError, match=r"input 4: input .* has 2 values, the model expects 8"):
        inputs.parse_batch(bad, b4)
    nan = [*four[:3], {"input_data": [[0.1] * 7 + [float("nan")]]}]
    with pytest.raises(InputError, match="input 4"):
        inputs.parse_batch(nan, b4)
    data = inputs.parse_batch(four, b4)
    assert len(data.values) == 4 and data.values[2] == tuple(lines(BATCH4)[2])
    assert [d.values for d in inputs.split_batch(data, b4)] == [(v,) for v in data.values]


# --- the batch circuit (``mlp_b4``, a session fixture of chain_fixtures) ------------------------
@pytest.mark.chain
def test_batch_circuit_commits_to_each_input_on_its_own(mlp_b4: Circuit) -> None:
    m = mlp_b4.manifest
    assert m.name == "mlp_b4" and m.batch == 4 and m.commitment_count == 4
    assert m.output_instance_count == 4 * m.single().output_instance_count
    data = inputs.parse_batch(inputs.read_lines(BATCH4), m)
    commitment, salted = commit(m, data, new_salt=True)
    assert len(set(salted.salt or ())) == 4, "each input draws its own salt"
    single = m.single()
    for k, part in enumerate(inputs.split_batch(salted, m)):  # inference k alone reproduces commitment k
        alone, _ = commit(single, part)
        assert alone.values == (commitment.values[k],)


@pytest.mark.chain
@pytest.mark.slow
def test_batch_job_settles_with_one_proof_of_every_input(chain_snapshot: Net, mlp_b4: Circuit, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    published = publish(net.settings, m, net.signer("deployer"), mlp_b4, royalty_bps=100)
    before, claimable = m.job_count(), m.claimable(devnet.dev_address("provider"))

    worker = start_worker(net, tmp_path / "worker", "--model", "mlp_b4", "--max-jobs", "1")
    try:
        done = ngx_zk(
            net,
            tmp_path / "consumer",
            "prove-job",
            "mlp",
            "--inputs",
            str(BATCH4),
            "--account",
            "consumer",
            "--price",
            "10",
            "--json",
            "--timeout",
            "150",
        )
    finally:
        assert worker.wait(timeout=150) == 0, worker.stderr.read() if worker.stderr else ""
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "Settled" and result["batch"] == 4 and m.job_count() == before + 1
    for out, row in zip(result["outputs"], lines(BATCH4), strict=True):  # one verified output per input
        np.testing.assert_allclose(out, reference(row), atol=2e-2)

    job_id = int(result["job_id"])
    assert m.job(job_id).model_id == published.model_id
    _, instances, _ = m.submitted_result(job_id)
    assert len(instances) == 4 + 4 * 4, "one proof: 4 commitments and 4 outputs of 4 values"
    settled = m.logs(JobSettled, m.deployment.block, job_id=job_id)
    assert len(settled) == 1
    assert m.claimable(devnet.dev_address("provider")) - claimable == settled[0].event.provider_pay

    audit = ngx_zk(net, tmp_path / "auditor", "verify", "--job", str(job_id), "--model", "mlp_b4", "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["valid"] is True
    assert len(json.loads(audit.stdout)["outputs"]) == 4

    # the consumer shows input 2 (and only input 2) to a third party, who checks it against the chain
    shown = tmp_path / "shown.json"
    made = ngx_zk(net, tmp_path / "consumer", "job", "disclose", str(job_id), "--inference", "2", "--out", str(shown))
    assert made.returncode == 0, made.stderr
    disclosed = json.loads(shown.read_text())
    assert disclosed["input_data"] == [lines(BATCH4)[1]] and len(disclosed["salt"]) == 1
    assert lines(BATCH4)[0] not in disclosed["input_data"]
    check = ngx_zk(net, tmp_path / "third", "verify", "--disclosure", str(shown), "--model", "mlp_b4", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    np.testing.assert_allclose(json.loads(check.stdout)["outputs"], result["outputs"][1])

    for field, value in (("input_data", [[0.5] * 8]), ("inference", 3), ("output_felts", disclosed["output_felts"][::-1])):
        forged = tmp_path / f"forged-{field}.json"
        forged.write_text(json.dumps({**disclosed, field: value}))
        bad = ngx_zk(net, tmp_path / "third", "verify", "--disclosure", str(forged), "--model", "mlp_b4", "--json")
        assert bad.returncode == 1 and json.loads(bad.stdout)["valid"] is False, (field, bad.stdout, bad.stderr)
    hostile = tmp_path / "hostile.json"
    hostile.write_text('{"kind": "ngx-zk/disclosure", "version": 1, ' + '"x": [' * 500 + "]" * 500 + "}")
    refused = ngx_zk(net, tmp_path / "third", "verify", "--disclosure", str(hostile), "--model", "mlp_b4")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr and "disclosure" in refused.stderr


@pytest.mark.chain
def test_a_batch_size_nobody_published_is_refused_before_any_escrow(chain_snapshot: Net, mlp_b4: Circuit, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    publish(net.settings, m, net.signer("deployer"), mlp_b4, royalty_bps=0)
    three = tmp_path / "three.jsonl"
    three.write_text("".join(BATCH4.read_text().splitlines(keepends=True)[:3]))
    before, balance = m.job_count(), m.balance(devnet.dev_address("consumer"))

    done = ngx_zk(net, tmp_path / "consumer", "prove-job", "mlp", "--inputs", str(three), "--account", "consumer")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "3 inputs given" in done.stderr and "1 (mlp), 4 (mlp_b4)" in done.stderr, done.stderr
    assert "ngx-zk model build MODEL --batch 3" in done.stderr
    one = ngx_zk(
        net, tmp_path / "consumer", "prove-job", "mlp_b4", "--input", str(MODELS / "mlp" / "input.json"), "--account", "consumer"
    )
    assert one.returncode != 0 and "--inputs FILE.jsonl" in one.stderr
    assert m.job_count() == before and m.balance(devnet.dev_address("consumer")) == balance
    with pytest.raises(InputError, match="no circuit of model 'mlp' proving 2 per job"):
        batch_circuit("mlp", 2, net.settings, published=set(m.deployment.models))


@pytest.mark.chain
@pytest.mark.slow
def test_private_batch_job_through_the_python_api(chain_snapshot: Net, tmp_path: Path) -> None:
    """Hashed outputs: only Poseidon hashes on chain; each output comes back sealed and is checked against them."""
    net, m = chain_snapshot, chain_snapshot.market
    circuit = ngx.build_circuit(
        MODELS / "mlp", net.settings, name="mlp_private_b2", batch=2, visibility=Visibility("hashed", "fixed", "hashed")
    )
    publish(net.settings, m, net.signer("deployer"), circuit, royalty_bps=0)
    rows = lines(BATCH4)[:2]

    worker = start_worker(
        net, tmp_path / "worker", "--model", "mlp_private_b2", "--max-jobs", "1", "--listen", f"127.0.0.1:{_endpoint(net)}"
    )
    try:
        settings = ngx.load_settings(
            {
                "NGX_ZK_HOME": str(net.home),
                "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
                "NGX_ZK_STATE_DIR": str(tmp_path / "consumer"),
                "NGX_ZK_RPC_URL": net.url,
            }
        )
        client = ngx.Client(settings=settings, account="consumer")
        result = client.run_batch("mlp_private_b2", [{"input_data": [r]} for r in rows], price="5", timeout_s=150)
    finally:
        assert worker.wait(timeout=150) == 0, worker.stderr.read() if worker.stderr else ""
    assert result.status.value == "Settled" and len(result.by_input) == 2
    for out, row in zip(result.by_input, rows, strict=True):
        np.testing.assert_allclose(out, reference(row), atol=2e-2)
    _, instances, _ = m.submitted_result(result.job_id)
    assert len(instances) == 2 + 2, "two input commitments and two output hashes: no output value on chain"

    # a private inference can be disclosed too: its output is checked against its proven hash
    record = load_record(settings, m.chain.chain_id, result.job_id)
    assert record is not None and len(record.output_felts) == 2 * 4
    d = disclosure.disclose(m, circuit, result.job_id, record.salted_input, 1, record.output_felts)
    verdict = disclosure.check(net.settings, m, circuit, disclosure.load(json.dumps(d.to_json()), circuit))
    assert verdict.valid, verdict.checks
    np.testing.assert_allclose(verdict.outputs, result.by_input[1])
    wrong = dataclasses.replace(d, output_felts=(d.output_felts[0] + 1, *d.output_felts[1:]))
    assert not disclosure.check(net.settings, m, circuit, wrong).valid


def _endpoint(net: Net) -> int:
    """Register the provider's data-plane endpoint (private outputs are fetched from it) on a free port."""
    from ngx_zk import crypto

    from .chain_fixtures import free_port

    port = free_port()
    signer = net.signer("provider")
    net.market.update_provider(
        signer, crypto.public_bytes(crypto.derive_key(signer.encryption_key_material())), f"http://127.0.0.1:{port}"
    )
    return port
