"""Part e: what one verified inference costs in a batch job, against a job of one.

For each batch size N (mlp: 1, 4, 16; mnist_cnn: one size) one job is driven step by step on the
local market of parts b-d: approve, post (N commitments), claim, deliverInput (the sealed N inputs
on chain), prove (one proof of all N), submitResult. Reported per job and divided by N: gas of
post + claim + deliver + submit, calldata bytes of those transactions, proving seconds (CPU time
of witness + proof, as the tuner measures, so that the other core's load does not skew it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import ngx_zk as ngx
from ngx_zk import consumer, evm
from ngx_zk.artifacts import Circuit
from ngx_zk.consumer import JobRecord
from ngx_zk.inputs import parse_batch, read_lines
from ngx_zk.publish import publish

from .market import NGX, WINDOW_S, Log, Net, _gas
from .pipeline import MODELS

PRICE = 10 * NGX
SIZES = {"mlp": (1, 4, 16), "mnist_cnn": (2,)}
QUICK_SIZES = {"mlp": (1, 4)}


def batch_inputs(model: str, n: int) -> list[Any]:
    """``n`` input objects: the model's batch16.jsonl lines (mlp) or its sample input, cycled."""
    lines = MODELS / model / "batch16.jsonl"
    objects = read_lines(lines) if lines.is_file() else [json.loads((MODELS / model / "input.json").read_text())]
    return [objects[k % len(objects)] for k in range(n)]


def _tx_bytes(net: Net, tx: str) -> int:
    return len(bytes(net.market.chain.w3.eth.get_transaction(tx)["input"]))  # type: ignore[arg-type]


def one_job(net: Net, model: str, circuit: Circuit, model_id: int, workdir: Path) -> dict[str, Any]:
    m, chain = net.market, net.market.chain
    n = circuit.manifest.batch
    data = parse_batch(batch_inputs(model, n), circuit.manifest)
    buyer, provider = net.signer("consumer"), net.signer("provider")
    commitment, salted = ngx.commit(circuit.manifest, data, new_salt=True)
    chain.send(m.token.functions.approve(m.market.address, PRICE), buyer, what="approve NGX")
    job_id, post = m.post_job(buyer, model_id, commitment.values, PRICE, WINDOW_S, WINDOW_S, 0)
    claim = m.claim(provider, job_id)
    record = JobRecord(
        chain.chain_id, job_id, circuit.name, model_id, buyer.address, commitment.hex, PRICE, salted.to_json(), post.tx
    )
    deliver = chain.receipt(consumer.deliver_input(m, buyer, record, m.job(job_id)))
    assert deliver is not None
    proof_file = workdir / f"batch-{circuit.name}-{job_id}.json"
    started = time.process_time()
    ngx.prove(circuit, salted, proof_file, net.settings)
    prove_cpu_s = time.process_time() - started
    proof, instances = evm.calldata(proof_file)
    submit = m.submit(provider, job_id, proof, instances)
    steps = {"post": _gas(post), "claim": _gas(claim), "deliver_input": _gas(deliver), "submit_result": _gas(submit)}
    total = sum(steps.values())
    calldata = sum(_tx_bytes(net, t) for t in (post.tx, claim.tx, deliver.tx, submit.tx))
    return {
        "model": circuit.name,
        "batch": n,
        "logrows": circuit.manifest.logrows,
        **steps,
        "total_gas": total,
        "gas_per_inference": total / n,
        "calldata_bytes": calldata,
        "calldata_per_inference": calldata / n,
        "proof_bytes": len(proof),
        "prove_cpu_s": prove_cpu_s,
        "prove_cpu_s_per_inference": prove_cpu_s / n,
    }


def run(net: Net, workdir: Path, log: Log, sizes: dict[str, tuple[int, ...]] = SIZES) -> dict[str, Any]:
    deployer = net.signer("deployer")
    rows = []
    for model, batches in sizes.items():
        for n in batches:
            log(f"batch: building {model} for {n} input(s) per proof")
            circuit = ngx.build_circuit(MODELS / model, net.settings, batch=n, name=f"{model}_bench_b{n}")
            model_id = publish(net.settings, net.market, deployer, circuit, royalty_bps=100).model_id
            one_job(net, model, circuit, model_id, workdir)  # first job of the model: cold storage writes
            row = one_job(net, model, circuit, model_id, workdir)
            rows.append(row)
            log(
                f"batch: {model} N={n}: {row['gas_per_inference']:,.0f} gas and {row['prove_cpu_s_per_inference']:.2f} "
                f"CPU-s per inference"
            )
    base = {r["model"].rsplit("_bench_b", 1)[0]: r for r in rows if r["batch"] == 1}
    for r in rows:
        single = base.get(r["model"].rsplit("_bench_b", 1)[0])
        if single is not None:
            r["gas_vs_single"] = r["gas_per_inference"] / single["total_gas"]
            r["prove_vs_single"] = r["prove_cpu_s_per_inference"] / single["prove_cpu_s"]
    return {"rows": rows}
