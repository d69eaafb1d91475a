"""Parts b-d: the marketplace on a local anvil, with the worker as its own process.

b. end-to-end job latency (post -> settled, as the consumer sees it) against bare proving time of
   the same circuit on the same machine: cold (first job after the worker started) and warm, for an
   offered job (``prove-job --provider``: the worker gets the sealed input before the post and proves
   while the job is posted and claimed) and an open one (input handed over after the claim);
c. gas per job from receipts (approve, post, claim, deliverInput, submitResult) for the dedicated
   verifier and for the reusable one (a second registry entry for the same circuit), with the
   verifier's share of submitResult by eth_estimateGas on the verifier directly and by a call trace,
   and submitResult's bookkeeping: its gas minus the same verifier call made alone with the same
   proof and instances, each without its own transaction's 21,000 + calldata cost (issue #13);
d. worker throughput (jobs per minute) at --concurrency 1 and 2.

The setup mirrors tests/chain_fixtures.py: anvil on a port it picks, every contract deployed, the mlp
example built, published and staked for.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

import ngx_zk as ngx
from ngx_zk import consumer, crypto, evm, keys
from ngx_zk.artifacts import Circuit
from ngx_zk.chain import devnet
from ngx_zk.chain.abi import abi
from ngx_zk.chain.market import JobStatus, JobTerms, Marketplace, VerifierKind
from ngx_zk.chain.signer import Signer
from ngx_zk.chain.tx import Chain, Mined
from ngx_zk.consumer import JobRecord
from ngx_zk.provenance import artifacts_hash
from ngx_zk.publish import publish

from .pipeline import MODELS, median

NGX = 10**18
PRICE = 10 * NGX
WINDOW_S = 600
MODEL = "mlp"
LATENCY_MODELS = ("mlp", "mnist_cnn")
"""Part b runs on the smallest and the largest example: the overhead around a proof is about constant, so its
ratio to the proof depends on the proof."""
WORKER_POLL_S = 0.25  # the defaults: both wake on new blocks (newHeads over anvil's WebSocket)
CONSUMER_POLL_S = 0.25
JOB_TIMEOUT_S = 180.0

Log = Callable[[str], None]


@dataclass
class Net:
    home: Path
    url: str
    settings: ngx.Settings
    market: Marketplace
    circuit: Circuit
    model_ids: dict[str, int]  # verifier kind -> registry id of the same circuit

    def signer(self, role: str) -> Signer:
        return devnet.dev_signer(self.settings, role)

    def listen_endpoint(self) -> str:
        """A free local port for the worker's data plane, registered on chain as the provider's endpoint."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        provider = self.signer("provider")
        endpoint = f"http://127.0.0.1:{port}"
        self.market.update_provider(
            provider, crypto.public_bytes(crypto.derive_key(provider.encryption_key_material())), endpoint
        )
        return endpoint

    def env(self, state_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NGX_ZK_")}
        env.update(
            NGX_ZK_HOME=str(self.home),
            NGX_ZK_CACHE_DIR=str(self.settings.cache_dir),
            NGX_ZK_RPC_URL=self.url,
            NGX_ZK_STATE_DIR=str(state_dir),
        )
        return env

    def consumer_settings(self, state_dir: Path) -> ngx.Settings:
        return ngx.load_settings(self.env(state_dir))


@contextlib.contextmanager
def local_market(workdir: Path, cache_dir: Path, log: Log) -> Iterator[Net]:
    """anvil + contracts + mlp published twice (dedicated, reusable) + a staked provider; anvil stops on exit."""
    home = workdir / "chain-home"
    settings = ngx.load_settings({"NGX_ZK_HOME": str(home), "NGX_ZK_CACHE_DIR": str(cache_dir)})
    log("devnet: starting anvil and deploying the contracts")
    status = devnet.up(settings, port=0, fresh=True)  # anvil picks a free port
    try:
        chain = Chain([status.url], expected_chain_id=devnet.DEV_CHAIN_ID)
        settings = ngx.load_settings({"NGX_ZK_HOME": str(home), "NGX_ZK_CACHE_DIR": str(cache_dir), "NGX_ZK_RPC_URL": status.url})
        deployer = devnet.dev_signer(settings, "deployer")
        market = devnet.deploy_dev(settings, chain, fund=("consumer", "provider"))
        log(f"devnet: building and publishing {MODEL} (dedicated verifier, then a reusable-verifier entry)")
        circuit = ngx.build_circuit(MODELS / MODEL, settings)
        dedicated = publish(settings, market, deployer, circuit, kind="dedicated", royalty_bps=100)
        reusable = register_reusable(settings, market, deployer, circuit)
        provider = devnet.dev_signer(settings, "provider")
        market.register_provider(provider, crypto.public_bytes(crypto.derive_key(provider.encryption_key_material())), "")
        market.stake(provider, 5_000 * NGX)
        yield Net(home, status.url, settings, market, circuit, {"dedicated": dedicated.model_id, "reusable": reusable})
    finally:
        log("devnet: stopping anvil")
        devnet.down(settings)


def register_reusable(settings: ngx.Settings, market: Marketplace, signer: Signer, circuit: Circuit) -> int:
    """A second registry entry for the same circuit, verified by the shared reusable verifier (see publish.py)."""
    m = circuit.manifest
    vka = evm.vka_words(settings, circuit)
    spec = {
        "onnx_hash": bytes.fromhex(m.onnx_sha256),
        "settings_hash": bytes.fromhex(m.settings_sha256),
        "vk_digest": keccak(vka),
        "verifier": market.deployment.address("Halo2VerifierReusable"),
        "kind": VerifierKind.REUSABLE,
        "input_commitment_count": m.commitment_count,
        "output_count": m.output_instance_count,
        "royalty_bps": 100,
        "insecure_test_srs": m.insecure,
        "metadata_uri": f"ngx-zk:{m.name}:reusable",
        "artifacts_hash": artifacts_hash(circuit),
    }
    model_id, _ = market.register_model(signer, spec, vka)
    return model_id


class WorkerProcess:
    """``python -m ngx_zk worker`` as its own process, logging JSON lines to a file we read."""

    def __init__(self, net: Net, state_dir: Path, *args: str, models: tuple[str, ...] = (MODEL,)) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.log_file = state_dir / "worker.log"
        self.started = time.time()
        served = [arg for name in models for arg in ("--model", name)]
        with (state_dir / "worker.out").open("w") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ngx_zk",
                    "worker",
                    *served,
                    "--account",
                    "provider",
                    "--poll",
                    str(WORKER_POLL_S),
                    "--log-file",
                    str(self.log_file),
                    *args,
                ],
                env=net.env(state_dir),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def events(self) -> list[dict[str, Any]]:
        if not self.log_file.is_file():
            return []
        return [json.loads(line) for line in self.log_file.read_text().splitlines() if line.startswith("{")]

    def wait_ready(self, timeout_s: float = 120) -> float:
        """Seconds from process start to the worker's ``worker.start`` log line (keys loaded, chain checked)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready = [e for e in self.events() if e["event"] == "worker.start"]
            if ready:
                return float(ready[0]["ts"]) - self.started
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the worker exited at start (code {self.proc.returncode}); see {self.log_file.parent}/worker.out"
                )
            time.sleep(0.05)
        raise RuntimeError(f"the worker was not ready within {timeout_s:.0f}s")

    def stop(self, timeout_s: float = 60) -> None:
        """Warm shutdown (SIGTERM: finish the jobs in hand), then SIGKILL if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, error: type[BaseException] | None, *_: object) -> None:
        if error is not None and self.proc.poll() is None:
            self.proc.kill()  # a failed or interrupted run: no warm shutdown (it would wait for inputs that never come)
        self.stop()


