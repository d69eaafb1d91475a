"""Private weights, licensed to providers (``model build --weights hashed``, issue 26 item 1).

The weights are private witnesses pinned by one Poseidon hash among the proof's instances (after the input
commitment, before the outputs). The public bundle holds manifest, settings and vk only; the chain's
``ParamsBinding`` puts the pinned hash back into the instances, so a proof made with other weights cannot
settle. The owner seals the weight files to one provider's registered X25519 key (``model license``); the
provider's install checks them against the manifest. Played with real builds, proofs and anvil: consumers and
auditors verify without the weights, a provider without a licence does not serve, wrong weights are refused
before proving and on chain."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import ngx_zk as ngx
from ngx_zk import _ezkl, crypto, keys, srs
from ngx_zk.artifacts import COMPILED, PRIVATE_FILES, Circuit, Visibility
from ngx_zk.auditor import audit_job
from ngx_zk.bundle import make_bundle
from ngx_zk.chain import deployment
from ngx_zk.chain.market import JobStatus
from ngx_zk.consumer import post_job
from ngx_zk.errors import ArtifactMismatchError, ContractRevert, NgxZkError
from ngx_zk.evm import calldata
from ngx_zk.inputs import write_witness_input
from ngx_zk.licensing import Licence, LicenceError, grant, install, write
from ngx_zk.provenance import check_verifier
from ngx_zk.publish import publish
from ngx_zk.pull import pull_model
from ngx_zk.worker.worker import Worker

from .chain_fixtures import NGX, Net
from .paths import MODELS

NAME = "mlp_hw"
INPUT = MODELS / "mlp" / "input.json"


@pytest.fixture(scope="module")
def owner(tmp_path_factory: pytest.TempPathFactory, net: Net) -> tuple[ngx.Settings, Circuit, int]:
    """The owner's home: mlp built with hashed weights (no tuning: ~20 s) and published, before any snapshot."""
    root = tmp_path_factory.mktemp("owner")
    settings = dataclasses.replace(net.settings, home=root, circuits_dir=root / "circuits")
    circuit = ngx.build_circuit(
        MODELS / "mlp", settings, name=NAME, visibility=Visibility("hashed", "hashed", "public"), tune=False
    )
    published = publish(settings, net.market, net.signer("deployer"), circuit, royalty_bps=100)
    return settings, Circuit.load(circuit.path), published.model_id


def home(tmp_path: Path, name: str, net: Net) -> ngx.Settings:
    return dataclasses.replace(net.settings, home=tmp_path / name, circuits_dir=tmp_path / name / "circuits")


def other_compiled(circuit: Circuit, out: Path) -> Path:
    """The owner's circuit compiled with other weights (every weight + 0.25): same settings, same keys."""
    graph = onnx.load(str(circuit.circuit_onnx))
    for init in graph.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype == np.float32:
            init.CopyFrom(numpy_helper.from_array(values + np.float32(0.25), init.name))
    onnx.save(graph, str(out.with_suffix(".onnx")))
    _ezkl.compile_circuit(NgxZkError, out.with_suffix(".onnx"), out, circuit.settings)
    return out


@pytest.mark.slow
def test_a_hashed_weights_build_pins_one_weight_hash_and_its_bundle_holds_no_weights(
    owner: tuple[ngx.Settings, Circuit, int], tmp_path: Path
) -> None:
    settings, circuit, _ = owner
    m = circuit.manifest
    assert m.hashed_weights and len(m.param_hashes) == 1
    assert m.instance_count == 1 + 4 and m.proof_instance_count == 1 + 1 + 4, "market: commitment + outputs; proof: + hash"
    info = make_bundle(circuit, tmp_path / "mlp_hw.tar.gz")
    with tarfile.open(info.path) as tar:
        assert sorted(tar.getnames()) == ["manifest.json", "settings.json", "vk.key"], "no compiled circuit, no ONNX"
    # the proving key and vk hold no weights: a circuit compiled with other weights proves on the same keys
    other = other_compiled(circuit, tmp_path / "other.compiled")
    srs_path = srs.locate(settings, m.srs)
    pk = keys.proving_key(settings, circuit, srs_path)
    data = ngx.commit(m, ngx.load_input(INPUT, m))[1]
    write_witness_input(tmp_path / "in.json", data.circuit_rows(m))
    _ezkl.gen_witness(NgxZkError, tmp_path / "in.json", other, tmp_path / "w.json", circuit.vk, srs_path)
    _ezkl.prove(tmp_path / "w.json", other, pk, tmp_path / "p.json", srs_path)
    assert _ezkl.verify(tmp_path / "p.json", circuit.settings, circuit.vk, srs_path), "same vk verifies other weights"
    full = json.loads((tmp_path / "p.json").read_text())["instances"][0]
    assert _ezkl.felt_to_int(str(full[1])) != m.param_hashes[0], "other weights carry another weight hash"


