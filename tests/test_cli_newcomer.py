"""The rough edges a new user hit on a real chain, each reproduced with the user's command: a clear
one-line message and a meaningful exit status, never a traceback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account

import ngx_zk as ngx
from ngx_zk.artifacts import Circuit
from ngx_zk.chain import deployment, devnet
from ngx_zk.cli import main

from .chain_fixtures import Net, ngx_zk
from .paths import MODELS
from .test_registry_room import unbound_copy

pytestmark = pytest.mark.chain

Account.enable_unaudited_hdwallet_features()
PROVIDER2_KEY = "0x" + Account.from_mnemonic(devnet.DEV_MNEMONIC, account_path="m/44'/60'/0'/0/3").key.hex().removeprefix("0x")
"""The devnet's provider2 key (anvil's public mnemonic): known to everyone, guards nothing."""


def one_line_error(code: int, out: str, *words: str) -> None:
    lines = [line for line in out.strip().splitlines() if not line.startswith("warning: ")]
    assert code == 1, out
    assert "Traceback" not in out and len(lines) == 1, out
    for word in words:
        assert word in lines[0], out


@pytest.fixture
def fresh_devnet(env: Path, mlp_circuit: Circuit, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A home whose deployments file names contracts from an earlier chain, and the built mlp circuit."""
    monkeypatch.setenv("NGX_ZK_CIRCUITS_DIR", str(mlp_circuit.path.parent))
    monkeypatch.delenv("NGX_ZK_RPC_URL", raising=False)
    stale = deployment.Deployment(
        31337,
        {
            name: "0x" + f"{i + 1:040x}"
            for i, name in enumerate(("NGXToken", "ProviderStaking", "ModelRegistry", "JobMarket", "ReputationScore"))
        },
        1,
        devnet.dev_address("deployer"),
        True,
    )
    deployment.save(ngx.load_settings(), stale)
    try:
        yield env
    finally:
        devnet.down(ngx.load_settings())


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


WITHOUT_CONTRACTS = [
    ("provider", "register", "--account", "provider"),
    ("provider", "status", "--account", "provider"),
    ("jobs",),
    ("prove-job", "mlp", "--input", str(MODELS / "mlp" / "input.json"), "--account", "consumer"),
    ("model", "publish", "mlp", "--account", "deployer"),
    ("verify", "--job", "1", "--model", "mlp"),
]


def test_a_fresh_devnet_says_the_deployment_is_gone_and_every_command_says_deploy(fresh_devnet: Path) -> None:
    recorded = fresh_devnet / "deployments" / "31337.json"
    code, out = cli("devnet", "up", "--fresh", "--port", "0")
    assert code == 0, out
    assert "the old deployment is gone" in out and "ngx-zk deploy" in out
    assert not recorded.exists() and (fresh_devnet / "deployments" / "31337.json.old").is_file()

    for args in WITHOUT_CONTRACTS:
        code, out = cli(*args)
        one_line_error(code, out, "no contracts deployed on chain 31337", "ngx-zk deploy")

    # the addresses recorded by an earlier chain hold no code on this one: named, not a web3 traceback
    shutil.copy(recorded.with_name("31337.json.old"), recorded)
    for args in WITHOUT_CONTRACTS:
        code, out = cli(*args)
        one_line_error(code, out, "no contracts at 0x", "on chain 31337", "ngx-zk deploy")


def test_devnet_up_refuses_a_port_or_fresh_it_cannot_honour(fresh_devnet: Path) -> None:
    code, out = cli("devnet", "up", "--port", "0", "--json")
    assert code == 0, out
    url = json.loads(out)["url"]
    code, out = cli("devnet", "up", "--port", "1")
    one_line_error(code, out, f"a devnet already runs at {url}, not on port 1", "ngx-zk devnet down")
    code, out = cli("devnet", "up", "--fresh")
    one_line_error(code, out, "--fresh needs it stopped first")
    code, out = cli("devnet", "up")
    assert code == 0 and f"devnet already running at {url}" in out


