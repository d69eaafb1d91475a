"""Part h: many providers racing for the same jobs, by simulation (issue #25).

``python -m benchmarks.providers [--quick] [--providers 10 100] [--jobs 200] [--spread both|on|off]``

What is real: one anvil with every contract deployed (benchmarks/market.py ``local_market``), P fresh
provider identities (ETH by ``anvil_setBalance``, NGX by plain transfers, registered and staked), C
fresh consumers posting J jobs, and in each provider the worker's own chain monitor
(:class:`~ngx_zk.worker.monitor.ChainMonitor`), journal (SQLite) and claim step
(:class:`~ngx_zk.worker.lifecycle.Lifecycle`: :class:`~ngx_zk.worker.eligibility.Eligibility`'s verdict,
the claim spread when on, ``claimJob`` sent by :class:`~ngx_zk.chain.tx.Chain`), each provider's RPC
requests counted as its own. What is not: no input, no proof (claimed jobs stay claimed; the stake covers
them), and the clock is the block.

**One process for P providers** (what made 1,000 fit in minutes; profiled at 100: building each provider's
contract objects took 0.2 s, setup one receipt at a time 0.9 s a provider). The providers share one HTTP
connection (:func:`shared_chain`) and contract objects, each with a :class:`~ngx_zk.chain.tx.Chain` of its own
(its own send lock); a read another provider already made in the same block is answered from a shared cache
(:class:`BlockCache`, cleared at each mined block: the node's answer cannot differ), still counted as that
provider's request. The setup's transactions are signed with fixed gas and sent without waiting (a block holds
as many as fit). Each provider starts watching at the run's first block (a worker that joined then: no
replay of the setup's blocks), and the number of registered providers the spread ranks among is read once for
all (:class:`SharedCount`: each worker reads it once, then every 60 s; not counted in its requests). Journals
skip fsync (each worker has its own disk).

**Lockstep blocks.** Mining is off; the driver mines one block when every provider has polled the
chain after the previous one and either finished or sent its transaction (and waits for its receipt).
So every provider reacts to every block before the next one: the situation of a public L2 whose block
time (2 s) exceeds a worker's poll (0.5 s), whatever this machine's speed. The claim spread's clock is
``BLOCK_S`` per block. Each round the consumers post ``jobs_per_block`` jobs.

Reported per run: failed (reverted, mined) claim transactions per job and their gas; RPC requests per
job per provider (HTTP round trips, all methods; receipt polls counted too, and apart: their number
depends on how long this simulation leaves a sent transaction unmined); blocks from post to claim; the
explorer's indexer lag over the run (:class:`~ngx_zk.explorer.lag.LagProbe`) and its database size; the
providers' journal sizes; the monitors' cursor lag at the end. Every provider takes every job (no price
floor, no cap on jobs held or on consumers without history): the worst case for races.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from web3.types import Nonce, TxParams

from ngx_zk import crypto
from ngx_zk.chain.market import Marketplace
from ngx_zk.chain.signer import Signer
from ngx_zk.chain.types import JobClaimed, JobPosted
from ngx_zk.explorer.db import Database
from ngx_zk.explorer.indexer import Indexer
from ngx_zk.explorer.lag import LagProbe
from ngx_zk.worker.claim_spread import ClaimSpread
from ngx_zk.worker.jobfiles import InputOpener, Served
from ngx_zk.worker.journal import Journal, Step
from ngx_zk.worker.lifecycle import Lifecycle
from ngx_zk.worker.monitor import ChainMonitor
from ngx_zk.worker.observe import Metrics, null_log
from ngx_zk.worker.offers import OfferBook
from ngx_zk.worker.policy import ClaimPolicy

from .provider_setup import (
    BLOCK_S,
    CURRENT,
    BlockCache,
    Clock,
    SharedCount,
    SharedSpread,
    fund,
    own_market,
    presigned_setup,
    shared_chain,
)

NGX = 10**18
PRICE = 1 * NGX
WINDOW_S = 3_600
STAKE = 2_000 * NGX
FIELD = 21888242871839275222515625718449617762330324248114548390649763348384262408617
QUICK: dict[str, Any] = {"providers": [10, 100], "jobs": 20, "lone_jobs": 10}
"""``--quick``: a few minutes on a laptop (a round costs each simulated provider a poll: tens of ms)."""
FULL: dict[str, Any] = {"providers": [1, 10, 100, 1000], "jobs": 20, "lone_jobs": 10}
"""``make bench``'s curve (issue #25: 10, 100 and 1,000 providers), each count with the spread off and on, except the
spread off at 1,000 (:data:`RACE_MAX_PROVIDERS`). The 1,000 point, spread on: 15 min on a 2-core machine under load
8-19 (setup 1.5-3 min)."""
RACE_MAX_PROVIDERS = 100
"""Above this many providers, a curve of both spread settings skips the one with the spread off, saying why: every
provider then sends a claim per job (1,000 transactions a block at 1,000 providers). Measured: 3 jobs at 1,000
providers, spread off, were still running after 13 min (setup 66 s; 2 cores at load 20-70); 100 providers, 20 jobs:
350 s."""
ROUND_TIMEOUT_S = 600.0
MAX_PASSES = 20
CURSORS = ("posted", "reopened", "claimed")
"""The worker monitor's log cursors (worker/monitor.py)."""
"""Scan-and-claim passes in one provider's tick (a pass after each landed claim, like the worker's loop)."""