def test_private_weights_are_refused_at_build(env: Path) -> None:
    with pytest.raises(NgxZkError, match="nothing in a proof would pin the weights"):
        ngx.build_circuit(MODELS / "mlp", ngx.load_settings(), visibility=Visibility("hashed", "private", "public"))
    with pytest.raises(NgxZkError, match="not supported with --batch 4"):
        ngx.build_circuit(MODELS / "mlp", ngx.load_settings(), visibility=Visibility("hashed", "hashed", "public"), batch=4)


@pytest.mark.chain
@pytest.mark.slow
def test_consumer_and_auditor_verify_without_weights_and_only_a_licensed_provider_serves(
    owner: tuple[ngx.Settings, Circuit, int], chain_snapshot: Net, tmp_path: Path
) -> None:
    owner_settings, owner_circuit, model_id = owner
    net, m = chain_snapshot, chain_snapshot.market
    entry = m.model(model_id)
    found = m.params_binding_of(entry.verifier)
    assert found is not None and found[1:] == (1, owner_circuit.manifest.param_hashes), "the chain pins the weight hash"
    # a binding over the same verifier pinning another hash: every client's provenance check names it
    wrong = m.deploy_params_binding(net.signer("deployer"), found[0], 1, (found[2][0] ^ 1,), what="deploy a wrong binding")
    fake = dataclasses.replace(entry, verifier=wrong, verifier_code_hash=m.code_hash(wrong))
    problems = check_verifier(owner_settings, m, fake, owner_circuit).problems
    assert any("pins other weight hashes than the manifest's" in p for p in problems), problems
    assert check_verifier(owner_settings, m, entry, owner_circuit).ok
    bundle = make_bundle(owner_circuit, tmp_path / "public.tar.gz").path

    consumer_settings, provider_settings = home(tmp_path, "consumer", net), home(tmp_path, "provider", net)
    public = pull_model(consumer_settings, m, model_id, bundle=bundle)
    consumer_circuit = Circuit.load(Path(public.path))
    assert not consumer_circuit.has_weights and not any((consumer_circuit.path / f).exists() for f in PRIVATE_FILES)
    provider_circuit = Circuit.load(Path(pull_model(provider_settings, m, model_id, bundle=bundle, replace=True).path))

    provider = net.signer("provider")
    with pytest.raises(NgxZkError, match="holds no licence: nothing to serve"):
        Worker(provider_settings, m, provider, [provider_circuit])

    licence = write(grant(owner_settings, m, owner_circuit, model_id, provider.address), tmp_path / "p.licence.json")
    with pytest.raises(LicenceError, match="sealed to provider"):
        install(provider_settings, m, net.signer("provider2"), licence)
    provider_circuit = install(provider_settings, m, provider, licence)
    assert provider_circuit.has_weights
    provider_circuit.check()

    record = post_job(
        consumer_settings,
        m,
        net.signer("consumer"),
        consumer_circuit,
        ngx.load_input(INPUT, consumer_circuit.manifest),
        price=10 * NGX,
        claim_window=300,
        prove_window=300,
        min_reputation=0,
    )
    m.claim(provider, record.job_id)
    salted = ngx.InputData(
        tuple(tuple(v) for v in record.salted_input["input_data"]), tuple(tuple(s) for s in record.salted_input["salt"])
    )
    proof = ngx.prove(provider_circuit, salted, tmp_path / "proof.json", provider_settings)
    receipt = m.submit(provider, record.job_id, *calldata(proof.path, 0, provider_circuit.manifest.param_slice))
    assert receipt.ok and m.job(record.job_id).status is JobStatus.SETTLED

    verdict = audit_job(consumer_settings, m, consumer_circuit, record.job_id)
    assert verdict.valid, [c for c in verdict.checks if not c.ok]
    assert not consumer_circuit.has_weights, "the auditor verified with the public bundle alone"