def test_publish_signs_with_the_configured_key_and_says_how_to_get_one(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    state = tmp_path / "state"
    done = ngx_zk(net, state, "model", "publish", "mlp")
    one_line_error(done.returncode, done.stderr, "no signing key given", "--account ROLE", "NGX_ZK_PRIVATE_KEY")

    recorded = deployment.path_for(net.settings, net.market.chain.chain_id)
    before = recorded.read_text()
    unrecorded = json.loads(before)
    del unrecorded["models"]["mlp"]  # else publishing finds the deployer's recorded entry and signs nothing
    recorded.write_text(json.dumps(unrecorded))
    try:  # the chain snapshot is reverted after the test; the record of this model must go with it
        own = unbound_copy(net.circuit, tmp_path / "circuits" / "mlp")  # provider2's own build: the session's binds the deployer
        circuits = str(own.path.parent)
        done = ngx_zk(
            net, state, "model", "publish", "mlp", "--json", NGX_ZK_PRIVATE_KEY=PROVIDER2_KEY, NGX_ZK_CIRCUITS_DIR=circuits
        )
    finally:
        recorded.write_text(before)
    assert done.returncode == 0, done.stderr
    published = json.loads(done.stdout)
    assert not published["already_published"] and published["others"], done.stdout
    assert net.market.model(published["model_id"]).owner == devnet.dev_address("provider2"), "signed with NGX_ZK_PRIVATE_KEY"


def test_an_unregistered_provider_gets_the_hint_not_a_raw_revert(chain_snapshot: Net, tmp_path: Path) -> None:
    done = ngx_zk(chain_snapshot, tmp_path, "provider", "stake", "10", "--account", "consumer2")
    one_line_error(done.returncode, done.stderr, "ProviderStaking__NotRegistered", "ngx-zk provider register")

    done = ngx_zk(chain_snapshot, tmp_path, "worker", "--model", "mlp", "--account", "consumer2", "--burst")
    one_line_error(done.returncode, done.stderr, "is not a registered provider", "ngx-zk provider register")


def test_prices_print_as_exact_ngx(chain_snapshot: Net, tmp_path: Path) -> None:
    done = ngx_zk(
        chain_snapshot,
        tmp_path,
        "prove-job",
        "mlp",
        "--input",
        str(MODELS / "mlp" / "input.json"),
        "--account",
        "consumer",
        "--price",
        "1e8",
    )
    one_line_error(done.returncode, done.stderr, "holds 100000 NGX, the job costs 100000000 NGX")
    assert "e+" not in done.stderr


def test_verify_job_says_pending_with_its_own_exit_status(chain_snapshot: Net, tmp_path: Path) -> None:
    posted = ngx_zk(
        chain_snapshot,
        tmp_path,
        "prove-job",
        "mlp",
        "--input",
        str(MODELS / "mlp" / "input.json"),
        "--account",
        "consumer",
        "--no-wait",
        "--json",
    )
    assert posted.returncode == 0, posted.stderr
    job_id = json.loads(posted.stdout)["job_id"]

    done = ngx_zk(chain_snapshot, tmp_path, "verify", "--job", str(job_id), "--model", "mlp")
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"job {job_id}: PENDING (Open, not settled yet)" in done.stdout and "INVALID" not in done.stdout
    done = ngx_zk(chain_snapshot, tmp_path, "verify", "--job", str(job_id), "--model", "mlp", "--json")
    assert done.returncode == 3 and json.loads(done.stdout)["pending"] is True

    done = ngx_zk(chain_snapshot, tmp_path, "verify", "--job", str(job_id + 100), "--model", "mlp")
    one_line_error(done.returncode, done.stderr, f"no job {job_id + 100} on chain 31337")


def test_worker_json_prints_a_summary_at_exit(chain_snapshot: Net, tmp_path: Path) -> None:
    done = ngx_zk(
        chain_snapshot,
        tmp_path,
        "worker",
        "--model",
        "mlp",
        "--account",
        "provider",
        "--burst",
        "--json",
        "--log-file",
        str(tmp_path / "worker.log"),
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["provider"] == devnet.dev_address("provider") and summary["stopped"] == "done"
    assert {"claimed", "completed", "declined", "lost"} <= set(summary)