def bare_prove(net: Net, circuit: Circuit, workdir: Path, repeats: int) -> list[float]:
    """``ngx_zk.prove`` of a served circuit on the same machine, without chain or worker."""
    data = ngx.load_input(MODELS / circuit.name / "input.json", circuit.manifest)
    salted = ngx.commit(circuit.manifest, data)[1]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        ngx.prove(circuit, salted, workdir / "bare-proof.json", net.settings)
        times.append(time.perf_counter() - started)
    return times


def pk_mtime(net: Net, circuit: Circuit) -> int:
    m = circuit.manifest
    return (keys.key_dir(net.settings, m.name, m.compiled_sha256, m.srs.sha256) / keys.PK).stat().st_mtime_ns


def one_job(net: Net, settings: ngx.Settings, circuit: Circuit, data: ngx.InputData, offer: bool) -> dict[str, Any]:
    """Post a job and follow it as ``prove-job`` does (offer it to the provider if ``offer``; deliver
    on claim, wait, verify the settled proof)."""
    signer = net.signer("consumer")
    seen: dict[str, float] = {}
    posted_at = time.time()
    started = time.perf_counter()
    record = consumer.post_job(
        settings,
        net.market,
        signer,
        circuit,
        data,
        price=PRICE,
        claim_window=WINDOW_S,
        prove_window=WINDOW_S,
        min_reputation=0,
        offer_to=net.signer("provider").address if offer else None,
    )
    posted = time.perf_counter()
    if offer and not record.offered_to:
        raise RuntimeError(f"the worker's endpoint did not take the offer of job {record.job_id}")

    def progress(message: str) -> None:
        if message.startswith("verifying"):
            seen["settled"] = time.perf_counter()

    result = consumer.wait_for_result(
        settings, net.market, signer, circuit, record, progress=progress, timeout_s=JOB_TIMEOUT_S, poll_s=CONSUMER_POLL_S
    )
    done = time.perf_counter()
    if result.status is not JobStatus.SETTLED or not result.proof_valid:
        raise RuntimeError(f"job {record.job_id} ended {result.status.value}")
    return {
        "job_id": record.job_id,
        "offered": offer,
        "posted_at": posted_at,
        "post_s": posted - started,
        "settled_s": seen["settled"] - started,
        "verified_s": done - started,
    }