Log = Callable[[str], None]


class _NoProofs:
    """The simulator proves nothing: a claimed job is never handed to a prover."""

    def submit(self, *_: Any) -> Any:
        raise RuntimeError("the claim simulator proves nothing")


class _NoMail:
    """No consumer uploads inputs in the simulation: the mailbox is always empty."""

    def get(self, job_id: int, kind: str) -> bytes | None:
        return None

    def put(self, job_id: int, kind: str, data: bytes) -> None:
        raise RuntimeError("the claim simulator takes no uploads")

    def release_input(self, job_id: int) -> None:
        return None


class SimProvider:
    """One provider identity with the worker's monitor, journal and claim step on its own connection."""

    def __init__(
        self, shared: Marketplace, signer: Signer, served: Served, home: Path, spread: Clock | None, start: int | None = None
    ) -> None:
        """``shared``: the providers' connection (:func:`shared_chain`); ``start``: the block it starts watching at."""
        self.signer, self.home = signer, home
        self.calls: Counter[str] = Counter()
        self.busy = self.sent = False
        self.market = own_market(shared)
        chain = self.market.chain
        self.journal = Journal(home / "journal.sqlite")
        # each worker fsyncs its own journal on its own disk; P of them in one process would queue on one disk
        self.journal._db.execute("PRAGMA synchronous=OFF")
        if start is not None:  # a worker that started watching at ``start`` (not replaying the setup's blocks)
            for name in CURSORS:
                self.journal.set_cursor(name, start)
        model = {served.entry.model_id: served}
        opener = InputOpener(
            crypto.derive_key(signer.encryption_key_material()), chain.chain_id, self.market.market.address, model, home
        )
        wake = threading.Event()
        offers = OfferBook(opener, _NoProofs(), self.journal, concurrency=1, log=null_log, wake=wake, enabled=False)  # type: ignore[arg-type]
        self.life = Lifecycle(
            market=self.market,
            signer=signer,
            journal=self.journal,
            served=model,
            opener=opener,
            offers=offers,
            provers=_NoProofs(),
            policy=ClaimPolicy(max_fresh_jobs=None),
            mailbox=_NoMail(),
            wake=wake,
            log=null_log,
            metrics=Metrics(),
        )
        if spread is not None:  # the worker's --claim-spread, on the simulation's clock
            self.life.spread = ClaimSpread(self.market, signer.address, clock=spread)
        self.monitor = ChainMonitor(
            self.market,
            self.journal,
            self.life.standing,
            signer,
            model.keys(),
            stats=self.life.stats,
            log=null_log,
            metrics=Metrics(),
            expire_overdue=False,
        )

    def tick(self) -> None:
        """The worker's loop while it has something to do: scan the chain, then try to claim what it journaled
        (SEEN, CLAIMING); once a claim landed (its receipt came with a new block), scan again at once."""
        CURRENT.sim = self
        try:
            for _ in range(MAX_PASSES):
                self.monitor.scan()
                moved = False
                for record in self.journal.unfinished():
                    if record.step in (Step.SEEN, Step.CLAIMING):
                        moved |= self.life.advance(record)
                if not moved:
                    break
        finally:
            CURRENT.sim = None
            self.busy = False