@pytest.mark.chain
@pytest.mark.slow
def test_other_weights_are_refused_at_install_before_proving_and_on_chain(
    owner: tuple[ngx.Settings, Circuit, int], chain_snapshot: Net, tmp_path: Path
) -> None:
    owner_settings, owner_circuit, model_id = owner
    net, m = chain_snapshot, chain_snapshot.market
    provider = net.signer("provider")
    provider_settings = home(tmp_path, "provider", net)
    bundle = make_bundle(owner_circuit, tmp_path / "public.tar.gz").path
    target = Circuit.load(Path(pull_model(provider_settings, m, model_id, bundle=bundle).path))
    other = other_compiled(owner_circuit, tmp_path / "other.compiled")

    # a licence whose sealed files are other weights (a careless or hostile owner's copy): nothing installed
    staged = tmp_path / "staged"
    staged.mkdir()
    shutil.copy(owner_circuit.circuit_onnx, staged / "circuit.onnx")
    shutil.copy(other, staged / COMPILED)
    honest = grant(owner_settings, m, owner_circuit, model_id, provider.address)
    forged = dataclasses.replace(
        honest, sealed=crypto.seal(m.provider(provider.address).encryption_pub_key, _tar(staged), honest.context())
    )
    with pytest.raises(LicenceError, match="other weights, refused before any proof"):
        install(provider_settings, m, provider, write(forged, tmp_path / "forged.json"))
    assert not target.has_weights, "nothing installed"
    # an edited licence file does not open
    tampered = dataclasses.replace(honest, model_id=model_id + 1)
    with pytest.raises(LicenceError, match="does not open"):
        install(provider_settings, m, provider, write(tampered, tmp_path / "tampered.json"))

    # weights swapped in the folder after installing: the prover refuses before proving
    circuit = install(provider_settings, m, provider, write(honest, tmp_path / "honest.json"))
    shutil.copy(other, circuit.compiled)
    data = ngx.commit(circuit.manifest, ngx.load_input(INPUT, circuit.manifest))[1]
    with pytest.raises(ArtifactMismatchError, match="compiled circuit"):
        ngx.prove(circuit, data, tmp_path / "never.json", provider_settings)

    # on chain: a genuine proof made with other weights (EZKL directly, the same keys) does not settle
    record = post_job(
        net.settings,
        m,
        net.signer("consumer"),
        circuit,
        ngx.load_input(INPUT, circuit.manifest),
        price=10 * NGX,
        claim_window=300,
        prove_window=300,
        min_reputation=0,
    )
    m.claim(provider, record.job_id)
    salted = ngx.InputData(
        tuple(tuple(v) for v in record.salted_input["input_data"]), tuple(tuple(s) for s in record.salted_input["salt"])
    )
    srs_path = srs.locate(provider_settings, circuit.manifest.srs)
    shutil.copy(owner_circuit.compiled, circuit.compiled)
    pk = keys.proving_key(provider_settings, circuit, srs_path)
    write_witness_input(tmp_path / "in.json", salted.circuit_rows(circuit.manifest))
    _ezkl.gen_witness(NgxZkError, tmp_path / "in.json", other, tmp_path / "w.json", circuit.vk, srs_path)
    _ezkl.prove(tmp_path / "w.json", other, pk, tmp_path / "other-proof.json", srs_path)
    raw, instances = calldata(tmp_path / "other-proof.json", 0, circuit.manifest.param_slice)
    assert instances[0] == int(record.commitments[0], 16), "the proof commits to the job's input"
    before = m.job(record.job_id)
    with pytest.raises(ContractRevert) as refused:
        m.submit(provider, record.job_id, raw, instances)
    assert refused.value.name == "JobMarket__InvalidProof"
    assert m.job(record.job_id) == before, "nothing moved"
    proof = ngx.prove(circuit, salted, tmp_path / "proof.json", provider_settings)
    assert m.submit(provider, record.job_id, *calldata(proof.path, 0, circuit.manifest.param_slice)).ok
    assert m.job(record.job_id).status is JobStatus.SETTLED, "the licensed weights settle"