def _breakdown(job: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, float]:
    """Where a job's time went, from the worker's log timestamps (wall clock, ms resolution)."""
    at = {e["event"]: float(e["ts"]) for e in events if e.get("job_id") == job["job_id"]}
    proved = next((e for e in events if e.get("job_id") == job["job_id"] and e["event"] == "job.proved"), {})
    marks = [
        ("post", job["posted_at"]),
        ("offered", at.get("job.offered")),
        ("claimed", at.get("job.claimed")),
        ("input", at.get("job.input")),
        ("proved", at.get("job.proved")),
        ("settled", at.get("job.settled")),
    ]
    out: dict[str, float] = {}
    for (a, ta), (b, tb) in itertools.pairwise(marks):
        if ta is not None and tb is not None:
            out[f"{a}->{b}"] = tb - ta
        if b == "proved" and "prove_s" in proved:
            out["(of which ezkl.prove)"] = float(proved["prove_s"])
    return out


def latency(net: Net, workdir: Path, warm_jobs: int, log: Log) -> dict[str, Any]:
    """Part b, per model of ``LATENCY_MODELS`` (one worker serves them all): a cold job (the model's first
    after the worker started), then ``warm_jobs`` warm ones of each kind (offered, open), alternating.

    A bare ``ngx_zk.prove`` of the same circuit runs here after each job (the worker idles then), so
    the bare and end-to-end times see the same machine load."""
    circuits = {MODEL: net.circuit}
    for name in LATENCY_MODELS[1:]:
        log(f"latency: building and publishing {name}")
        circuits[name] = ngx.build_circuit(MODELS / name, net.settings)
        publish(net.settings, net.market, net.signer("deployer"), circuits[name], kind="dedicated")
    settings = net.consumer_settings(workdir / "consumer")
    pk_before = {name: pk_mtime(net, c) for name, c in circuits.items()}
    endpoint = net.listen_endpoint()
    runs: dict[str, tuple[list[dict[str, Any]], list[float]]] = {name: ([], []) for name in circuits}
    with WorkerProcess(
        net, workdir / "worker-latency", "--listen", endpoint.removeprefix("http://"), models=tuple(circuits)
    ) as worker:
        startup_s = worker.wait_ready()
        log(f"latency: worker ready in {startup_s:.1f}s")
        for name, circuit in circuits.items():
            data = ngx.load_input(MODELS / name / "input.json", circuit.manifest)
            jobs, bare = runs[name]
            for i, offer in enumerate([True] + [True, False] * warm_jobs):
                jobs.append(one_job(net, settings, circuit, data, offer))
                bare += bare_prove(net, circuit, workdir, 1)
                kind = "cold" if i == 0 else "offered" if offer else "open"
                log(f"latency: {name} {kind} job: {jobs[-1]['settled_s']:.2f}s (bare prove {bare[-1]:.2f}s)")
        worker.stop()
        events = worker.events()
    out: dict[str, Any] = {
        "worker_poll_s": WORKER_POLL_S,
        "consumer_poll_s": CONSUMER_POLL_S,
        "worker_startup_s": startup_s,
        "pk_rewritten_during_jobs": any(pk_mtime(net, c) != pk_before[n] for n, c in circuits.items()),
        "models": [],
    }
    for name, (jobs, bare) in runs.items():
        for job in jobs:
            job["breakdown"] = _breakdown(job, events)
        bare_s = median(bare)
        row: dict[str, Any] = {
            "model": name,
            "logrows": circuits[name].manifest.logrows,
            "bare_prove_s": bare_s,
            "bare_prove_runs_s": bare,
            "cold_s": jobs[0]["settled_s"],
            "cold_ratio": jobs[0]["settled_s"] / bare_s,
            "jobs": jobs,
        }
        for kind, offered in (("warm", True), ("warm_open", False)):
            warm = [j for j in jobs[1:] if j["offered"] is offered]
            row[f"{kind}_s"] = median([j["settled_s"] for j in warm]) if warm else float("nan")
            row[f"{kind}_ratio"] = row[f"{kind}_s"] / bare_s
            row[f"{kind}_verified_s"] = median([j["verified_s"] for j in warm]) if warm else float("nan")
            row[f"{kind}_breakdown_s"] = {
                k: median([j["breakdown"][k] for j in warm if k in j["breakdown"]])
                for k in (warm[0]["breakdown"] if warm else {})
            }
        out["models"].append(row)
    return out


