"""KZG-committed inputs (``--visibility polycommit/fixed/public``, issue 13 item 3).

The consumer commits to its input alone (``ezkl.kzg_commit`` with the circuit's vk and SRS) and
posts the point as two words; the proof starts with the same point, and the ``PolycommitBinding``
in front of the verifier checks the two agree before the verifier checks the proof. These tests
play it with real proofs: locally, then end to end on anvil through the CLI and the real worker,
and as the attacks a provider would try (another input's proof, a spliced proof)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ngx_zk as ngx
from ngx_zk import defaults
from ngx_zk.artifacts import Circuit, Visibility
from ngx_zk.chain.market import JobStatus
from ngx_zk.commitment import commit, kzg_key, proof_points
from ngx_zk.consumer import post_job
from ngx_zk.errors import CircuitError, ContractRevert, InvalidProofError, NgxZkError
from ngx_zk.evm import calldata
from ngx_zk.publish import publish

from .chain_fixtures import NGX, Net, ngx_zk, start_worker
from .paths import MODELS

NAME = "mlp_kzg"
INPUT = MODELS / "mlp" / "input.json"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> tuple[ngx.Settings, Circuit]:
    root = tmp_path_factory.mktemp("polycommit")
    settings = ngx.load_settings({"NGX_ZK_HOME": str(root / "home"), "NGX_ZK_CACHE_DIR": str(cache_dir)})
    return settings, ngx.build_circuit(
        MODELS / "mlp", settings, name=NAME, visibility=Visibility.parse("polycommit/fixed/public")
    )


def salted(circuit: Circuit, settings: ngx.Settings) -> tuple[tuple[int, ...], ngx.InputData]:
    commitment, data = commit(
        circuit.manifest, ngx.load_input(INPUT, circuit.manifest), new_salt=True, kzg=kzg_key(circuit, settings)
    )
    return commitment.values, data


# --- local: the circuit, the commitment, the proof ------------------------------------------------------
def test_a_polycommit_circuit_salts_1536_bits_and_posts_one_point_as_two_words(local: tuple[ngx.Settings, Circuit]) -> None:
    _, circuit = local
    m = circuit.manifest
    (spec,) = m.inputs
    assert m.polycommit and m.commitment_points == 1 and m.commitment_count == 2
    assert spec.salt_elements * spec.salt_bits == defaults.KZG_SALT_BITS_TARGET == 1536
    assert m.proof_instance_count == m.output_instance_count == 4, "no input hash among the proof's instances"
    assert json.loads((circuit.path / "manifest.json").read_text())["commitment_points"] == 1


def test_the_proof_starts_with_the_point_the_consumer_computed_alone(local: tuple[ngx.Settings, Circuit], tmp_path: Path) -> None:
    settings, circuit = local
    values, data = salted(circuit, settings)
    again, _ = salted(circuit, settings)
    assert values != again, "a fresh salt hides the same input behind another point"
    assert all(v < defaults.BN254_SCALAR_MODULUS for v in values), "the market takes field elements only"
    proof = ngx.prove(circuit, data, tmp_path / "proof.json", settings)
    raw, instances = calldata(proof.path, circuit.manifest.commitment_points)
    assert proof_points(raw, 1) == values and tuple(instances[:2]) == values == proof.commitments
    assert ngx.verify(proof.path, circuit, settings).outputs == proof.outputs
    expected = json.loads((MODELS / "mlp" / "expected_output.json").read_text())["output_data"][0]
    assert proof.outputs == pytest.approx(expected, abs=0.05)


def test_committing_needs_the_circuit_and_a_polycommit_model_needs_one_input_and_no_batch(
    local: tuple[ngx.Settings, Circuit],
) -> None:
    settings, circuit = local
    with pytest.raises(CircuitError, match="its folder and SRS are needed"):
        commit(circuit.manifest, ngx.load_input(INPUT, circuit.manifest))
    with pytest.raises(NgxZkError, match="one input tensor and --batch 1") as refused:
        ngx.build_circuit(
            MODELS / "mlp", settings, name="mlp_kzg_b2", visibility=Visibility.parse("polycommit/fixed/public"), batch=2
        )
    assert "hashed" in (refused.value.hint or "")
    with pytest.raises(InvalidProofError, match="too short"):
        proof_points(b"\x01" * 63, 1)


def test_the_worker_refuses_an_input_that_does_not_open_the_posted_point(
    local: tuple[ngx.Settings, Circuit], tmp_path: Path
) -> None:
    """A consumer that posts one point and hands over another input (or the same values under another
    salt) gets a refusal before any proof; the lifecycle then declines the job as input invalid."""
    from ngx_zk import crypto, srs
    from ngx_zk.worker.jobfiles import InputOpener, InputRejected, Served

    settings, circuit = local
    served = Served(circuit, None, srs.locate(settings, circuit.manifest.srs), tmp_path / "pk", 1 << 20)  # type: ignore[arg-type]
    key = crypto.derive_key(b"worker")
    opener = InputOpener(key, 31337, "0x" + "ab" * 20, {1: served}, tmp_path)
    posted, data = salted(circuit, settings)
    _, other = salted(circuit, settings)
    ctx = opener.context(7, 1, "deliver")

    def sealed(d: ngx.InputData) -> bytes:
        return crypto.seal(crypto.public_bytes(key), json.dumps({"input": d.to_json()}).encode(), ctx)

    assert opener.open(sealed(data), ctx, 1, posted)[0] == data
    with pytest.raises(InputRejected, match="input does not open the job's commitment"):
        opener.open(sealed(other), ctx, 1, posted)
    with pytest.raises(InputRejected, match="input does not open the job's commitment"):
        opener.open(sealed(data), ctx, 1, (posted[1], posted[0]))


def test_the_cli_commits_proves_and_verifies_a_polycommit_input(local: tuple[ngx.Settings, Circuit], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ngx_zk.cli import main

    settings, _ = local
    env = {"NGX_ZK_HOME": str(settings.home), "NGX_ZK_CACHE_DIR": str(settings.cache_dir)}
    run = CliRunner().invoke
    salted_file, proof_file = tmp_path / "salted.json", tmp_path / "proof.json"
    made = run(main, ["commit", str(INPUT), "--model", NAME, "--out", str(salted_file), "--json"], env=env)
    assert made.exit_code == 0, made.output
    words = [int(w, 16) for w in json.loads(made.output)["commitments"]]
    assert len(words) == 2
    proved = run(main, ["prove", "--model", NAME, "--input", str(salted_file), "--out", str(proof_file), "--json"], env=env)
    assert proved.exit_code == 0, proved.output
    raw, _ = calldata(proof_file, 1)
    assert list(proof_points(raw, 1)) == words, "the proof starts with the point `ngx-zk commit` printed"
    checked = run(main, ["verify", str(proof_file), "--model", NAME, "--json"], env=env)
    assert checked.exit_code == 0 and json.loads(checked.output)["valid"] is True, checked.output


# --- on chain ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def on_chain(net: Net) -> Circuit:
    """The polycommit mlp built in the session home (so the CLI and worker find it) and published by the deployer."""
    circuit = ngx.build_circuit(MODELS / "mlp", net.settings, name=NAME, visibility=Visibility.parse("polycommit/fixed/public"))
    return circuit


def publish_here(net: Net, circuit: Circuit) -> int:
    published = publish(net.settings, net.market, net.signer("deployer"), circuit, royalty_bps=100)
    return published.model_id


@pytest.mark.chain
def test_a_polycommit_job_settles_through_the_binding_and_the_auditor_passes_it(
    chain_snapshot: Net, on_chain: Circuit, tmp_path: Path
) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    model_id = publish_here(net, on_chain)
    entry = m.model(model_id)
    binding = m.binding_of(entry.verifier)
    assert binding is not None and binding[1] == 1, "the registry's verifier is a PolycommitBinding over one point"
    assert entry.input_commitment_count == 2 and entry.output_count == 4
    worker = start_worker(net, tmp_path / "worker", "--model", NAME, "--max-jobs", "1")
    try:
        done = ngx_zk(net, tmp_path / "consumer", "prove-job", NAME, "--input", str(INPUT), "--account", "consumer", "--json")
    finally:
        worker.wait(timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "Settled" and result["proof_valid"] is True
    job_id = int(result["job_id"])
    assert m.job(job_id).status is JobStatus.SETTLED
    posted = list(m.posted(job_id).event.input_commitments)
    proof, instances, _ = m.submitted_result(job_id)
    assert list(proof_points(proof, 1)) == posted == instances[:2], "settled with the proof that starts with the posted point"
    audit = ngx_zk(net, tmp_path / "auditor", "verify", "--job", str(job_id), "--model", NAME, "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    verdict = json.loads(audit.stdout)
    assert verdict["valid"] is True
    assert any("KZG input commitment" in c["name"] and c["ok"] for c in verdict["checks"]), verdict["checks"]


@pytest.mark.chain
def test_a_provider_cannot_settle_a_polycommit_job_with_a_proof_of_another_input(
    chain_snapshot: Net, on_chain: Circuit, tmp_path: Path
) -> None:
    """The job commits to the consumer's input; the provider proves the same values under another salt
    (any other input is the same to the binding) and tries every way to pass it off."""
    net, m = chain_snapshot, chain_snapshot.market
    publish_here(net, on_chain)
    data = ngx.load_input(INPUT, on_chain.manifest)
    record = post_job(
        net.settings,
        m,
        net.signer("consumer"),
        on_chain,
        data,
        price=10 * NGX,
        claim_window=300,
        prove_window=300,
        min_reputation=0,
    )
    provider = net.signer("provider")
    m.claim(provider, record.job_id)
    posted = tuple(int(c, 16) for c in record.commitments)
    _, other = salted(on_chain, net.settings)
    proof = ngx.prove(on_chain, other, tmp_path / "other.json", net.settings)
    raw, own = calldata(proof.path, 1)
    outputs = own[2:]
    spliced = bytes.fromhex("".join(f"{v:064x}" for v in posted)) + raw[64:]
    attempts = {
        "the job's point, the other proof": (raw, [*posted, *outputs], "JobMarket__InvalidProof"),
        "the other proof's own point": (raw, own, "JobMarket__CommitmentMismatch"),
        "the job's point spliced into the other proof": (spliced, [*posted, *outputs], "JobMarket__InvalidProof"),
        "x and y swapped": (raw, [posted[1], posted[0], *outputs], "JobMarket__CommitmentMismatch"),
    }
    escrow_before = m.job(record.job_id)
    for name, (proof_bytes, instances, revert) in attempts.items():
        with pytest.raises(ContractRevert) as refused:
            m.submit(provider, record.job_id, proof_bytes, instances)
        assert refused.value.name == revert, name
    job = m.job(record.job_id)
    assert job.status is JobStatus.CLAIMED and job == escrow_before, "nothing moved"
    salted_input = ngx.InputData(
        tuple(tuple(v) for v in record.salted_input["input_data"]), tuple(tuple(s) for s in record.salted_input["salt"])
    )
    honest = ngx.prove(on_chain, salted_input, tmp_path / "honest.json", net.settings)
    receipt = m.submit(provider, record.job_id, *calldata(honest.path, 1))
    assert receipt.ok and m.job(record.job_id).status is JobStatus.SETTLED, "the honest proof of the consumer's input settles"