def test_the_cli_refuses_private_weights_and_a_licence_that_is_not_one(tmp_path: Path, env: Path) -> None:
    from click.testing import CliRunner

    from ngx_zk.cli import main

    result = CliRunner().invoke(main, ["model", "build", str(MODELS / "mlp"), "--weights", "private", "--no-tune"])
    assert result.exit_code != 0 and "nothing in a proof would pin the weights" in result.output
    assert "Traceback" not in result.output
    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"kind": "something else"}))
    with pytest.raises(LicenceError, match="is not an ngx-zk model licence"):
        Licence.read(bogus)


def _tar(folder: Path) -> bytes:
    import io

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in PRIVATE_FILES:
            tar.add(folder / name, arcname=name)
    return out.getvalue()


def test_the_weights_bench_reports_both_sides_and_the_ratio() -> None:
    from benchmarks.weights import markdown

    side = {"logrows": 15, "rows": 824, "fixed_constants": 213, "vk_bytes": 1000, "prove_wall_s": 2.0, "prove_cpu_s": 3.0}
    hashed = {**side, "rows": 9352, "fixed_constants": 4, "prove_wall_s": 3.0}
    text = "\n".join(
        markdown({"repeats": 5, "models": {"mlp": {"fixed": side, "hashed": hashed, "ratio_wall": 1.5, "ratio_cpu": 1.0}}})
    )
    assert (
        "| mlp | fixed | 15 | 824 | 213 |" in text and "| mlp | hashed | 15 | 9,352 | 4 |" in text and "| 1.50x | 1.00x |" in text
    )


@pytest.mark.chain
@pytest.mark.slow
def test_the_real_worker_serves_a_licensed_model_and_prove_job_verifies_without_weights(
    owner: tuple[ngx.Settings, Circuit, int], chain_snapshot: Net, tmp_path: Path
) -> None:
    """The CLI end to end in separate processes: a provider home with the licence, a consumer home with the public
    bundle only; `prove-job` settles and re-verifies, `verify --job` audits, neither ever holds the weights."""
    owner_settings, owner_circuit, model_id = owner
    net, m = chain_snapshot, chain_snapshot.market
    bundle = make_bundle(owner_circuit, tmp_path / "public.tar.gz").path
    homes = {role: home(tmp_path, role, net) for role in ("provider", "consumer")}
    for settings in homes.values():
        pull_model(settings, m, model_id, bundle=bundle)
    provider = net.signer("provider")
    install(homes["provider"], m, provider, grant(owner_settings, m, owner_circuit, model_id, provider.address))
    for settings in homes.values():  # the pull wrote each home's record of the chain; the dev accounts' keystores
        assert deployment.load(settings, m.chain.chain_id).models[NAME].model_id == model_id
        shutil.copytree(net.settings.devnet_dir, settings.devnet_dir)

    def env(role: str) -> dict[str, str]:
        return {**net.env(tmp_path / f"{role}-state"), "NGX_ZK_HOME": str(homes[role].home)}

    worker = subprocess.Popen(
        [sys.executable, "-m", "ngx_zk", "worker", "--model", NAME, "--account", "provider", "--poll", "0.2", "--max-jobs", "1"],
        env=env("provider"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ngx_zk", "prove-job", NAME, "--input", str(INPUT), "--account", "consumer", "--json"],
            env=env("consumer"),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        try:
            worker.wait(timeout=120)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "Settled" and result["proof_valid"] is True, result
    audit = subprocess.run(
        [sys.executable, "-m", "ngx_zk", "verify", "--job", str(result["job_id"]), "--model", NAME, "--json"],
        env=env("consumer"),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert audit.returncode == 0 and json.loads(audit.stdout)["valid"] is True, audit.stdout + audit.stderr
    consumer_folder = homes["consumer"].circuits_dir / NAME
    assert not any((consumer_folder / f).exists() for f in PRIVATE_FILES), "the consumer never held the weights"
