"""Part i: settlement gas per job (issue #24), from receipts on the local anvil market of parts b-d.

Three ways to settle N jobs (N = 1, 4, 16; job k posted by consumer k % 4, all on the mlp entry of the
dedicated verifier, each with its own input commitment and a real EZKL proof of it):

* eager single: one ``submitResult`` per job (the proof verified on chain);
* eager batched: one ``settleResults`` of the N jobs (every proof verified, effects aggregated);
* optimistic batched: one ``submitResults`` (outputs and the proof's hash, no verification) and, after the
  challenge window, one ``finalizeBatch``;
* gasless batched: the consumers sign orders (no transaction of theirs; the input goes to the provider with the
  offer, off chain), the provider fills the N in one ``fillOrders`` (post + escrow + claim of each), then settles
  them optimistically as above. The same orders filled one ``fillOrder`` each are measured beside it.

Each mode runs from the same anvil snapshot (the same jobs, the same fresh statements), after one eager and one
optimistic job settled on the reusable entry so that credits and pools are not empty (steady state). Gas is the
receipts' ``gasUsed`` (21,000 and calldata included, refunds applied). The all-in per job of the optimistic mode is
post + claim + deliverInput (the sealed input on chain) + its shares of the submission and the finalization; of the
gasless mode, its share of the ``fillOrders`` + its shares of the submission and the finalization.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ngx_zk as ngx
from ngx_zk import consumer, evm
from ngx_zk.chain.market import JobTerms
from ngx_zk.chain.orders import Order, Permit, SignedOrder
from ngx_zk.chain.settlement import Result, Settlement
from ngx_zk.chain.signer import Signer
from ngx_zk.chain.tx import Mined
from ngx_zk.consumer import JobRecord

from .market import MODEL, NGX, WINDOW_S, Log, Net
from .pipeline import MODELS

PRICE = 10 * NGX
SIZES = (1, 4, 16)
CONSUMERS = ("consumer", "consumer2", "auditor", "provider2")
"""Four funded dev accounts act as the four consumers."""
MODES = ("eager_single", "eager_batched", "optimistic", "gasless_batched")


class Proved:
    """One job's input: its commitment, salted input and a real proof (calldata form) of it."""

    def __init__(self, commitment: Any, salted: Any, proof: bytes, instances: list[int]) -> None:
        self.commitment, self.salted, self.proof, self.instances = commitment, salted, proof, instances


def prove_inputs(net: Net, n: int, workdir: Path, log: Log) -> list[Proved]:
    """``n`` fresh salted commitments of the mlp sample input, each with its proof."""
    data = ngx.load_input(MODELS / MODEL / "input.json", net.circuit.manifest)
    out = []
    for k in range(n):
        commitment, salted = ngx.commit(net.circuit.manifest, data, new_salt=True)
        proof_file = workdir / f"settle-{k}.json"
        ngx.prove(net.circuit, salted, proof_file, net.settings)
        proof, instances = evm.calldata(proof_file)
        out.append(Proved(commitment, salted, bytes(proof), [int(v) for v in instances]))
    log(f"settlement gas: {n} proofs of {MODEL}")
    return out


def _rpc(net: Net, method: str, params: list[Any] | None = None) -> Any:
    reply = net.market.chain.w3.provider.make_request(method, params or [])  # type: ignore[arg-type]
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply.get("result")


def _advance(net: Net, seconds: int) -> None:
    _rpc(net, "evm_increaseTime", [seconds])
    _rpc(net, "evm_mine")


