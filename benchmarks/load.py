"""Part e: the market under load, and a provider's fleet against its local pool.

**Load run.** K providers (separate worker processes, each with its own fresh key, registered and
staked) and M consumers (threads, each with its own fresh key and its own RPC connection) posting J
jobs each at once on one anvil, with mixed outcomes by design:

* ``settle``  - a fair job: the consumer hands over the input once the job is claimed;
* ``decline`` - the consumer hands over an input that does not open its commitment: the provider
  declines it (input invalid), the consumer is refunded;
* ``cancel``  - priced under every worker's ``--min-price``: nobody claims it; the consumer cancels;
* ``expire``  - priced the same, left alone: after the claim window anyone expires it (refund).

Checked, as assertions the test suite runs on a small version: every job ends in exactly one terminal
event (JobSettled, JobDeclined, JobCancelled or JobExpired) matching its final status and planned
outcome; no job is paid twice (each provider's claimable grew by exactly the pay of its settlements,
each consumer's by exactly its refunds, and a consumer's balance fell by exactly what it posted); NGX
is conserved (what consumers paid for settled jobs equals providers' pay + royalties + fees, and
the balances of every holder ever seen in a Transfer event, accounts and contracts, sum to the
total supply). Reported: throughput (jobs/min), post->settled latency percentiles, failures.

**Fleet comparison.** The same settle-only batch through one worker with its local pool
(``--concurrency 2``) and through one worker on a two-node Ray cluster on this machine (one core per
node): the ratio, not the absolute figure, is what counts here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address

import ngx_zk as ngx
from ngx_zk import consumer, crypto
from ngx_zk.artifacts import Circuit
from ngx_zk.chain import devnet
from ngx_zk.chain.market import JobStatus, Marketplace
from ngx_zk.chain.signer import Signer, from_key
from ngx_zk.chain.tx import Chain
from ngx_zk.chain.types import JobCancelled, JobDeclined, JobExpired, JobSettled
from ngx_zk.config import Secret
from ngx_zk.explorer.db import Database
from ngx_zk.explorer.indexer import Indexer
from ngx_zk.explorer.lag import LagProbe

NGX = 10**18
PRICE = 10 * NGX
LOW_PRICE = 1 * NGX  # under every worker's --min-price: nobody claims it
MIN_PRICE = "2"
WINDOW_S = 600
STAKE = 2_000 * NGX
FUND = 1_000 * NGX
POLL_S = 0.25
OUTCOMES = ("settle", "decline", "cancel", "expire")
Terminal = JobSettled | JobDeclined | JobCancelled | JobExpired
TERMINAL_EVENTS: dict[type[Terminal], str] = {
    JobSettled: "settle",
    JobDeclined: "decline",
    JobCancelled: "cancel",
    JobExpired: "expire",
}

Log = Callable[[str], None]


@dataclass
class Market:
    """What a load run needs of a deployed market (the bench's and the tests' fixtures both have it)."""

    home: Path
    url: str
    settings: ngx.Settings
    market: Marketplace
    circuit: Circuit
    model_id: int

    def env(self, state_dir: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NGX_ZK_")}
        env.update(
            NGX_ZK_HOME=str(self.home),
            NGX_ZK_CACHE_DIR=str(self.settings.cache_dir),
            NGX_ZK_RPC_URL=self.url,
            NGX_ZK_STATE_DIR=str(state_dir),
            **extra,
        )
        return env

    def rpc(self, method: str, params: list[Any]) -> Any:
        return self.market.chain.w3.provider.make_request(method, params)  # type: ignore[arg-type]

    def connect(self) -> Marketplace:
        """A Marketplace on its own HTTP connection (one per consumer thread)."""
        return Marketplace(Chain([self.url], expected_chain_id=self.market.chain.chain_id), self.market.deployment)


@dataclass
class Planned:
    consumer: int
    outcome: str
    job_id: int = 0
    posted_at: float = 0.0
    final_at: float = 0.0
    delivered: bool = False


@dataclass
class Party:
    signer: Signer
    key: str = field(repr=False)


def fresh_party(m: Market, *, fund: int) -> Party:
    """A new account: ETH for gas (anvil_setBalance) and ``fund`` NGX from the ecosystem allocation."""
    account = Account.create()
    key = "0x" + bytes(account.key).hex()
    signer = from_key(Secret(key))
    m.rpc("anvil_setBalance", [signer.address, hex(100 * 10**18)])
    m.market.transfer(devnet.dev_signer(m.settings, "ecosystem"), signer.address, fund)
    return Party(signer, key)


def new_provider(m: Market) -> Party:
    party = fresh_party(m, fund=STAKE)
    pubkey = crypto.public_bytes(crypto.derive_key(party.signer.encryption_key_material()))
    m.market.register_provider(party.signer, pubkey, "")
    m.market.stake(party.signer, STAKE)
    return party


class Workers:
    """K worker processes, one per provider key (given by NGX_ZK_PRIVATE_KEY, never on the command line)."""

    def __init__(self, m: Market, providers: list[Party], workdir: Path, *args: str) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        for i, party in enumerate(providers):
            state = workdir / f"worker-{i}"
            state.mkdir(parents=True, exist_ok=True)
            self.logs.append(state / "worker.log")
            with (state / "worker.out").open("w") as out:
                self.procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "ngx_zk",
                            "worker",
                            "--model",
                            m.circuit.name,
                            "--poll",
                            "0.2",
                            "--min-price",
                            MIN_PRICE,
                            "--log-file",
                            str(self.logs[-1]),
                            *args,
                        ],
                        env=m.env(state, NGX_ZK_PRIVATE_KEY=party.key),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                )

    def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        for proc, log in zip(self.procs, self.logs, strict=True):
            while not (log.is_file() and '"worker.start"' in log.read_text()):
                if proc.poll() is not None:
                    raise RuntimeError(f"a worker exited at start (code {proc.returncode}); see {log.parent}/worker.out")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"a worker was not ready within {timeout_s:.0f}s; see {log.parent}")
                time.sleep(0.1)

    def stop(self, timeout_s: float = 60) -> list[int | None]:
        """Warm shutdown (SIGTERM), then SIGKILL for any that hangs; the exit codes."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout=timeout_s))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
                codes.append(None)
        return codes


