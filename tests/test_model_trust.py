"""Verifier provenance and models resolved by id, against a real anvil (issue "trust and incentives", attacks 1 and 2).

Registration is permissionless, so an attacker can register the real model's hashes with an
always-true verifier (attack 1) or with the real verifier and a royalty to itself (attack 2).
Clients must address a model by its id, re-render its verifier, and report copies, never pick one.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import ngx_zk as ngx
from ngx_zk.artifacts import Circuit
from ngx_zk.bundle import make_bundle
from ngx_zk.catalog import ModelResolutionError, resolve_model
from ngx_zk.chain import deployment, devnet
from ngx_zk.chain.market import Marketplace, ModelEntry
from ngx_zk.chain.types import JobSettled
from ngx_zk.cli import main
from ngx_zk.consumer import post_job
from ngx_zk.evm import compile_solidity
from ngx_zk.provenance import VerifierProvenanceError, check_verifier
from ngx_zk.publish import publish

from .chain_fixtures import NGX, Net, ngx_zk, start_worker
from .paths import MODELS

pytestmark = pytest.mark.chain

OWNER = devnet.dev_address("deployer")
ATTACKER = "consumer2"
ALWAYS_TRUE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
/// Answers "valid" (abi-encoded true) to any call: what a malicious model owner would register. It does not
/// answer `points()`: the registry checks a KZG binding's commitment count, and a cheat simply is not one.
contract AlwaysTrueVerifierFake {
    fallback(bytes calldata data) external returns (bytes memory) {
        require(data.length < 4 || bytes4(data[:4]) != bytes4(keccak256("points()")), "not a KZG binding");
        return abi.encode(true);
    }
}
"""


@pytest.fixture(scope="module")
def always_true(tmp_path_factory: pytest.TempPathFactory) -> Any:
    source = tmp_path_factory.mktemp("fake") / "AlwaysTrueVerifierFake.sol"
    source.write_text(ALWAYS_TRUE)
    return compile_solidity(source, "AlwaysTrueVerifierFake")


