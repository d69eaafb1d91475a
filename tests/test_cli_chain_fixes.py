"""Issue 27 on a real chain: no hangs (a job without a worker ends at its deadline, anyone can expire a
lost job, Ctrl-C says how to resume), nothing destructive without a word (redeploy, rebuilding a
published circuit, a bundle URI that cannot change), messages that tell the truth (unstake, register
twice), and the money a provider sees is the money that arrives."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ngx_zk.chain import deployment, devnet

from .chain_fixtures import NGX, Net, ngx_zk, run_job
from .paths import MODELS

pytestmark = pytest.mark.chain

INPUT = str(MODELS / "mlp" / "input.json")


def one_line(done: subprocess.CompletedProcess[str], *words: str, status: int = 1) -> None:
    lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("warning: ")]
    assert done.returncode == status, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and lines and lines[-1].startswith("Error: "), done.stderr
    for word in words:
        assert word in lines[-1], done.stderr


def post(net: Net, state: Path, *extra: str) -> int:
    done = ngx_zk(net, state, "prove-job", "mlp", "--input", INPUT, "--account", "consumer", "--no-wait", "--json", *extra)
    assert done.returncode == 0, done.stderr
    return int(json.loads(done.stdout)["job_id"])


def start_prove_job(net: Net, state: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ngx_zk", "prove-job", "mlp", "--input", INPUT, "--account", "consumer", *extra],
        env=net.env(state),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_posted(net: Net, count: int, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 120
    while net.market.job_count() == count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the job was never posted"
        time.sleep(0.1)
    return net.market.job_count()


def test_prove_job_without_a_worker_ends_at_the_claim_deadline(chain_snapshot: Net, tmp_path: Path) -> None:
    """The devnet mines no block while nobody sends a transaction, so its time stood still and prove-job
    waited forever. Now it notices the deadline from the clock, mines a block, expires the job, and ends."""
    net = chain_snapshot
    proc = start_prove_job(net, tmp_path, "--claim-window", "60", "--json")
    try:
        job_id = wait_posted(net, net.market.job_count(), proc)
        net.travel(55)  # the chain's clock 5 s short of the deadline; no block comes after this one
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1, err
    result = json.loads(out)
    assert result["job_id"] == job_id and result["status"] == "Expired" and result["refund"] == 10 * NGX


def test_anyone_can_expire_a_lost_job_once_it_is_due(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    job_id = post(net, tmp_path / "consumer", "--claim-window", "60")
    early = ngx_zk(net, tmp_path / "other", "job", "expire", str(job_id), "--account", "consumer2")
    one_line(early, f"job {job_id} is Open and its claim deadline is", f"ngx-zk job expire {job_id}")

    shown = ngx_zk(net, tmp_path / "other", "job", "show", str(job_id), "--json")
    assert json.loads(shown.stdout)["overdue"] is False
    net.travel(61)
    shown = ngx_zk(net, tmp_path / "other", "job", "show", str(job_id))
    assert f"anyone may expire it: ngx-zk job expire {job_id}" in shown.stdout

    before = net.market.claimable(devnet.dev_address("consumer"))
    done = ngx_zk(net, tmp_path / "other", "job", "expire", str(job_id), "--account", "consumer2", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) | {"tx": None} == {"job_id": job_id, "status": "Expired", "reopened": False, "tx": None}
    assert net.market.claimable(devnet.dev_address("consumer")) - before == 10 * NGX, "the consumer got the refund"

    again = ngx_zk(net, tmp_path / "other", "job", "expire", str(job_id), "--account", "consumer2", "--json")
    one_line(again, f"job {job_id} is already Expired")
    assert json.loads(again.stdout)["code"] == "chain"


def test_ctrl_c_after_posting_names_the_job_and_how_to_resume(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    proc = start_prove_job(net, tmp_path, "--json")
    try:
        job_id = wait_posted(net, net.market.job_count(), proc)
        time.sleep(0.5)  # into the wait for a provider
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert f"ngx-zk job wait {job_id}" in err.strip().splitlines()[-1]
    error = json.loads(out)
    assert error["code"] == "interrupted" and error["job_id"] == job_id and f"job wait {job_id}" in error["hint"]


def test_a_second_deploy_over_a_live_deployment_needs_force(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    recorded = deployment.path_for(net.settings, net.market.chain.chain_id)
    before = recorded.read_text()
    done = ngx_zk(net, tmp_path, "deploy", "--json")
    one_line(done, "already has a live deployment", "1 published model(s)", "--force")
    assert json.loads(done.stdout)["code"] == "deployment" and recorded.read_text() == before
    assert not list(recorded.parent.glob("*.replaced-*"))

    done = ngx_zk(net, tmp_path, "deploy", "--force", "--json", timeout=300)
    try:
        assert done.returncode == 0, done.stderr
        kept = Path(json.loads(done.stdout)["replaced"])
        assert kept.read_text() == before and recorded.read_text() != before
    finally:  # the snapshot reverts the chain and the record; the backup is this test's
        for extra in recorded.parent.glob("*.replaced-*"):
            extra.unlink()


def test_rebuilding_a_published_circuit_needs_force(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    done = ngx_zk(net, tmp_path, "model", "build", str(MODELS / "mlp"), "--json")
    one_line(done, "circuit 'mlp' is published (model", "--force")
    assert json.loads(done.stdout)["code"] == "circuit"
    assert not list(net.settings.circuits_dir.glob(".*")), "nothing started, nothing kept"


def test_force_keeps_the_published_circuit_it_replaces(chain_snapshot: Net, tmp_path: Path) -> None:
    from ngx_zk.cli._guards import guard_published_circuit

    kept = guard_published_circuit(chain_snapshot.settings, "mlp", force=True)
    try:
        assert (
            kept is not None
            and (kept / "manifest.json").read_bytes() == (chain_snapshot.circuit.path / "manifest.json").read_bytes()
        )
    finally:
        if kept is not None:
            shutil.rmtree(kept)


def test_a_bundle_uri_for_a_published_model_is_an_error_not_ignored(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    done = ngx_zk(net, tmp_path, "model", "publish", "mlp", "--account", "deployer", "--bundle-uri", "https://example.org/m.tgz")
    one_line(done, "is already published with bundle URI", "not 'https://example.org/m.tgz'")


def test_unstake_and_register_say_what_is_true(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    done = ngx_zk(net, tmp_path, "provider", "unstake", "9000", "--account", "provider")
    one_line(done, "cannot unstake 9000 NGX", "stakes 5000 NGX")
    assert "collateral" not in done.stderr, "nothing is locked: collateral is not the reason"

    done = ngx_zk(net, tmp_path, "provider", "register", "--account", "provider")
    one_line(done, "is already registered as a provider with this key and endpoint (none)")
    done = ngx_zk(net, tmp_path, "provider", "register", "--account", "provider", "--endpoint", "http://127.0.0.1:7070", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["updated"] is True
    assert net.market.provider(devnet.dev_address("provider")).endpoint_uri == "http://127.0.0.1:7070"


def test_status_and_withdraw_show_the_money_that_arrives(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    provider = devnet.dev_address("provider")
    job_id = int(run_job(net, tmp_path)["job_id"])  # type: ignore[call-overload]
    rewards = m.rewards_owed(provider)
    assert rewards > 0, "a settled job on an allow-listed verifier earns NGX rewards"

    status = json.loads(ngx_zk(net, tmp_path, "provider", "status", provider, "--json").stdout)
    assert status["rewards"] == rewards and status["to_withdraw"] == status["claimable"] + rewards
    text = ngx_zk(net, tmp_path, "provider", "status", provider).stdout
    assert "to withdraw" in text and "rewards" in text

    wallet = m.balance(provider)
    done = ngx_zk(net, tmp_path, "withdraw", "--account", "provider", "--json")
    assert done.returncode == 0, done.stderr
    paid = json.loads(done.stdout)
    assert paid["amount"] == status["to_withdraw"] == m.balance(provider) - wallet
    assert paid["rewards"] == rewards and paid["credited"] == status["claimable"]

    # `job wait` on a job that settled long ago does not call the time since posting its settle time
    done = ngx_zk(net, tmp_path / "consumer", "job", "wait", str(job_id), "--account", "consumer")
    assert done.returncode == 0 and f"job {job_id} had settled before this wait" in done.stdout, done.stderr
    assert "settled in" not in done.stdout


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "keystore not found"),  # it said the keystore "needs a password"
        ('{"address": "00", "crypto": {}}', "cannot open keystore"),  # it raised KeyError: 'version'
        ("[1, 2]", "cannot open keystore"),
    ],
    ids=["missing", "no-version", "not-an-object"],
)
def test_a_missing_or_malformed_keystore_is_one_line(
    chain_snapshot: Net, tmp_path: Path, content: str | None, words: str
) -> None:
    keystore = tmp_path / "key.json"
    if content is not None:
        keystore.write_text(content)
    done = ngx_zk(
        chain_snapshot, tmp_path, "provider", "status", "--keystore", str(keystore), "--json", NGX_ZK_KEYSTORE_PASSWORD="pw"
    )
    one_line(done, words)
    assert json.loads(done.stdout)["code"] == "signer"


def test_verify_job_finds_its_circuit_and_refuses_another_models(chain_snapshot: Net, tmp_path: Path) -> None:
    """A new user had to guess --model; and a --model recorded as another model called a valid job INVALID."""
    net = chain_snapshot
    job_id = post(net, tmp_path / "consumer")
    done = ngx_zk(net, tmp_path, "verify", "--job", str(job_id), "--json")
    assert done.returncode == 3 and json.loads(done.stdout)["pending"] is True, done.stderr  # found mlp, job still open

    recorded = deployment.path_for(net.settings, net.market.chain.chain_id)
    data = json.loads(recorded.read_text())
    data["models"]["mlp"]["model_id"] = 999  # as if mlp here were another registry model (the snapshot restores the file)
    recorded.write_text(json.dumps(data))
    done = ngx_zk(net, tmp_path, "verify", "--job", str(job_id), "--model", "mlp")
    one_line(done, f"job {job_id} is for registry model {net.model_id}; circuit 'mlp' is model 999", "ngx-zk model pull")
    done = ngx_zk(net, tmp_path, "verify", "--job", str(job_id), "--json")
    one_line(done, "no local circuit is recorded as that model", f"ngx-zk model pull {net.model_id}")
    assert json.loads(done.stdout)["code"] == "chain"