def plan_jobs(consumers: int, jobs_per_consumer: int, mix: dict[str, int]) -> list[Planned]:
    """Spread the outcomes of ``mix`` (weights) over every consumer's jobs, round robin."""
    wheel = [o for o in OUTCOMES for _ in range(mix.get(o, 0))] or ["settle"]
    plans, n = [], 0
    for c in range(consumers):
        for _ in range(jobs_per_consumer):
            plans.append(Planned(c, wheel[n % len(wheel)]))
            n += 1
    return plans


def _consumer(m: Market, party: Party, plans: list[Planned], workdir: Path, errors: list[str], deadline: float) -> None:
    """One consumer: post its jobs, then follow them: deliver the input (or a wrong one) on claim, cancel
    what it means to cancel, until every job it follows is final (the ``expire`` ones are left open)."""
    try:
        market = m.connect()
        settings = ngx.load_settings(m.env(workdir / f"consumer-{plans[0].consumer}"))
        data = ngx.load_input(
            Path(__file__).resolve().parent.parent / "models" / m.circuit.name / "input.json", m.circuit.manifest
        )
        records: dict[int, consumer.JobRecord] = {}
        for plan in plans:
            price = LOW_PRICE if plan.outcome in ("cancel", "expire") else PRICE
            plan.posted_at = time.time()
            record = consumer.post_job(
                settings,
                market,
                party.signer,
                m.circuit,
                data,
                price=price,
                claim_window=WINDOW_S,
                prove_window=WINDOW_S,
                min_reputation=0,
            )
            plan.job_id = record.job_id
            if plan.outcome == "decline":  # a salted input that opens another commitment than the job's
                record = replace(record, salted_input=ngx.commit(m.circuit.manifest, data, new_salt=True)[1].to_json())
            records[plan.job_id] = record
            if plan.outcome == "cancel":
                market.cancel(party.signer, plan.job_id)
        pending = [p for p in plans if p.outcome != "expire"]
        while pending and time.monotonic() < deadline:
            for plan in list(pending):
                job = market.job(plan.job_id)
                if job.status.final:
                    plan.final_at = time.time()
                    pending.remove(plan)
                elif job.status is JobStatus.CLAIMED and not plan.delivered:
                    consumer.deliver_input(market, party.signer, records[plan.job_id], job)
                    plan.delivered = True
            time.sleep(POLL_S)
        if pending:
            errors.append(f"consumer {plans[0].consumer}: jobs {[p.job_id for p in pending]} not final in time")
    except Exception as exc:
        errors.append(f"consumer {plans[0].consumer}: {type(exc).__name__}: {str(exc)[:300]}")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _holders(m: Market) -> set[str]:
    found = {to_checksum_address(a) for a in m.market.deployment.contracts.values()}
    for log in m.market.token.events.Transfer().get_logs(from_block=0):  # the ERC-20 event: no ngx-zk record for it
        found |= {to_checksum_address(log["args"]["from"]), to_checksum_address(log["args"]["to"])}
    found.discard("0x0000000000000000000000000000000000000000")
    return found