@pytest.fixture(scope="module")
def bundle_file(net: Net, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(net.circuit, tmp_path_factory.mktemp("bundle") / "mlp.tar.gz").path


def register_copy(net: Net, role: str, *, verifier: str | None = None, royalty_bps: int = 0, uri: str | None = None) -> int:
    """Register the real model's hashes again from ``role``'s account; returns the new id."""
    real = net.market.model(net.model_id)
    spec = {
        "onnx_hash": real.onnx_hash,
        "settings_hash": real.settings_hash,
        "vk_digest": real.vk_digest,
        "verifier": verifier or real.verifier,
        "kind": real.kind,
        "input_commitment_count": real.input_commitment_count,
        "output_count": real.output_count,
        "royalty_bps": royalty_bps,
        "insecure_test_srs": real.insecure_test_srs,
        "metadata_uri": uri or real.metadata_uri,
        "artifacts_hash": real.artifacts_hash,
    }
    model_id, _ = net.market.register_model(net.signer(role), spec)
    return model_id


def deploy_always_true(net: Net, contract: Any) -> str:
    factory = net.market.chain.w3.eth.contract(abi=contract.abi, bytecode=contract.bytecode)
    return str(
        net.market.chain.deploy_bytecode(factory.constructor(), net.signer(ATTACKER), what="deploy AlwaysTrueVerifierFake")
    )


@dataclasses.dataclass
class Stranger:
    """A user who never published: a fresh home with the chain's contracts but no recorded models."""

    home: Path
    settings: ngx.Settings
    market: Marketplace
    env: dict[str, str]

    def cli(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, list(args), env=self.env)
        return result.exit_code, result.stdout if result.exit_code == 0 else result.output

    def reloaded(self) -> Marketplace:
        """The marketplace as a new process sees it (the deployments file as a CLI command left it)."""
        return Marketplace(self.market.chain, deployment.load(self.settings, self.market.chain.chain_id))

    def recorded(self) -> dict[str, Any]:
        return dict(deployment.load(self.settings, self.market.chain.chain_id).models)


@pytest.fixture
def stranger(chain_snapshot: Net, tmp_path: Path) -> Iterator[Stranger]:
    net = chain_snapshot
    home = tmp_path / "stranger"
    env = {
        "NGX_ZK_HOME": str(home),
        "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
        "NGX_ZK_RPC_URL": net.url,
        "NGX_ZK_STATE_DIR": str(home / "state"),
    }
    settings = ngx.load_settings(env)
    deployment.save(settings, dataclasses.replace(net.market.deployment, models={}))
    yield Stranger(home, settings, Marketplace(net.market.chain, deployment.load(settings, net.market.chain.chain_id)), env)


def error_line(out: str) -> str:
    """The CLI's error: exactly one line (progress lines above it are fine), no traceback."""
    errors = [line for line in out.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in out, out
    return errors[0]


def nothing_installed(stranger: Stranger) -> bool:
    circuits = stranger.settings.circuits_dir
    return (not circuits.exists() or not any(circuits.iterdir())) and stranger.recorded() == {}


# --- attack 1: an always-true verifier registered for the real model's hashes ----------------------------
def test_an_always_true_verifier_settles_garbage_on_chain_so_clients_must_refuse_it(
    chain_snapshot: Net, always_true: Any
) -> None:
    """The attack is real at the contract level: registration accepts it and the market pays for any bytes."""
    net, m = chain_snapshot, chain_snapshot.market
    fake_id = register_copy(net, ATTACKER, verifier=deploy_always_true(net, always_true))
    entry = m.model(fake_id)
    assert entry.verifier_code_hash == always_true.code_hash != m.model(net.model_id).verifier_code_hash
    commitment = 12345
    job_id, _ = m.post_job(net.signer("consumer"), fake_id, [commitment], 10 * NGX, 300, 300, 0)
    m.claim(net.signer("provider"), job_id)
    m.submit(net.signer("provider"), job_id, b"\x00" * 32, [commitment] + [0] * entry.output_count)
    assert m.job(job_id).status.value == "Settled"
    check = check_verifier(net.settings, m, entry, net.circuit)
    assert not check.ok and check.expected == m.model(net.model_id).verifier_code_hash


def test_pull_and_prove_job_refuse_an_always_true_verifier_naming_the_code_hash(
    chain_snapshot: Net, stranger: Stranger, always_true: Any, bundle_file: Path, tmp_path: Path
) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    fake_id = register_copy(net, ATTACKER, verifier=deploy_always_true(net, always_true))
    fake_hash = "0x" + always_true.code_hash.hex()

    code, out = stranger.cli("model", "pull", str(fake_id), "--bundle", str(bundle_file))
    assert code == 1
    error = error_line(out)
    assert "verifier code hash mismatch" in error and fake_hash in error
    assert nothing_installed(stranger)

    # a consumer tricked into recording the attacker's id: prove-job refuses before posting anything
    tricked = dataclasses.replace(m.deployment, models={"mlp": {"model_id": fake_id}})
    jobs = m.job_count()
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    with pytest.raises(VerifierProvenanceError, match=fake_hash):
        post_job(
            stranger.settings,
            Marketplace(m.chain, tricked),
            net.signer("consumer"),
            net.circuit,
            data,
            price=10 * NGX,
            claim_window=300,
            prove_window=300,
            min_reputation=0,
        )
    assert m.job_count() == jobs, "nothing may be posted (or escrowed) for a model whose verifier does not re-render"

    # the honest consumer and worker resolve by the recorded id, whatever else the registry holds
    assert resolve_model(net.settings, m, net.circuit).model_id == net.model_id


def test_without_a_recorded_id_a_circuit_is_not_guessed_from_the_registry(
    chain_snapshot: Net, stranger: Stranger, tmp_path: Path
) -> None:
    net = chain_snapshot
    with pytest.raises(ModelResolutionError, match=r"no registry id recorded for model 'mlp'.*ngx-zk model pull ID"):
        resolve_model(stranger.settings, stranger.market, net.circuit)


@pytest.mark.parametrize(("action", "who"), [("pauseModel", "guardian"), ("deprecateModel", "deployer")])
def test_a_paused_or_deprecated_model_is_refused_for_new_jobs(action: str, who: str, chain_snapshot: Net) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    m.chain.send(getattr(m.registry.functions, action)(net.model_id), net.signer(who), what=action)
    with pytest.raises(
        ModelResolutionError, match=f"registry model {net.model_id} .* is (paused|deprecated): it takes no new jobs"
    ):
        resolve_model(net.settings, m, net.circuit)


# --- attack 2: a later copy with the real verifier and a royalty to the attacker ------------------------
def test_a_later_copy_is_ignored_by_resolution_and_reported_by_pull(
    chain_snapshot: Net, stranger: Stranger, bundle_file: Path
) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    copy_id = register_copy(net, ATTACKER, royalty_bps=2_000)
    assert check_verifier(net.settings, m, m.model(copy_id), net.circuit).ok, "the copy's verifier is the real one"

    assert resolve_model(net.settings, m, net.circuit).model_id == net.model_id

    code, out = stranger.cli("model", "pull", str(copy_id), "--bundle", str(bundle_file))
    assert code == 1
    error = error_line(out)
    assert f"registry model {copy_id} is an impostor" in error and f"binds publisher {OWNER}" in error
    assert f"ngx-zk model pull {net.model_id}" in error
    assert nothing_installed(stranger)

    code, out = stranger.cli("model", "pull", str(net.model_id), "--bundle", str(bundle_file), "--json")
    assert code == 0, out
    pulled = json.loads(out)
    assert pulled["model_id"] == net.model_id and pulled["owner"] == OWNER
    assert pulled["copies"] == [
        {
            "model_id": copy_id,
            "registrant": devnet.dev_address(ATTACKER),
            "royalty_bps": 2_000,
            "status": "Active",
            "relation": "impostor",
        }
    ]
    assert stranger.recorded()["mlp"].model_id == net.model_id
    installed = Circuit.load(stranger.settings.circuits_dir / "mlp")
    assert installed.manifest == net.circuit.manifest
    assert resolve_model(stranger.settings, stranger.reloaded(), installed).model_id == net.model_id


@pytest.mark.slow
def test_an_honest_job_settles_on_the_owners_id_and_pays_the_owners_royalty(
    chain_snapshot: Net, always_true: Any, tmp_path: Path
) -> None:
    """With both attacks registered, the consumer and the worker (separate processes) use the owner's id."""
    net, m = chain_snapshot, chain_snapshot.market
    register_copy(net, ATTACKER, verifier=deploy_always_true(net, always_true))
    register_copy(net, ATTACKER, royalty_bps=2_000)
    owner_before, attacker_before = m.claimable(OWNER), m.claimable(devnet.dev_address(ATTACKER))

    worker = start_worker(net, tmp_path / "worker", "--max-jobs", "1")
    try:
        done = ngx_zk(
            net,
            tmp_path / "consumer",
            "prove-job",
            "mlp",
            "--input",
            str(MODELS / "mlp" / "input.json"),
            "--account",
            "consumer",
            "--price",
            "10",
            "--json",
            "--timeout",
            "120",
        )
    finally:
        worker.wait(timeout=120)
    assert done.returncode == 0, done.stderr
    job_id = int(json.loads(done.stdout)["job_id"])
    assert m.job(job_id).model_id == net.model_id
    settled = m.logs(JobSettled, m.deployment.block, job_id=job_id)[0].event
    assert settled.royalty == 10 * NGX * 100 // 10_000
    assert m.claimable(OWNER) - owner_before == settled.royalty
    assert m.claimable(devnet.dev_address(ATTACKER)) == attacker_before


# --- bundles: hostile files, a manifest that is not the entry's (pulled by URI: tests/test_pull_trust.py) ----
@pytest.mark.parametrize("kind", ["traversal", "symlink"])
def test_pull_refuses_a_hostile_bundle_and_installs_nothing(
    kind: str, chain_snapshot: Net, stranger: Stranger, tmp_path: Path
) -> None:
    from .test_bundles import hostile

    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(hostile(kind, chain_snapshot.circuit))
    code, out = stranger.cli("model", "pull", str(chain_snapshot.model_id), "--bundle", str(evil))
    assert code == 1
    assert ("points outside the bundle" if kind == "traversal" else "is a symbolic link") in error_line(out)
    assert nothing_installed(stranger)
    assert not (stranger.settings.circuits_dir.parent / "escaped.txt").exists()


def test_pull_refuses_a_bundle_whose_manifest_is_not_the_entrys(chain_snapshot: Net, stranger: Stranger, tmp_path: Path) -> None:
    net = chain_snapshot
    altered = tmp_path / "altered" / "mlp"
    shutil.copytree(net.circuit.path, altered)
    manifest = json.loads((altered / "manifest.json").read_text())
    manifest["tuning"]["note"] = "every file still matches this manifest, but the manifest is not the registered one"
    (altered / "manifest.json").write_text(json.dumps(manifest))
    bundle = make_bundle(Circuit.load(altered), tmp_path / "altered.tar.gz").path
    with tarfile.open(bundle) as tar:
        assert "manifest.json" in tar.getnames()

    code, out = stranger.cli("model", "pull", str(net.model_id), "--bundle", str(bundle))
    assert code == 1
    error = error_line(out)
    assert "artifacts hash (sha256 of manifest.json)" in error and "nothing was installed" in error
    assert nothing_installed(stranger)


# --- publish ---------------------------------------------------------------------------------------------
def test_publish_pins_the_artifacts_and_verifier_and_allow_lists_it_on_the_devnet(chain_snapshot: Net) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    entry: ModelEntry = m.model(net.model_id)
    assert entry.artifacts_hash.hex() == ngx.artifacts.sha256_file(net.circuit.path / "manifest.json")
    assert check_verifier(net.settings, m, entry, net.circuit).ok
    assert m.verifier_code_allowed(entry.verifier_code_hash), "the devnet curator's publish allow-lists its verifier"
    again = publish(net.settings, m, net.signer("deployer"), net.circuit)
    assert again.already_published and again.model_id == net.model_id and again.verifier_allowed


def test_publish_with_an_allowance_warns_and_reports_copies(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    settings = ngx.load_settings(
        {
            "NGX_ZK_HOME": str(net.home),
            "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
            "NGX_ZK_CIRCUITS_DIR": str(tmp_path / "circuits"),
        }
    )
    ngx.build_circuit(MODELS / "mlp", settings, name="mlp_unsalted_pub", salt=False, tune=False)
    recorded = deployment.path_for(settings, net.market.chain.chain_id)
    before = recorded.read_text()
    try:  # the chain snapshot is reverted after the test; the record of this model must go with it
        done = ngx_zk(
            net,
            tmp_path / "state",
            "model",
            "publish",
            "mlp_unsalted_pub",
            "--allow-unsalted",
            "--json",
            "--account",
            "deployer",
            NGX_ZK_CIRCUITS_DIR=str(tmp_path / "circuits"),
        )
    finally:
        recorded.write_text(before)
    assert done.returncode == 0, done.stderr
    published = json.loads(done.stdout)
    assert published["warnings"] and "unsalted" in published["warnings"][0]
    assert "warning:" in done.stderr and "unsalted" in done.stderr, "the allowance must be loud even with --json"
    assert published["verifier_allowed"] is True and published["allow_listed_now"] is True