def _gas(receipt: Mined) -> int:
    return receipt.gas_used


def _intrinsic(data: bytes) -> int:
    return 21_000 + sum(16 if b else 4 for b in data)


def _traced_call_gas(net: Net, tx: str, to: str) -> int | None:
    """Gas used by the call to ``to`` inside transaction ``tx`` (anvil's callTracer), if the node traces."""
    reply = net.market.chain.w3.provider.make_request("debug_traceTransaction", [tx, {"tracer": "callTracer"}])  # type: ignore[arg-type]
    stack = [reply.get("result") or {}]
    while stack:
        frame = stack.pop()
        if str(frame.get("to", "")).lower() == to.lower() and frame.get("type") in ("STATICCALL", "CALL"):
            return int(frame["gasUsed"], 16)
        stack.extend(frame.get("calls", []))
    return None


def job_gas(net: Net, kind: str, data: ngx.InputData, workdir: Path) -> dict[str, Any]:
    """One job on the registry entry of ``kind``, driven here step by step; gas of each transaction."""
    m, chain = net.market, net.market.chain
    model_id = net.model_ids[kind]
    buyer, provider = net.signer("consumer"), net.signer("provider")
    commitment, salted = ngx.commit(net.circuit.manifest, data, new_salt=True)
    seconds: dict[str, float] = {}

    def timed(step: str, send: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        out = send()
        seconds[step] = time.perf_counter() - started
        return out

    approve = timed("approve", lambda: chain.send(m.token.functions.approve(m.market.address, PRICE), buyer, what="approve NGX"))
    job_id, post = timed("post", lambda: m.post_job(buyer, model_id, commitment.values, PRICE, WINDOW_S, WINDOW_S, 0))
    claim = timed("claim", lambda: m.claim(provider, job_id))
    record = JobRecord(chain.chain_id, job_id, MODEL, model_id, buyer.address, commitment.hex, PRICE, salted.to_json(), post.tx)
    deliver = chain.receipt(timed("deliver_input", lambda: consumer.deliver_input(m, buyer, record, m.job(job_id))))
    proof_file = workdir / f"gas-{kind}-{job_id}.json"
    ngx.prove(net.circuit, salted, proof_file, net.settings)
    proof, instances = evm.calldata(proof_file)
    submit = timed("submit_result", lambda: m.submit(provider, job_id, proof, instances))

    entry = m.model(model_id)
    if entry.kind is VerifierKind.DEDICATED:
        verifier = chain.w3.eth.contract(
            address=to_checksum_address(entry.verifier), abi=evm.dedicated_verifier(net.settings, net.circuit).abi
        )
        fn = verifier.functions.verifyProof(proof, instances)
    else:
        vka = evm.vka_words(net.settings, net.circuit)
        verifier = chain.w3.eth.contract(address=to_checksum_address(entry.verifier), abi=abi("Halo2VerifierReusable"))
        fn = verifier.functions.verifyProof(proof, instances, [vka[i : i + 32] for i in range(0, len(vka), 32)])
    estimate = int(fn.estimate_gas({"from": provider.address}))
    calldata = bytes.fromhex(str(fn.build_transaction({"from": provider.address, "gas": 30_000_000})["data"])[2:])
    traced = _traced_call_gas(net, submit.tx, entry.verifier)
    submit_input = bytes(chain.w3.eth.get_transaction(submit.tx)["input"])
    # The verifier alone, as its own transaction would spend it beyond the intrinsic cost: the market's call
    # frame when the node traces (exact), else eth_estimateGas (an upper bound: the 63/64 rule).
    verifier_alone = traced if traced is not None else estimate - _intrinsic(calldata)
    assert deliver is not None
    return {
        "kind": kind,
        "job_id": job_id,
        "approve": _gas(approve),
        "post": _gas(post),
        "claim": _gas(claim),
        "deliver_input": _gas(deliver),
        "submit_result": _gas(submit),
        "verifier_estimate_tx": estimate,
        "verifier_estimate": estimate - _intrinsic(calldata),
        "verifier_traced": traced,
        "bookkeeping": _gas(submit) - _intrinsic(submit_input) - verifier_alone,
        "proof_bytes": len(proof),
        "tx_seconds": seconds,
    }


def gas(net: Net, workdir: Path, jobs_per_kind: int, log: Log) -> dict[str, Any]:
    """Part c: ``jobs_per_kind`` jobs per verifier kind; the last one is reported (no first-write costs)."""
    data = ngx.load_input(MODELS / MODEL / "input.json", net.circuit.manifest)
    out: dict[str, Any] = {}
    for kind in ("dedicated", "reusable"):
        runs = [job_gas(net, kind, data, workdir) for _ in range(jobs_per_kind)]
        out[kind] = {**runs[-1], "runs": runs}
        log(
            f"gas: {kind}: submitResult {runs[-1]['submit_result']:,}, verifier ~{runs[-1]['verifier_estimate']:,}, "
            f"bookkeeping {runs[-1]['bookkeeping']:,}"
        )
    return out


CALLBACK_GAS_LIMIT = 200_000


def callback_gas(net: Net, workdir: Path, plain: dict[str, Any], log: Log) -> dict[str, Any]:
    """Part c, a contract consumer's job (issue #16): the example LoanGate posts it (its own bookkeeping included),
    the borrower delivers the input, and the settlement calls the gate back; against ``plain``, a plain job's gas
    on the same (dedicated) verifier."""
    m, chain = net.market, net.market.chain
    model_id = net.model_ids["dedicated"]
    lender, borrower, provider = net.signer("consumer"), net.signer("consumer2"), net.signer("provider")
    terms = JobTerms(model_id, PRICE, PRICE, WINDOW_S, WINDOW_S, callback_gas_limit=CALLBACK_GAS_LIMIT)
    address = chain.deploy("LoanGate", lender, m.market.address, m.token.address, lender.address, terms.as_tuple(), 0, 0)
    m.transfer(lender, address, 4 * PRICE)
    gate = chain.contract("LoanGate", address)
    data = ngx.load_input(MODELS / MODEL / "input.json", net.circuit.manifest)
    runs = []
    for who in (borrower, net.signer("auditor")):  # two borrowers: the second job is reported (no first-write costs)
        commitment, salted = ngx.commit(net.circuit.manifest, data, new_salt=True)
        request = chain.send(gate.functions.requestLoan(list(commitment.values)), who, what="request a loan")
        job_id = int(chain.events_in(request, gate, "LoanRequested")[0]["jobId"])
        claim = m.claim(provider, job_id)
        record = JobRecord(chain.chain_id, job_id, MODEL, model_id, address, commitment.hex, PRICE, salted.to_json(), request.tx)
        deliver = chain.receipt(consumer.deliver_input(m, who, record, m.job(job_id)))
        proof_file = workdir / f"gas-callback-{job_id}.json"
        ngx.prove(net.circuit, salted, proof_file, net.settings)
        proof, instances = evm.calldata(proof_file)
        submit = m.submit(provider, job_id, proof, instances)
        assert deliver is not None
        runs.append(
            {
                "job_id": job_id,
                "request_loan": _gas(request),
                "claim": _gas(claim),
                "deliver_input": _gas(deliver),
                "submit_result": _gas(submit),
                "callback_used": _traced_call_gas(net, submit.tx, address),
            }
        )
    last = runs[-1]
    out = {
        **last,
        "callback_limit": CALLBACK_GAS_LIMIT,
        "plain_post": plain["post"],
        "plain_submit_result": plain["submit_result"],
        "submit_extra": last["submit_result"] - plain["submit_result"],
        "runs": runs,
    }
    log(
        f"gas: callback job: requestLoan (post through the gate) {last['request_loan']:,} vs postJob {plain['post']:,}; "
        f"submitResult {last['submit_result']:,} vs {plain['submit_result']:,} (+{out['submit_extra']:,}; the gate's callback "
        f"used {last['callback_used']}, limit {CALLBACK_GAS_LIMIT:,})"
    )
    return out


def throughput(net: Net, workdir: Path, jobs: int, concurrency: int, log: Log) -> dict[str, Any]:
    """Part d: post ``jobs`` jobs to a ready worker, deliver each input as it is claimed, time until all settle."""
    data = ngx.load_input(MODELS / MODEL / "input.json", net.circuit.manifest)
    settings = net.consumer_settings(workdir / f"consumer-c{concurrency}")
    signer = net.signer("consumer")
    records: list[JobRecord] = []
    delivered: set[int] = set()
    stop = threading.Event()
    errors: list[BaseException] = []

    def deliver_on_claim() -> None:
        try:
            while not stop.is_set():
                for record in list(records):
                    if record.job_id not in delivered:
                        job = net.market.job(record.job_id)
                        if job.status is JobStatus.CLAIMED:
                            consumer.deliver_input(net.market, signer, record, job)
                            delivered.add(record.job_id)
                stop.wait(CONSUMER_POLL_S)
        except BaseException as exc:
            errors.append(exc)

    with WorkerProcess(
        net, workdir / f"worker-c{concurrency}", "--concurrency", str(concurrency), "--max-jobs", str(jobs)
    ) as worker:
        worker.wait_ready()
        deliverer = threading.Thread(target=deliver_on_claim, name="deliver", daemon=True)
        started = time.perf_counter()
        deliverer.start()
        try:
            for _ in range(jobs):
                records.append(
                    consumer.post_job(
                        settings,
                        net.market,
                        signer,
                        net.circuit,
                        data,
                        price=PRICE,
                        claim_window=WINDOW_S,
                        prove_window=WINDOW_S,
                        min_reputation=0,
                    )
                )
            deadline = time.monotonic() + JOB_TIMEOUT_S * jobs
            while not all(net.market.job(r.job_id).status.final for r in records):
                if errors:
                    raise errors[0]
                if time.monotonic() > deadline:
                    raise RuntimeError(f"throughput: jobs not settled within {JOB_TIMEOUT_S * jobs:.0f}s")
                time.sleep(CONSUMER_POLL_S)
            seconds = time.perf_counter() - started
        finally:
            stop.set()
            deliverer.join(timeout=30)
        worker.proc.wait(timeout=60)
    settled = sum(1 for r in records if net.market.job(r.job_id).status is JobStatus.SETTLED)
    log(f"throughput: concurrency {concurrency}: {jobs} jobs in {seconds:.1f}s")
    return {
        "concurrency": concurrency,
        "jobs": jobs,
        "settled": settled,
        "seconds": seconds,
        "jobs_per_min": settled / seconds * 60,
    }


def run(
    workdir: Path, cache_dir: Path, *, warm_jobs: int, throughput_jobs: int, gas_jobs: int, log: Log = lambda _: None
) -> dict[str, Any]:
    with local_market(workdir, cache_dir, log) as net:
        result: dict[str, Any] = {"consumer_poll_default_s": consumer.POLL_S}
        result["latency"] = latency(net, workdir, warm_jobs, log)
        result["gas"] = gas(net, workdir, gas_jobs, log)
        result["callback_gas"] = callback_gas(net, workdir, result["gas"]["dedicated"], log)
        result["throughput"] = [throughput(net, workdir, throughput_jobs, c, log) for c in (1, 2)]
        return result