class Bench:
    """The jobs of one run: post, claim, deliver, then settle them in one mode."""

    def __init__(self, net: Net) -> None:
        self.net, self.m = net, net.market
        self.settlement = Settlement(net.market)
        self.provider = net.signer("provider")
        self.finalizer = net.signer("deployer")
        self.consumers = [net.signer(role) for role in CONSUMERS]
        self.output_count = net.circuit.manifest.output_instance_count

    def fund(self) -> None:
        funder = self.net.signer("ecosystem")
        for buyer in self.consumers:
            if self.m.token.functions.balanceOf(buyer.address).call() < 1_000 * NGX:
                self.m.transfer(funder, buyer.address, 1_000 * NGX)
            self.m.chain.send(self.m.token.functions.approve(self.m.market.address, 10**30), buyer, what="approve NGX")

    def post_claim(self, buyer: Signer, model_id: int, p: Proved, mode: int, deliver: bool) -> tuple[int, dict[str, int]]:
        terms = JobTerms(model_id, PRICE, PRICE, WINDOW_S, WINDOW_S, settlement=mode)
        job_id, post = self.m.post_job_with_terms(buyer, terms, p.commitment.values)
        gas = {"post": post.gas_used, "claim": self.m.claim(self.provider, job_id).gas_used}
        if deliver:
            record = JobRecord(
                self.m.chain.chain_id, job_id, MODEL, model_id, buyer.address, p.commitment.hex, PRICE,
                p.salted.to_json(), post.tx,
            )  # fmt: skip
            tx = consumer.deliver_input(self.m, buyer, record, self.m.job(job_id))
            mined = self.m.chain.receipt(tx)
            if mined is None:
                raise RuntimeError(f"deliverInput of job {job_id}: no receipt ({tx})")
            gas["deliver_input"] = mined.gas_used
        return job_id, gas

    def optimistic(self, ids: list[int], proved: list[Proved]) -> tuple[Mined, Mined]:
        results = [Result.of(j, p.proof, p.instances, self.output_count) for j, p in zip(ids, proved, strict=True)]
        batch_id, submitted = self.settlement.submit_results(self.provider, results)
        window = self.settlement.terms().challenge_window
        _advance(self.net, window + 1)
        return submitted, self.settlement.finalize(self.finalizer, batch_id, results)

    def warm_up(self, proved: list[Proved]) -> None:
        """One eager and one optimistic job settled on the reusable entry (other statements than the measured ones)."""
        reusable = self.net.model_ids["reusable"]
        job_id, _ = self.post_claim(self.consumers[0], reusable, proved[0], 0, deliver=False)
        self.m.submit(self.provider, job_id, proved[0].proof, proved[0].instances)
        job_id, _ = self.post_claim(self.consumers[1], reusable, proved[1], 1, deliver=False)
        self.optimistic([job_id], proved[1:2])

    def orders(self, model_id: int, proved: list[Proved]) -> list[SignedOrder]:
        """One signed order per input, job k of consumer k % 4 (consecutive nonces: one bitmap word per consumer)."""
        m, now = self.m, self.m.chain.timestamp()
        terms = JobTerms(model_id, PRICE, PRICE, WINDOW_S, WINDOW_S, settlement=1)
        signed = []
        for k, p in enumerate(proved):
            buyer = self.consumers[k % 4]
            order = Order(buyer.address, terms, tuple(p.commitment.values), self.provider.address, k, now, now + 3_600)
            signed.append(SignedOrder.sign(buyer, order, Permit.none(), m.chain.chain_id, m.market.address))
        return signed

    def gasless(self, proved: list[Proved]) -> dict[str, Any]:
        """N orders filled in one ``fillOrders`` (and, from a snapshot, one ``fillOrder`` each), settled optimistically."""
        n, signed = len(proved), self.orders(self.net.model_ids["dedicated"], proved)
        snapshot = _rpc(self.net, "evm_snapshot")
        try:
            alone = sum(self.m.fill_order(self.provider, s)[1].gas_used for s in signed)
        finally:
            _rpc(self.net, "evm_revert", [snapshot])
        batch = self.m.fill_orders(self.provider, signed)
        ids = [o for o in batch.outcomes if isinstance(o, int)]
        if len(ids) != n:
            raise RuntimeError(f"settlement gas: fillOrders skipped {n - len(ids)} of {n} orders: {batch.outcomes}")
        submitted, finalized = self.optimistic(ids, proved)
        row: dict[str, Any] = {"mode": "gasless_batched", "n": n, "fill_per_job": batch.receipt.gas_used / n}
        row["fill_order_per_job"] = alone / n
        row["submit_per_job"] = submitted.gas_used / n
        row["finalize_per_job"] = finalized.gas_used / n
        row["settlement_per_job"] = (submitted.gas_used + finalized.gas_used) / n
        row["all_in_per_job"] = row["fill_per_job"] + row["settlement_per_job"]
        self._check_settled("gasless_batched", ids)
        return row

    def _check_settled(self, mode: str, ids: list[int]) -> None:
        statuses = {self.m.job(j).status.name for j in ids}
        if statuses != {"SETTLED"}:
            raise RuntimeError(f"settlement gas: {mode} N={len(ids)} left jobs {sorted(statuses)}, not all settled")

    def run(self, mode: str, proved: list[Proved]) -> dict[str, Any]:
        """The N = len(proved) jobs settled in ``mode``; gas per job of each step."""
        if mode == "gasless_batched":
            return self.gasless(proved)
        n, model_id = len(proved), self.net.model_ids["dedicated"]
        steps: dict[str, int] = {}
        ids = []
        for k, p in enumerate(proved):
            job_id, gas = self.post_claim(
                self.consumers[k % 4], model_id, p, 1 if mode == "optimistic" else 0, deliver=mode == "optimistic"
            )
            ids.append(job_id)
            for key, value in gas.items():
                steps[key] = steps.get(key, 0) + value
        row: dict[str, Any] = {"mode": mode, "n": n}
        if mode == "eager_single":
            settle = sum(self.m.submit(self.provider, j, p.proof, p.instances).gas_used for j, p in zip(ids, proved, strict=True))
            row["settlement_per_job"] = settle / n
        elif mode == "eager_batched":
            mined = self.settlement.settle_many(self.provider, ids, [p.proof for p in proved], [p.instances for p in proved])
            row["settlement_per_job"] = mined.gas_used / n
        else:
            submitted, finalized = self.optimistic(ids, proved)
            row["submit_per_job"] = submitted.gas_used / n
            row["finalize_per_job"] = finalized.gas_used / n
            row["settlement_per_job"] = (submitted.gas_used + finalized.gas_used) / n
            row["all_in_per_job"] = sum(steps.values()) / n + row["settlement_per_job"]
        row.update({f"{key}_per_job": value / n for key, value in steps.items()})
        self._check_settled(mode, ids)
        return row


