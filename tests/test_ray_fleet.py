"""A provider's proving fleet: a real two-node Ray cluster on this machine (head plus one node, one
core each, started with `ray start` in a temp dir and torn down after) serving one worker."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk.artifacts import Circuit
from ngx_zk.chain.types import JobSettled
from ngx_zk.config import Secret
from ngx_zk.worker.ray_pool import FAULT_DELAY_ENV, node_settings

from .chain_fixtures import Net, free_port, ngx_zk, start_worker
from .conftest import MODELS

RAY = Path(sys.executable).with_name("ray")
pytest.importorskip("ray")


def test_settings_sent_to_nodes_carry_no_secret(settings: ngx.Settings) -> None:
    secret = replace(
        settings,
        private_key=Secret("0x" + "ab" * 32),
        keystore=Path("/k.json"),
        keystore_password=Secret("pw"),
        fault_crash_at="proved",
    )
    sent = node_settings(secret)
    assert sent.private_key is None and sent.keystore is None and sent.keystore_password is None
    assert sent.fault_crash_at is None, "the driver's fault injection is not the nodes'"
    assert "ab" * 32 not in repr(sent)


AUTO_WORKER = """
import json, sys
import ngx_zk as ngx
from ngx_zk.worker.ray_pool import RayProverPool
pool = RayProverPool("auto", [], ngx.load_settings())
try:
    pool.wait_ready()
    print(json.dumps({"started": pool._started_cluster, "nodes": pool.probe(["NGX_ZK_PRIVATE_KEY", "NGX_ZK_KEYSTORE_PASSWORD"])}))
finally:
    pool.close(wait=True)