class Poster:
    """The consumers: each round they send ``postJob`` transactions without waiting for them (mined by the driver)."""

    def __init__(self, m: Any, market: Marketplace, consumers: int, jobs: int, model_id: int, commitments: int) -> None:
        self.market, self.model_id, self.commitments = market, model_id, commitments
        per = -(-jobs // consumers)
        self.signers = [s for s, _ in fund(m, consumers, per * PRICE + NGX)]
        for signer in self.signers:
            market.ensure_allowance(signer, market.market.address, per * PRICE)
        self.nonces: list[int] = [
            int(market.chain.w3.eth.get_transaction_count(to_checksum_address(s.address))) for s in self.signers
        ]
        self.sent = 0
        self.gas = 0

    def post(self, count: int) -> None:
        for _ in range(count):
            i = self.sent % len(self.signers)
            signer = self.signers[i]
            commitments = [secrets.randbelow(FIELD) for _ in range(self.commitments)]
            fn = self.market.market.functions.postJob(self.model_id, commitments, PRICE, WINDOW_S, WINDOW_S, 0)
            if not self.gas:
                self.gas = self.market.chain.estimate_gas(fn, signer.address) * 2
            params: TxParams = {
                "from": to_checksum_address(signer.address),
                "nonce": Nonce(self.nonces[i]),
                "gas": self.gas,
                "chainId": self.market.chain.chain_id,
            }
            tx = fn.build_transaction(params)
            self.market.chain.w3.eth.send_raw_transaction(signer.sign_transaction(dict(tx)))
            self.nonces[i] += 1
            self.sent += 1


def _claim_txs(market: Marketplace, first: int, last: int) -> tuple[int, int, int, int]:
    """Claim transactions mined in blocks ``first..last``: (succeeded, reverted, gas of the reverted, gas of all)."""
    chain, address = market.chain, market.market.address.lower()
    selector = bytes.fromhex(market.market.encode_abi("claimJob", [0])[2:10])
    hashes = [h.to_0x_hex() for n in range(first, last + 1) for h in chain.w3.eth.get_block(n)["transactions"]]  # type: ignore[union-attr]
    txs = chain.transactions(hashes)
    claims = [h for h in hashes if txs[h].to == address and txs[h].input[:4] == selector]
    receipts = chain.receipts(claims)
    failed = [receipts[h] for h in claims if receipts[h].status != 1]
    return len(claims) - len(failed), len(failed), sum(r.gas_used for r in failed), sum(receipts[h].gas_used for h in claims)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def simulate(
    m: Any,
    workdir: Path,
    *,
    providers: int,
    jobs: int,
    spread: bool,
    idle: int = 0,
    jobs_per_block: int = 1,
    consumers: int = 4,
    log: Log = print,
) -> dict[str, Any]:
    """One run on the market ``m`` (benchmarks/market.py ``Net`` or tests' chain fixture), from an anvil
    snapshot it reverts to at the end (so runs do not see each other's providers). ``idle`` more providers
    are registered and staked but never claim (they serve other models, or price above these jobs): the
    spread counts them, so the running providers' turns come later."""
    market: Marketplace = m.market
    rpc = market.chain.w3.provider.make_request
    model_id = m.model_ids["dedicated"] if hasattr(m, "model_ids") else m.model_id
    served = Served(m.circuit, market.model(model_id), Path(), Path(), 0)
    snapshot = rpc("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    label = f"{providers} providers{f' (+{idle} idle)' if idle else ''}, {jobs} jobs, spread {'on' if spread else 'off'}"
    begun = time.perf_counter()
    try:
        stake = STAKE + 2 * PRICE * jobs  # the market's minimum, plus collateral for every job
        made = presigned_setup(m, providers + idle, stake, log)
        made = made[:providers]
        poster = Poster(m, market, consumers, jobs, model_id, m.circuit.manifest.commitment_count)
        clock = Clock()
        cache = BlockCache()
        start = market.chain.block_number() + 1
        counter = SharedCount(ClaimSpread(market, made[0][0].address, clock=clock))
        shared = Marketplace(shared_chain(m.url, market.chain.chain_id, cache), market.deployment)
        sims = []
        for i, (signer, _) in enumerate(made):
            home = workdir / f"p{i}"
            home.mkdir(parents=True)
            sim = SimProvider(shared, signer, served, home, clock if spread else None, start)
            if spread:
                sim.life.spread = SharedSpread(sim.market, signer.address, clock=clock, count=counter)
            sims.append(sim)
        setup_s = time.perf_counter() - begun
        log(f"providers: {label}: set up in {setup_s:.0f}s; running")
        indexer = Indexer(market.chain, market.deployment, Database(str(workdir / "explorer.sqlite")), confirmations=0)
        indexer.sync()
        probe = LagProbe(indexer, poll_s=0.2).start()
        rpc("evm_setAutomine", [False])  # type: ignore[arg-type]
        claimed: set[int] = set()
        rounds, started = 0, time.perf_counter()
        with ThreadPoolExecutor(max_workers=providers) as pool:
            while len(claimed) < jobs and rounds < jobs // jobs_per_block + 200:
                poster.post(min(jobs_per_block, jobs - poster.sent))
                for sim in sims:
                    if not sim.busy:
                        sim.busy = True
                        pool.submit(sim.tick)
                until = time.monotonic() + ROUND_TIMEOUT_S
                while not all(not s.busy or s.sent for s in sims):
                    if time.monotonic() > until:
                        raise RuntimeError(f"{label}: a provider neither finished nor sent in {ROUND_TIMEOUT_S:.0f}s")
                    time.sleep(0.01)
                for sim in sims:
                    sim.sent = False
                rpc("evm_mine", [])  # type: ignore[arg-type]
                cache.clear()
                rounds += 1
                clock.t += BLOCK_S
                if rounds % 5 == 0:
                    log(
                        f"providers: {label}: round {rounds}, {len(claimed)}/{jobs} claimed, {time.perf_counter() - started:.0f}s"
                    )
                head = market.chain.block_number()
                claimed |= {c.event.job_id for c in market.logs(JobClaimed, head, head)}
            for sim in sims:  # no more claims: let the last receipts be read
                sim.life.stopping = True
            while any(s.busy for s in sims):
                rpc("evm_mine", [])  # type: ignore[arg-type]
                cache.clear()
                time.sleep(0.05)
        ran_s = time.perf_counter() - started
        end = market.chain.block_number()
        rpc("evm_setAutomine", [True])  # type: ignore[arg-type]
        lag = probe.catch_up(timeout_s=120)
        won, failed, wasted, claim_gas = _claim_txs(market, start, end)
        posted_at = {p.event.job_id: p.meta.block_number for p in market.logs(JobPosted, start, end)}
        claim_at = {c.event.job_id: c.meta.block_number for c in market.logs(JobClaimed, start, end)}
        delays = [float(claim_at[j] - posted_at[j]) for j in claim_at if j in posted_at]
        calls = Counter[str]()
        for sim in sims:
            calls.update(sim.calls)
        total = sum(calls.values())
        polls = calls["eth_getTransactionReceipt"]
        ends = Counter(  # why jobs ended, in the first providers' journals
            f"{r.step.value}: {s.journal.history(r.job_id)[-1][2]}"[:90] for s in sims[:20] for r in s.journal.all()
        )
        cursor_lag = [end + 1 - s.journal.cursor("posted", start) for s in sims]
        for sim in sims:
            sim.journal.close()  # its write-ahead log checkpointed: the size is the journal's
        journal_bytes = [sum(f.stat().st_size for f in s.home.glob("journal.sqlite*")) for s in sims]
        result: dict[str, Any] = {
            "providers": providers,
            "jobs": jobs,
            "spread": spread,
            "idle": idle,
            "jobs_per_block": jobs_per_block,
            "rounds": rounds,
            "claimed": len(claim_at),
            "claims_won": won,
            "claims_failed": failed,
            "failed_claims_per_job": failed / jobs,
            "wasted_gas_per_job": wasted / jobs,
            "claim_gas_per_job": claim_gas / jobs,
            "rpc_per_job_per_provider": total / jobs / providers,
            "rpc_per_job_per_provider_no_receipt_polls": (total - polls) / jobs / providers,
            "rpc_methods": dict(calls.most_common(8)),
            "journal_ends": dict(ends.most_common(6)),
            "claim_delay_blocks": {"p50": _pct(delays, 0.5), "p90": _pct(delays, 0.9), "max": max(delays, default=float("nan"))},
            "journal_bytes_per_provider": statistics.mean(journal_bytes),
            "monitor_cursor_lag_blocks": max(cursor_lag),
            "indexer_lag": dataclasses.asdict(lag),
            "index_bytes": sum(f.stat().st_size for f in workdir.glob("explorer.sqlite*")),
            "setup_s": setup_s,
            "run_s": ran_s,
        }
        log(
            f"providers: {label}: {failed} failed claims ({failed / jobs:.2f}/job), "
            f"{result['rpc_per_job_per_provider']:.1f} RPC/job/provider, claim delay p50 {result['claim_delay_blocks']['p50']:g} "
            f"blocks, {len(claim_at)}/{jobs} claimed, {ran_s:.0f}s"
        )
        return result
    finally:
        rpc("evm_setAutomine", [True])  # type: ignore[arg-type]
        rpc("evm_revert", [snapshot])  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class Run:
    """One point of the curve: ``skipped`` says why it is not run (empty: it is)."""

    providers: int
    jobs: int
    spread: bool
    skipped: str = ""


def plan(providers: list[int], *, jobs: int, lone_jobs: int, spreads: tuple[bool, ...] = (False, True)) -> list[Run]:
    """The runs of a curve: each provider count with each spread setting (a lone provider gets ``lone_jobs``, enough
    to time its claims). With both settings asked for, a count above :data:`RACE_MAX_PROVIDERS` skips the spread
    off; asked for alone (``--spread off``), it runs."""
    runs = []
    for count in providers:
        for spread in spreads:
            skipped = ""
            if not spread and len(spreads) > 1 and count > RACE_MAX_PROVIDERS:
                skipped = (
                    f"spread off skipped above {RACE_MAX_PROVIDERS} providers: each of the {count:,} sends a claim per job "
                    f"(`python -m benchmarks.providers --providers {count} --spread off` runs it)"
                )
            runs.append(Run(count, lone_jobs if count == 1 else jobs, spread, skipped))
    return runs


def curve(
    m: Any,
    workdir: Path,
    *,
    providers: list[int],
    jobs: int,
    lone_jobs: int,
    spreads: tuple[bool, ...] = (False, True),
    log: Log = print,
) -> list[dict[str, Any]]:
    """The runs of :func:`plan`, one after the other; a skipped one is a row saying why."""
    results = []
    for run in plan(providers, jobs=jobs, lone_jobs=lone_jobs, spreads=spreads):
        if run.skipped:
            log(f"providers: {run.providers} providers, {run.skipped}")
            results.append({"providers": run.providers, "jobs": run.jobs, "spread": run.spread, "skipped": run.skipped})
            continue
        where = workdir / f"p{run.providers}-{'spread' if run.spread else 'race'}"
        results.append(simulate(m, where, providers=run.providers, jobs=run.jobs, spread=run.spread, log=log))
    return results


def markdown(runs: list[dict[str, Any]]) -> list[str]:
    """Part h's section of benchmarks/results/latest.md."""
    lines = [
        "## h. Claim races against the number of providers (simulated providers, real contracts and claim step, lockstep blocks)",
        "",
        "| providers | jobs | spread | failed claims / job | gas wasted / job | RPC / job / provider (no receipt polls) "
        "| post -> claim blocks p50 / p90 / max | journal KiB / provider | indexer lag max blocks | index KiB | sim s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        if r.get("skipped"):
            lines.append(f"| {r['providers']} | - | {'on' if r['spread'] else 'off'} | {r['skipped']} |" + " |" * 7)
            continue
        d = r["claim_delay_blocks"]
        lines.append(
            f"| {r['providers']} | {r['jobs']} | {'on' if r['spread'] else 'off'} | **{r['failed_claims_per_job']:.2f}** "
            f"| {r['wasted_gas_per_job']:,.0f} | {r['rpc_per_job_per_provider']:.1f} ({r['rpc_per_job_per_provider_no_receipt_polls']:.1f}) "
            f"| {d['p50']:g} / {d['p90']:g} / {d['max']:g} | {r['journal_bytes_per_provider'] / 1024:.0f} "
            f"| {r['indexer_lag']['max_lag_blocks']} | {r['index_bytes'] / 1024:.0f} | {r['run_s']:.0f} |"
        )
    lines += [
        "",
        "Every provider takes every job (the worst case). A block is mined once every provider has reacted to the last one "
        f"(an L2 block outlasting a worker's poll); the spread's clock runs {BLOCK_S:g} s per block. Receipt polls depend on "
        "how long the simulation leaves a transaction unmined. Nothing here is extrapolated: each row is one run.",
        "",
        "What still grows with the number of providers P, spread on: the node's load per job (every provider reads every "
        "block's logs and looks at every job it serves, so RPC per job per provider stays flat and RPC per job in all is "
        "P times it), the journal rows (each provider journals each job it serves), the slots a late-ranked provider "
        "waits (log2 P: a job the first-ranked do not want waits longer), the explorer's index (each provider's "
        "registration and stake are indexed), and the claims that race when providers do not follow the spread (it is "
        "a convention: each one that claims at once adds a race). Failed claims per job and RPC per job per provider do "
        "not grow with P, spread on.",
        "",
    ]
    return lines


if __name__ == "__main__":
    import argparse
    import json
    import shutil

    from benchmarks import market as bench_market

    p = argparse.ArgumentParser(
        prog="python -m benchmarks.providers", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help=f"smaller run: {QUICK}")
    p.add_argument("--providers", type=int, nargs="+", help=f"provider counts (full: {FULL['providers']})")
    p.add_argument("--jobs", type=int, help=f"jobs per run (full: {FULL['jobs']})")
    p.add_argument(
        "--spread",
        choices=("both", "on", "off"),
        default="both",
        help=f"runs with the claim spread on, off or both (both: off is skipped above {RACE_MAX_PROVIDERS} providers)",
    )
    args = p.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    sizes.update({k: v for k, v in (("providers", args.providers), ("jobs", args.jobs)) if v})
    if min(sizes["providers"]) < 1 or sizes["jobs"] < 1:
        p.error("--providers and --jobs must be at least 1")
    begun = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - begun:6.1f}s] {message}", file=sys.stderr, flush=True)

    work = Path(tempfile.mkdtemp(prefix="ngx-bench-providers-"))
    try:
        with bench_market.local_market(work, work / "ngx-cache", say) as net:
            spreads = {"both": (False, True), "on": (True,), "off": (False,)}[args.spread]
            runs = curve(net, work, spreads=spreads, log=say, **sizes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(markdown(runs)))
    print(json.dumps(runs, indent=1, default=str), file=sys.stderr)
