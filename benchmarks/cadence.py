"""Part l: one plain job's latency as the consumer sees it, per block cadence (issue #25).

``python benchmarks/run.py --only cadence [--quick]``

For each cadence (instant mining: a block per transaction; 2 s blocks, like an L2; 12 s blocks, like L1) a fresh
anvil (``devnet.up(block_time=...)``), the contracts deployed and mlp published (on instant mining, to keep the
setup short; then the timer is switched on), one worker process with its data-plane endpoint, and ``jobs``
plain open jobs posted one after the other by the consumer library (``post_job`` + ``wait_for_result``, what
``prove-job`` runs). Per job, wall clock from the consumer's side: post (the ``postJob`` receipt), claimed
(the consumer sees the claim and starts delivering the input), settled (the settlement seen, before the local
re-verification), verified (the proof re-verified locally), then audited (``auditor.audit_job``: an auditor
re-checking the settled job from chain data); and the blocks from post to claim and to settlement. Medians
over the jobs; each row is measured, nothing extrapolated.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ngx_zk as ngx
from ngx_zk import auditor, consumer, crypto
from ngx_zk.chain import devnet
from ngx_zk.chain.market import JobStatus
from ngx_zk.chain.tx import Chain
from ngx_zk.chain.types import JobClaimed, JobPosted, JobSettled
from ngx_zk.publish import publish

from .market import MODEL, PRICE, WINDOW_S, Net, WorkerProcess
from .pipeline import MODELS

NGX = 10**18
FULL: list[tuple[float | None, int]] = [(None, 3), (2, 3), (12, 1)]
"""(whole seconds per block, None: instant mining; jobs). The 12 s part is one job: about a minute on its own."""
QUICK: list[tuple[float | None, int]] = [(None, 1), (2, 1), (12, 1)]
JOB_TIMEOUT_S = 300.0
STEPS = ("post_s", "claimed_s", "settled_s", "verified_s", "audited_s")

Log = Callable[[str], None]


def label(block_time: float | None) -> str:
    return "instant" if block_time is None else f"{block_time:g} s blocks"


@contextlib.contextmanager
def timed_market(workdir: Path, cache_dir: Path, block_time: float | None, log: Log) -> Iterator[Net]:
    """anvil mining every ``block_time`` seconds (None: a block per transaction), the contracts and mlp on it,
    the provider registered and staked; anvil stops on exit."""
    home = workdir / "chain-home"
    env = {"NGX_ZK_HOME": str(home), "NGX_ZK_CACHE_DIR": str(cache_dir)}
    settings = ngx.load_settings(env)
    log(f"cadence: {label(block_time)}: starting anvil and deploying the contracts")
    status = devnet.up(settings, port=0, fresh=True, block_time=block_time)
    try:
        chain = Chain([status.url], expected_chain_id=devnet.DEV_CHAIN_ID)
        settings = ngx.load_settings({**env, "NGX_ZK_RPC_URL": status.url})
        rpc = chain.w3.provider.make_request
        if block_time is not None:
            rpc("evm_setAutomine", [True])  # type: ignore[arg-type]  # the setup: a block per transaction
        market = devnet.deploy_dev(settings, chain, fund=("consumer", "provider"))
        circuit = ngx.build_circuit(MODELS / MODEL, settings)  # from the cache after the first cadence
        model_id = publish(settings, market, devnet.dev_signer(settings, "deployer"), circuit, royalty_bps=100).model_id
        provider = devnet.dev_signer(settings, "provider")
        market.register_provider(provider, crypto.public_bytes(crypto.derive_key(provider.encryption_key_material())), "")
        market.stake(provider, 5_000 * NGX)
        if block_time is not None:
            rpc("evm_setIntervalMining", [round(block_time)])  # type: ignore[arg-type]  # anvil takes whole seconds
            if devnet.mining_interval(chain) != block_time:
                raise RuntimeError(f"anvil does not mine every {block_time:g} s")
        yield Net(home, status.url, settings, market, circuit, {"dedicated": model_id})
    finally:
        devnet.down(settings)


def one_job(net: Net, workdir: Path) -> dict[str, Any]:
    """One plain open job, followed as ``prove-job`` does, then audited; seconds from the start of the post."""
    settings = net.consumer_settings(workdir)
    signer = net.signer("consumer")
    data = ngx.load_input(MODELS / MODEL / "input.json", net.circuit.manifest)
    seen: dict[str, float] = {}
    started = time.perf_counter()
    record = consumer.post_job(
        settings, net.market, signer, net.circuit, data,
        price=PRICE, claim_window=WINDOW_S, prove_window=WINDOW_S, min_reputation=0,
    )  # fmt: skip
    seen["post_s"] = time.perf_counter() - started

    def progress(message: str) -> None:
        now = time.perf_counter() - started
        if message.startswith("delivering"):
            seen.setdefault("claimed_s", now)
        elif message.startswith("verifying"):
            seen.setdefault("settled_s", now)

    result = consumer.wait_for_result(
        settings, net.market, signer, net.circuit, record, progress=progress, timeout_s=JOB_TIMEOUT_S
    )
    seen["verified_s"] = time.perf_counter() - started
    if result.status is not JobStatus.SETTLED or not result.proof_valid:
        raise RuntimeError(f"job {record.job_id} ended {result.status.value}")
    verdict = auditor.audit_job(settings, net.market, net.circuit, record.job_id)
    seen["audited_s"] = time.perf_counter() - started
    if not verdict.valid:
        raise RuntimeError(f"job {record.job_id} did not audit valid")
    m, job_id = net.market, record.job_id
    (posted,) = m.logs(JobPosted, m.deployment.block, job_id=job_id)
    (claimed,) = m.logs(JobClaimed, posted.meta.block_number, job_id=job_id)
    (settled,) = m.logs(JobSettled, posted.meta.block_number, job_id=job_id)
    return {
        "job_id": job_id,
        **seen,
        "claim_blocks": claimed.meta.block_number - posted.meta.block_number,
        "settle_blocks": settled.meta.block_number - posted.meta.block_number,
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(workdir: Path, cache_dir: Path, log: Log, cadences: list[tuple[float | None, int]] | None = None) -> list[dict[str, Any]]:
    """Each cadence in turn on its own anvil; one row per cadence with the medians and every job."""
    rows = []
    for block_time, jobs in cadences or FULL:
        here = workdir / f"cadence-{label(block_time).replace(' ', '-')}"
        with timed_market(here, cache_dir, block_time, log) as net:
            endpoint = net.listen_endpoint()
            with WorkerProcess(net, here / "worker", "--listen", endpoint.removeprefix("http://")) as worker:
                worker.wait_ready()
                done = []
                for i in range(jobs):
                    done.append(one_job(net, here / f"consumer-{i}"))
                    log(f"cadence: {label(block_time)}: job {i + 1}/{jobs} settled in {done[-1]['settled_s']:.1f}s")
                worker.stop()
        row: dict[str, Any] = {"block_time_s": block_time, "cadence": label(block_time), "jobs": done}
        for step in STEPS:
            row[step] = _median([j[step] for j in done])
        row["settled_to_audited_s"] = _median([j["audited_s"] - j["verified_s"] for j in done])
        row["claim_blocks"] = _median([float(j["claim_blocks"]) for j in done])
        row["settle_blocks"] = _median([float(j["settle_blocks"]) for j in done])
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    """Part l's section of benchmarks/results/latest.md."""
    lines = [
        "## l. One plain job's latency per block cadence (consumer's wall clock from the post; medians)",
        "",
        "| cadence | jobs | post (receipt) s | claimed s | settled s | verified locally s | audited s "
        "| settled -> audited s | post -> claim blocks | post -> settle blocks |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cadence']} | {len(r['jobs'])} | {r['post_s']:.1f} | {r['claimed_s']:.1f} | **{r['settled_s']:.1f}** "
            f"| {r['verified_s']:.1f} | {r['audited_s']:.1f} | {r['settled_to_audited_s']:.1f} "
            f"| {r['claim_blocks']:g} | {r['settle_blocks']:g} |"
        )
    lines += [
        "",
        "mlp, one worker (its defaults: newHeads over anvil's WebSocket, 0.25 s poll), open jobs one at a time, on this "
        "machine. Claimed: the consumer saw the claim and began delivering the input; settled: it saw the settlement "
        "(before re-verifying); audited: an auditor's `audit_job` of the settled job finished. Each cadence on its own "
        "anvil; the 12 s row is one job unless more were asked for.",
        "",
    ]
    return lines