def run(net: Net, workdir: Path, log: Log, sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """Part i: every mode at every size, each from one snapshot; rows of gas per job."""
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(net)
    bench.fund()
    proved = prove_inputs(net, max(sizes), workdir, log)
    bench.warm_up(proved)
    rows = []
    for n in sizes:
        for mode in MODES:
            snapshot = _rpc(net, "evm_snapshot")  # anvil drops a snapshot once reverted to: a new one each run
            try:
                row = bench.run(mode, proved[:n])
            finally:
                _rpc(net, "evm_revert", [snapshot])
            rows.append(row)
            log(f"settlement gas: {mode} N={n}: {row['settlement_per_job']:,.0f} per job")
    return {"rows": rows, "model": MODEL, "consumers": len(CONSUMERS)}


def _cell(rows: list[dict[str, Any]], mode: str, n: int, key: str) -> str:
    for r in rows:
        if r["mode"] == mode and r["n"] == n and key in r:
            return f"{r[key]:,.0f}"
    return "n/a"


def markdown(results: dict[str, Any]) -> list[str]:
    """Part i's section of benchmarks/results/latest.md: the three modes side by side."""
    rows = results["rows"]
    sizes = sorted({r["n"] for r in rows})

    def cell(mode: str, n: int, key: str) -> str:
        return _cell(rows, mode, n, key)

    lines = [
        f"## i. Settlement gas per job ({results['model']}, jobs of {results['consumers']} consumers, receipts on anvil)",
        "",
        "| N | eager single (submitResult) | eager batched (settleResults) | optimistic (submitResults + finalizeBatch) "
        "| optimistic all-in (post + claim + deliverInput + settlement) | gasless: fillOrders (fillOrder each) "
        "| gasless all-in (fillOrders + settlement) |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in sizes:
        lines.append(
            f"| {n} | {cell('eager_single', n, 'settlement_per_job')} | {cell('eager_batched', n, 'settlement_per_job')} "
            f"| **{cell('optimistic', n, 'settlement_per_job')}** ({cell('optimistic', n, 'submit_per_job')} + "
            f"{cell('optimistic', n, 'finalize_per_job')}) | {cell('optimistic', n, 'all_in_per_job')} "
            f"| {cell('gasless_batched', n, 'fill_per_job')} ({cell('gasless_batched', n, 'fill_order_per_job')}) "
            f"| **{cell('gasless_batched', n, 'all_in_per_job')}** |"
        )
    lines += [
        "",
        "Each mode settles the same jobs from one snapshot (real proofs, a fresh statement each). The issue's goals at "
        "N = 16: optimistic settlement <= 75k and all-in <= 250k per job; eager batched below eager single. The gasless "
        "jobs' inputs travel off chain with their orders (no deliverInput); their consumers send no transaction.",
        "",
    ]
    return lines


__all__ = ["MODES", "SIZES", "markdown", "run"]