def run_load(
    m: Market,
    workdir: Path,
    *,
    providers: int,
    consumers: int,
    jobs_per_consumer: int,
    mix: dict[str, int] | None = None,
    worker_args: tuple[str, ...] = (),
    timeout_s: float = 600,
    log: Log = lambda _: None,
) -> dict[str, Any]:
    """One load run (see the module docstring); returns its figures and the checks' findings
    (``violations`` is empty when every check held)."""
    mix = mix if mix is not None else {"settle": 4, "decline": 1, "cancel": 1, "expire": 1}
    chain = m.market
    log(f"load: {providers} providers, {consumers} consumers x {jobs_per_consumer} jobs, mix {mix}")
    provs = [new_provider(m) for _ in range(providers)]
    plans = plan_jobs(consumers, jobs_per_consumer, mix)
    buyers = [fresh_party(m, fund=sum(PRICE for p in plans if p.consumer == c) + NGX) for c in range(consumers)]
    start_block = chain.chain.block_number()
    supply_before = int(chain.chain.call(chain.token.functions.totalSupply()))
    everyone = [p.signer.address for p in provs + buyers]
    before = {a: (chain.balance(a), chain.claimable(a), chain.provider(a).staked) for a in everyone}

    workers = Workers(m, provs, workdir, *worker_args)
    errors: list[str] = []
    codes: list[int | None] = []
    # the explorer's indexer follows the chain through the whole run, polling as `ngx-zk explorer` does
    indexer = Indexer(chain.chain, chain.deployment, Database(str(workdir / "explorer.sqlite")), confirmations=0)
    indexer.sync()
    probe = LagProbe(indexer, poll_s=0.2).start()
    try:
        workers.wait_ready()
        log("load: workers ready; consumers posting")
        started = time.time()
        deadline = time.monotonic() + timeout_s
        threads = [
            threading.Thread(
                target=_consumer,
                args=(m, buyers[c], [p for p in plans if p.consumer == c], workdir, errors, deadline),
                name=f"consumer-{c}",
            )
            for c in range(consumers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        worked_s = time.time() - started
    finally:
        codes = workers.stop()
    expiring = [p for p in plans if p.outcome == "expire"]
    if expiring:  # nobody claimed them: past the claim window anyone may expire them (the refund goes to the consumer)
        m.rpc("evm_increaseTime", [WINDOW_S + 1])
        m.rpc("evm_mine", [])
        sweeper = devnet.dev_signer(m.settings, "auditor")
        for plan in expiring:
            with contextlib.suppress(Exception):
                chain.expire(sweeper, plan.job_id)
            plan.final_at = time.time()
    violations = check(m, plans, buyers, provs, before, start_block, supply_before)
    lag = probe.catch_up(timeout_s=120)
    log(f"load: {lag.line()}")
    settled = [p for p in plans if p.outcome == "settle" and p.final_at]
    latencies = [p.final_at - p.posted_at for p in settled]
    by_worker = [p for p in plans if p.outcome in ("settle", "decline")]
    result = {
        "providers": providers,
        "consumers": consumers,
        "jobs": len(plans),
        "mix": mix,
        "worker_args": list(worker_args),
        "outcomes": {o: sum(1 for p in plans if p.outcome == o) for o in OUTCOMES},
        "seconds": worked_s,
        "jobs_per_min": len(by_worker) / worked_s * 60 if worked_s else 0.0,
        "settled_per_min": len(settled) / worked_s * 60 if worked_s else 0.0,
        "latency_s": {
            "p50": _percentile(latencies, 0.5),
            "p90": _percentile(latencies, 0.9),
            "p99": _percentile(latencies, 0.99),
            "max": max(latencies, default=float("nan")),
        },
        "failures": errors + [f"worker {i} exited {c}" for i, c in enumerate(codes) if c != 0],
        "violations": violations,
        "indexer_lag": dataclasses.asdict(lag),
    }
    log(
        f"load: {len(plans)} jobs in {worked_s:.1f}s, {result['jobs_per_min']:.1f} worker jobs/min, "
        f"settle p50 {result['latency_s']['p50']:.1f}s p90 {result['latency_s']['p90']:.1f}s; "
        f"{len(result['failures'])} failures, {len(violations)} violations"
    )
    return result


def check(
    m: Market,
    plans: list[Planned],
    buyers: list[Party],
    provs: list[Party],
    before: dict[str, tuple[int, int, int]],
    start_block: int,
    supply_before: int,
) -> list[str]:
    """The exactly-once and conservation checks; each violation as a sentence."""
    chain, bad = m.market, []
    terminal: dict[int, list[Terminal]] = {}
    for kind in TERMINAL_EVENTS:
        for logged in chain.logs(kind, start_block):
            terminal.setdefault(logged.event.job_id, []).append(logged.event)
    status_of = {
        "settle": JobStatus.SETTLED,
        "decline": JobStatus.CANCELLED,
        "cancel": JobStatus.CANCELLED,
        "expire": JobStatus.EXPIRED,
    }
    pay: dict[str, int] = {}
    slashed: dict[str, int] = {}
    refunds: dict[str, int] = {}
    spent_settled: dict[str, int] = {}
    split_total = price_total = 0
    for plan in plans:
        ends = terminal.get(plan.job_id, [])
        job = chain.job(plan.job_id)
        if len(ends) != 1:
            bad.append(f"job {plan.job_id} ({plan.outcome}) has {len(ends)} terminal events: {[type(e).__name__ for e in ends]}")
            continue
        event = ends[0]
        name = type(event).__name__
        if TERMINAL_EVENTS[type(event)] != plan.outcome or job.status is not status_of[plan.outcome]:
            bad.append(f"job {plan.job_id} planned to {plan.outcome} ended {name} / {job.status.value}")
        buyer = to_checksum_address(job.consumer)
        if isinstance(event, JobSettled):
            provider = to_checksum_address(job.provider or "")
            pay[provider] = pay.get(provider, 0) + event.provider_pay
            split_total += event.provider_pay + event.royalty + event.fee
            price_total += job.price
            spent_settled[buyer] = spent_settled.get(buyer, 0) + job.price
        else:
            refunds[buyer] = refunds.get(buyer, 0) + job.price
            cut = event.slashed if isinstance(event, JobDeclined | JobExpired) else 0
            if job.provider and cut:
                provider = to_checksum_address(job.provider)
                slashed[provider] = slashed.get(provider, 0) + cut
    if split_total != price_total:
        bad.append(f"settled jobs cost consumers {price_total} but paid out {split_total} (pay + royalty + fee)")
    for party in provs:
        a = party.signer.address
        gained = chain.claimable(a) - before[a][1]
        if gained != pay.get(a, 0):
            bad.append(f"provider {a} was credited {gained}, its settlements pay {pay.get(a, 0)}")
        if before[a][2] - chain.provider(a).staked != slashed.get(a, 0):
            bad.append(
                f"provider {a} stake moved from {before[a][2]} to {chain.provider(a).staked}; its slashes: {slashed.get(a, 0)}"
            )
    for party in buyers:
        a = party.signer.address
        posted = sum(
            chain.job(p.job_id).price for p in plans if p.job_id and to_checksum_address(chain.job(p.job_id).consumer) == a
        )
        if before[a][0] - chain.balance(a) != posted:
            bad.append(f"consumer {a} balance fell by {before[a][0] - chain.balance(a)}, it posted {posted}")
        if chain.claimable(a) - before[a][1] != refunds.get(a, 0):
            bad.append(f"consumer {a} was credited {chain.claimable(a) - before[a][1]}, its refunds are {refunds.get(a, 0)}")
        if posted - refunds.get(a, 0) != spent_settled.get(a, 0):
            bad.append(f"consumer {a} is out {posted - refunds.get(a, 0)}, its settled jobs cost {spent_settled.get(a, 0)}")
    supply = int(chain.chain.call(chain.token.functions.totalSupply()))
    if supply != supply_before and not slashed:
        bad.append(f"total supply moved from {supply_before} to {supply} with nobody slashed (nothing to burn)")
    held = sum(chain.balance(a) for a in _holders(m))
    if held != supply:
        bad.append(f"holders' balances sum to {held}, total supply is {supply}")
    return bad


# --- fleet vs local pool ---------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def ray_cluster(nodes: int = 2, cpus_per_node: int = 1) -> Iterator[str]:
    """A local Ray cluster of ``nodes`` nodes (``ray start``, one temp dir), torn down on exit by pid
    (never `ray stop`, which would stop every Ray cluster on the machine). Yields its address."""
    ray = Path(sys.executable).with_name("ray")
    tmp = Path(tempfile.mkdtemp(prefix="ngxray", dir="/tmp"))  # short: Ray's socket paths have a length limit
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NGX_ZK_", "RAY_"))}
    env.update(RAY_USAGE_STATS_ENABLED="0", HOME=str(tmp))  # a token in ~/.ray would turn on token auth for the head only
    address = f"127.0.0.1:{_free_port()}"
    common = ["--num-cpus", str(cpus_per_node), "--object-store-memory", str(100 << 20), "--disable-usage-stats"]
    try:
        subprocess.run(
            [
                str(ray),
                "start",
                "--head",
                "--port",
                address.rpartition(":")[2],
                "--temp-dir",
                str(tmp),
                "--include-dashboard",
                "false",
                "--dashboard-port",
                str(_free_port()),
                *common,
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        for _ in range(nodes - 1):
            subprocess.run(
                [str(ray), "start", "--address", address, *common], env=env, check=True, capture_output=True, timeout=120
            )
        yield address
    finally:
        for pid in _cluster_pids(tmp):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


def _cluster_pids(tmp: Path) -> list[int]:
    def children(pid: int) -> list[int]:
        out: list[int] = []
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                for child in (task / "children").read_text().split():
                    out += [int(child), *children(int(child))]
        return out

    tops = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if str(tmp).encode() in (proc / "cmdline").read_bytes():
                    tops.append(int(proc.name))
    return list(dict.fromkeys(p for top in tops for p in [top, *children(top)]))


def fleet_vs_local(m: Market, workdir: Path, jobs: int, log: Log) -> dict[str, Any]:
    """The same settle-only batch (one provider, ``jobs`` jobs from 2 consumers) through the local pool
    (--concurrency 2) and through a two-node Ray cluster: throughput of each and their ratio."""
    per = max(1, jobs // 2)
    local = run_load(
        m,
        workdir / "local",
        providers=1,
        consumers=2,
        jobs_per_consumer=per,
        mix={"settle": 1},
        worker_args=("--concurrency", "2"),
        log=log,
    )
    with ray_cluster(2, 1) as address:
        fleet = run_load(
            m,
            workdir / "fleet",
            providers=1,
            consumers=2,
            jobs_per_consumer=per,
            mix={"settle": 1},
            worker_args=("--ray", address, "--concurrency", "2"),
            log=log,
        )
    ratio = fleet["jobs_per_min"] / local["jobs_per_min"] if local["jobs_per_min"] else float("nan")
    log(
        f"fleet: local pool {local['jobs_per_min']:.1f} jobs/min, 2-node Ray {fleet['jobs_per_min']:.1f} jobs/min (ratio {ratio:.2f})"
    )
    return {"local": local, "ray_2_nodes": fleet, "ratio": ratio}


def run(
    net: Any, workdir: Path, *, providers: int, consumers: int, jobs_per_consumer: int, fleet_jobs: int, log: Log = lambda _: None
) -> dict[str, Any]:
    """``make bench`` part e, on the bench's market (benchmarks/market.py ``local_market``)."""
    m = Market(net.home, net.url, net.settings, net.market, net.circuit, net.model_ids["dedicated"])
    return {
        "load": run_load(
            m, workdir / "load", providers=providers, consumers=consumers, jobs_per_consumer=jobs_per_consumer, log=log
        ),
        "fleet": fleet_vs_local(m, workdir / "fleet", fleet_jobs, log),
    }


QUICK = {"providers": 2, "consumers": 2, "jobs_per_consumer": 4, "fleet_jobs": 4}
FULL = {"providers": 3, "consumers": 4, "jobs_per_consumer": 6, "fleet_jobs": 8}


def markdown(result: dict[str, Any]) -> list[str]:
    """Part f's section of benchmarks/results/latest.md."""
    load, fleet = result["load"], result["fleet"]
    lat = load["latency_s"]
    lines = [
        f"## f. The market under load ({load['providers']} providers, {load['consumers']} consumers, {load['jobs']} jobs "
        f"posted at once on one anvil)",
        "",
        "| outcomes (planned) | worker jobs / min | settled / min | settle latency p50 / p90 / p99 / max s | failures | violations |",
        "|---|---|---|---|---|---|",
        f"| {', '.join(f'{k} {v}' for k, v in load['outcomes'].items())} | **{load['jobs_per_min']:.1f}** "
        f"| {load['settled_per_min']:.1f} | {lat['p50']:.1f} / {lat['p90']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f} "
        f"| {len(load['failures'])} | {len(load['violations'])} |",
        "",
        "Checked: every job ends in exactly one terminal event matching its status and planned outcome; each provider "
        "was credited exactly its settlements' pay, each consumer exactly its refunds; consumers' spend on settled jobs "
        "equals pay + royalty + fee; all holders' balances sum to the total supply. Worker jobs = settled + declined.",
        "",
        "| one provider | settle-only jobs | seconds | jobs / min |",
        "|---|---|---|---|",
    ]
    for label, key in (("local pool, --concurrency 2", "local"), ("Ray, 2 nodes x 1 core, --concurrency 2", "ray_2_nodes")):
        row = fleet[key]
        lines.append(f"| {label} | {row['jobs']} | {row['seconds']:.1f} | **{row['jobs_per_min']:.1f}** |")
    if "indexer_lag" in load:
        lag = load["indexer_lag"]
        lines += [
            "",
            f"The explorer's indexer followed the load run (SQLite, polling every 0.2 s): at most **{lag['max_lag_blocks']}** "
            f"blocks behind the head (median {lag['median_lag_blocks']:g}) over {lag['syncs']} syncs, sync median "
            f"{lag['median_sync_s'] * 1000:.0f} ms / max {lag['max_sync_s'] * 1000:.0f} ms, caught up "
            f"{lag['catch_up_s']:.2f} s after the last transaction, {lag['events']} events.",
        ]
    lines += [
        "",
        f"Fleet / local throughput ratio: **{fleet['ratio']:.2f}** (both on this machine's cores: the ratio shows the "
        "fleet's overhead, not its scale-out).",
        "",
    ]
    for problem in load["failures"] + load["violations"] + fleet["local"]["failures"] + fleet["ray_2_nodes"]["failures"]:
        lines.append(f"- {problem}")
    return lines


if __name__ == "__main__":  # part f alone: python -m benchmarks.load [--quick]
    import json

    from benchmarks import market

    sizes = QUICK if "--quick" in sys.argv else FULL
    begun = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - begun:6.1f}s] {message}", file=sys.stderr, flush=True)

    work = Path(tempfile.mkdtemp(prefix="ngx-bench-load-"))
    try:
        with market.local_market(work, work / "ngx-cache", say) as bench_net:
            figures = run(bench_net, work, log=say, **sizes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(markdown(figures)))
    print(json.dumps(figures, indent=1, default=str), file=sys.stderr)