"""


@pytest.mark.slow
def test_ray_auto_starts_a_local_cluster_without_the_workers_secrets_and_stops_it(tmp_path: Path) -> None:
    """A process of its own (as a worker is: Ray is joined once per process). With nothing running, `auto`
    starts a cluster, which must not inherit the worker's secrets, and stops it on close."""
    own = Path(tempfile.mkdtemp(prefix="ngxray", dir="/tmp"))  # Ray's session dir and the auth token it makes stay in here
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(
        RAY_TMPDIR=str(own),
        HOME=str(own),
        NGX_ZK_HOME=str(tmp_path),
        NGX_ZK_PRIVATE_KEY="0x" + "ef" * 32,
        NGX_ZK_KEYSTORE_PASSWORD="hunter2",
        RAY_USAGE_STATS_ENABLED="0",
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", AUTO_WORKER], env=env, capture_output=True, text=True, timeout=180, check=False
        )
        left = Cluster("", own, 0, own).processes()
    finally:
        kill_all(Cluster("", own, 0, own).processes())
        shutil.rmtree(own, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["started"], "no cluster was running: auto starts one"
    assert seen["nodes"] and all(n["env"] == [] for n in seen["nodes"]), "the cluster started by the worker inherited its secrets"
    assert left == [], "the cluster auto started outlived the pool"


# --- a two-node cluster ----------------------------------------------------------------------------
@dataclass
class Cluster:
    address: str
    tmp: Path
    node2_port: int
    slow_file: Path  # the second node proves slowly while this file exists (FAULT INJECTION)

    def processes(self) -> list[int]:
        """Every process of this cluster: those with its temp dir in their command lines, and their
        descendants (Ray's agents and workers rename themselves)."""
        found = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    if str(self.tmp).encode() in (proc / "cmdline").read_bytes():
                        found.append(int(proc.name))
        return list(dict.fromkeys(pid for top in found for pid in [top, *descendants(top)]))

    def node2(self) -> list[int]:
        """The second node's raylet and everything it started (its workers, agents)."""
        raylets = [
            p
            for p in self.processes()
            if f"--node_manager_port={self.node2_port}".encode() in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        return [pid for r in raylets for pid in [r, *descendants(r)]]


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    tmp = Path(tempfile.mkdtemp(prefix="ngxray", dir="/tmp"))  # short: Ray's unix socket paths have a length limit
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NGX_ZK_", "RAY_"))}
    # HOME: a token in the user's ~/.ray (which `ray.init()` writes) would turn on token auth for the head only
    env.update(
        RAY_health_check_period_ms="500", RAY_health_check_failure_threshold="4", RAY_USAGE_STATS_ENABLED="0", HOME=str(tmp)
    )
    port, node2_port = free_port(), free_port()
    common = ["--num-cpus", "1", "--object-store-memory", str(100 << 20), "--disable-usage-stats"]
    made = Cluster(f"127.0.0.1:{port}", tmp, node2_port, tmp / "slow")
    try:
        subprocess.run(
            [
                str(RAY),
                "start",
                "--head",
                "--port",
                str(port),
                "--temp-dir",
                str(tmp),
                "--include-dashboard",
                "false",
                "--dashboard-port",
                str(free_port()),
                *common,
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [str(RAY), "start", "--address", made.address, "--node-manager-port", str(node2_port), *common],
            env={**env, FAULT_DELAY_ENV: str(made.slow_file)},
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield made
    finally:
        kill_all(made.processes())
        shutil.rmtree(tmp, ignore_errors=True)


def journal_notes(worker_dir: Path) -> list[tuple[int, str, str]]:
    db = sqlite3.connect(next(worker_dir.glob("worker/*/journal.sqlite")))
    try:
        return list(db.execute("SELECT job_id, step, note FROM history ORDER BY rowid"))
    finally:
        db.close()


@pytest.mark.slow
def test_pool_proves_on_both_nodes_ships_artifacts_once_and_no_secret(
    cluster: Cluster,
    mlp_circuit: Circuit,
    mlp_salted: ngx.InputData,
    session_settings: ngx.Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ngx_zk.worker.observe import Metrics
    from ngx_zk.worker.ray_pool import RayProverPool

    key = "0x" + "cd" * 32
    monkeypatch.setenv("NGX_ZK_PRIVATE_KEY", key)
    settings = replace(session_settings, private_key=Secret(key), keystore_password=Secret("hunter2"))
    metrics = Metrics()
    pool = RayProverPool(cluster.address, [mlp_circuit], settings, metrics=metrics, node_cache=tmp_path / "nodes")
    try:
        pool.wait_ready()
        assert pool.slots == 2 and len(pool.nodes()) == 2
        assert pool.settings.private_key is None and pool.settings.keystore_password is None
        seen = pool.probe(["NGX_ZK_PRIVATE_KEY", "NGX_ZK_KEYSTORE_PASSWORD"])
        assert len(seen) == 2 and all(n["env"] == [] for n in seen), "a node's tasks see the worker's secrets"

        first = [pool.submit(mlp_circuit, mlp_salted, tmp_path / f"a{i}.json") for i in range(2)]
        runs = [f.result(timeout=180) for f in first]
        fetches = sum(v for (name, _), v in metrics.counters.items() if name == "ngx_worker_artifact_fetches_total")
        again = [pool.submit(mlp_circuit, mlp_salted, tmp_path / f"b{i}.json").result(timeout=180) for i in range(2)]
    finally:
        pool.close(wait=False)
    nodes = {r.node for r in runs + again}
    assert nodes == {n["node"] for n in seen}, "proofs ran on both nodes"
    for run in runs + again:
        assert run.path.is_file() and run.proof.path == run.path
        ngx.verify(run.path, mlp_circuit, session_settings)
    assert fetches == 2 * 6, "each node fetched the six artifacts (settings, compiled, vk, onnx, SRS, pk) once"
    after = sum(v for (name, _), v in metrics.counters.items() if name == "ngx_worker_artifact_fetches_total")
    assert after == fetches, "later proofs fetched nothing again"
    per_node = {dict(labels)["node"]: v for (name, labels), v in metrics.counters.items() if name == "ngx_worker_proofs_total"}
    assert sum(per_node.values()) == 4 and len(per_node) == 2


def provider_fleet(net: Net, worker_dir: Path) -> dict[str, Any]:
    """``provider status --json``'s fleet figures, as the provider sees them beside its worker's journal."""
    status = ngx_zk(net, worker_dir, "provider", "status", "--account", "provider", "--json")
    assert status.returncode == 0, status.stderr
    return dict(json.loads(status.stdout)["fleet"])


def post(net: Net, consumer_dir: Path, account: str) -> int:
    done = ngx_zk(
        net,
        consumer_dir,
        "prove-job",
        "mlp",
        "--input",
        str(MODELS / "mlp" / "input.json"),
        "--account",
        account,
        "--no-wait",
        "--json",
        "--price",
        "10",
    )
    assert done.returncode == 0, done.stderr
    return int(json.loads(done.stdout)["job_id"])


def waiter(net: Net, consumer_dir: Path, account: str, job_id: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ngx_zk", "job", "wait", str(job_id), "--account", account, "--json"],
        env=net.env(consumer_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def settle_two(net: Net, tmp_path: Path, cluster: Cluster, during: str = "") -> tuple[list[int], Path]:
    """Two consumers post a job each; one worker on the cluster proves both. ``during="kill-node2"``
    kills the second node's processes while a proof runs there."""
    worker_dir = tmp_path / "worker"
    worker = start_worker(net, worker_dir, "--ray", cluster.address, "--concurrency", "2", "--max-jobs", "2")
    waiters: list[subprocess.Popen[str]] = []
    try:
        jobs = [post(net, tmp_path / account, account) for account in ("consumer", "consumer2")]
        waiters = [
            waiter(net, tmp_path / account, account, job) for account, job in zip(("consumer", "consumer2"), jobs, strict=True)
        ]
        if during == "kill-node2":
            started = cluster.slow_file.with_name(cluster.slow_file.name + ".started")
            deadline = time.monotonic() + 120
            while not started.exists() and time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.1)
            assert started.exists(), "no proof started on the second node"
            kill_all(cluster.node2())
        assert worker.wait(timeout=240) == 0, worker.stderr.read() if worker.stderr else ""
        for w in waiters:
            out, err = w.communicate(timeout=120)
            assert w.returncode == 0, err
            assert json.loads(out)["status"] == "Settled"
    finally:
        for proc in [worker, *waiters]:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    m = net.market
    for job in jobs:
        assert len(m.logs(JobSettled, m.deployment.block, job_id=job)) == 1, f"job {job} settled exactly once"
    return jobs, worker_dir


@pytest.mark.slow
@pytest.mark.chain
def test_worker_on_a_two_node_cluster_settles_jobs_proved_on_both_nodes(
    chain_snapshot: Net, cluster: Cluster, tmp_path: Path
) -> None:
    _, worker_dir = settle_two(chain_snapshot, tmp_path, cluster)
    nodes = {note.removeprefix("proved on node ") for _, step, note in journal_notes(worker_dir) if step == "proved"}
    assert len(nodes) == 2, f"the journal says the proofs ran on {nodes}"
    log = (worker_dir / "worker.log").read_text()
    assert "fleet.joined" in log and '"nodes": 2' in log
    fleet = provider_fleet(chain_snapshot, worker_dir)
    assert fleet["nodes"] == 2 and fleet["queue"] == 0
    assert sorted(fleet["proofs_per_node"].values()) == [1, 1] and fleet["node_failures"] == {}


@pytest.mark.slow
@pytest.mark.chain
def test_worker_killed_while_proving_on_the_cluster_rejoins_and_settles_once(
    chain_snapshot: Net, cluster: Cluster, tmp_path: Path
) -> None:
    net, worker_dir = chain_snapshot, tmp_path / "worker"
    crashed = start_worker(net, worker_dir, "--ray", cluster.address, NGX_ZK_FAULT_CRASH_AT="proving")
    job = post(net, tmp_path / "consumer", "consumer")
    follow = waiter(net, tmp_path / "consumer", "consumer", job)
    try:
        assert crashed.wait(timeout=120) == 137, "the fault-injected worker should die once its proof is journaled"
        restarted = start_worker(net, worker_dir, "--ray", cluster.address, "--max-jobs", "1")
        assert restarted.wait(timeout=120) == 0, restarted.stderr.read() if restarted.stderr else ""
        out, err = follow.communicate(timeout=120)
    finally:
        for proc in (crashed, follow):
            if proc.poll() is None:
                proc.kill()
    assert follow.returncode == 0, err
    assert json.loads(out)["status"] == "Settled"
    m = net.market
    assert len(m.logs(JobSettled, m.deployment.block, job_id=job)) == 1
    steps = [step for job_id, step, _ in journal_notes(worker_dir) if job_id == job]
    assert steps.count("proved") == 1 and steps[-1] == "done", steps


@pytest.mark.slow
@pytest.mark.chain
def test_node_killed_mid_proof_the_job_is_proved_again_and_settles_once(
    chain_snapshot: Net, cluster: Cluster, tmp_path: Path
) -> None:
    """Last in this module: it kills the second node."""
    cluster.slow_file.write_text("120")
    try:
        jobs, worker_dir = settle_two(chain_snapshot, tmp_path, cluster, during="kill-node2")
    finally:
        cluster.slow_file.unlink(missing_ok=True)
    notes = journal_notes(worker_dir)
    again = [job for job, step, note in notes if step == "proving" and note.startswith("prover lost")]
    assert len(again) == 1 and again[0] in jobs, notes
    assert sum(1 for _, step, _ in notes if step == "done") == 2
    log = (worker_dir / "worker.log").read_text()
    assert "fleet.node_lost" in log and "job.reprove" in log
    fleet = provider_fleet(chain_snapshot, worker_dir)
    assert sum(fleet["node_failures"].values()) == 1 and fleet["reproofs"] == 1
    assert sum(fleet["proofs_per_node"].values()) == 2, "two proofs made: the lost one is not counted"
