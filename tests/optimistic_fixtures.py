"""Optimistic settlement on anvil for the watchtower and consumer tests: governed-minimum windows, a fault-injection
provider that commits results by hand (right or wrong) and serves their proofs, and the CLI calls the tests make.

``FakeProvider`` is a fault-injection script (named as a fake): it claims posted optimistic jobs as provider2, proves
each consumer's input with the real mlp circuit, and calls ``submitResults`` directly with the right outputs or a
wrong one, serving each committed proof from its own endpoint (or serving nothing). Everything it talks to is real:
anvil, the compiled contracts, EZKL proofs. Windows are the governed minimum (60 s), set through ProtocolConfig's
setter as the timelock; ``Net.travel`` moves anvil's clock past them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk import crypto, evm
from ngx_zk.chain.settlement import Settlement
from ngx_zk.chain.settlement_types import Result
from ngx_zk.consumer import JobRecord, post_job
from ngx_zk.inputs import InputData

from .chain_fixtures import NGX, Net, free_port, ngx_zk
from .paths import MODELS

WINDOW = 60
"""The devnet-short challenge and answer windows (the governed minimum)."""


def settings_for(net: Net, state: Path) -> ngx.Settings:
    return ngx.load_settings(
        {"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir), "NGX_ZK_STATE_DIR": str(state)}
    )


@pytest.fixture
def short(chain_snapshot: Net) -> Net:
    """Challenge and answer windows of 60 s, set by the timelock (impersonated; the snapshot reverts it)."""
    net = chain_snapshot
    timelock, w3 = net.market.deployment.address("NGXTimelock"), net.market.chain.w3
    net.rpc("anvil_impersonateAccount", [timelock])
    net.rpc("anvil_setBalance", [timelock, hex(10**18)])
    try:
        fn = net.market.config.functions.setChallengeWindows(WINDOW, WINDOW)
        tx = w3.eth.send_transaction(fn.build_transaction({"from": timelock, "gas": 300_000}))
        assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    finally:
        net.rpc("anvil_stopImpersonatingAccount", [timelock])
    auditor = net.signer("auditor")
    net.market.transfer(net.signer("consumer2"), auditor.address, 100 * NGX)  # bonds
    return net


class FakeProvider:
    """FAKE (fault injection): a provider that claims, proves and commits its results by hand, right or wrong, and
    serves the proofs it committed to (``serve=False``: an endpoint that is down)."""

    def __init__(self, net: Net, tmp: Path, *, serve: bool = True) -> None:
        self.net, self.tmp, self.signer = net, tmp, net.signer("provider2")
        self.proofs: dict[int, dict[str, Any]] = {}
        self.server: ThreadingHTTPServer | None = None
        port = free_port()
        if serve:
            self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
            threading.Thread(target=self.server.serve_forever, daemon=True).start()
        key = crypto.public_bytes(crypto.derive_key(self.signer.encryption_key_material()))
        net.market.update_provider(self.signer, key, f"http://127.0.0.1:{port}")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proofs = self.proofs

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                job_id = int(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/v1/proofs/") else -1
                body = json.dumps(proofs.get(job_id, {"error": "no such proof"})).encode()
                self.send_response(200 if job_id in proofs else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler

    def prove(self, record: JobRecord) -> tuple[bytes, list[int]]:
        """Claim ``record``'s job and prove its input (the record holds it: no delivery needed)."""
        m, circuit = self.net.market, self.net.circuit
        m.claim(self.signer, record.job_id)
        salted = record.salted_input
        data = InputData(tuple(tuple(v) for v in salted["input_data"]), tuple(tuple(int(x) for x in s) for s in salted["salt"]))
        path = self.tmp / f"proof-{record.job_id}.json"
        ngx.prove(circuit, data, path, self.net.settings)
        proof, instances = evm.calldata(path, circuit.manifest.commitment_points)
        return proof, list(instances)

    def take(self, record: JobRecord, *, wrong: bool = False) -> Result:
        """Claim ``record``'s job, prove its input, and commit the outputs (the first one off by one with ``wrong``)."""
        return self.take_many([record], wrong={record.job_id} if wrong else set())[0]

    def take_many(self, records: Sequence[JobRecord], *, wrong: set[int] | frozenset[int] = frozenset()) -> list[Result]:
        """Claim and prove every job, then commit all their results in one ``submitResults`` (jobs in ``wrong``
        with their first output off by one); each committed proof is served."""
        results = []
        for record in records:
            proof, instances = self.prove(record)
            result = Result.of(record.job_id, proof, instances, self.net.circuit.manifest.output_instance_count)
            if record.job_id in wrong:
                result = Result(record.job_id, ((result.outputs[0] + 1), *result.outputs[1:]), result.proof_hash)
            results.append(result)
            self.proofs[record.job_id] = {
                "job_id": record.job_id,
                "proof": "0x" + proof.hex(),
                "instances": [f"0x{v:064x}" for v in instances],
            }
        Settlement(self.net.market).submit_results(self.signer, results)
        return results

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def provider(short: Net, tmp_path: Path) -> Iterator[FakeProvider]:
    fake = FakeProvider(short, tmp_path)
    yield fake
    fake.close()


def post(net: Net, state: Path, role: str = "consumer", *, optimistic: bool = True, price: int = 10 * NGX) -> JobRecord:
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    return post_job(settings_for(net, state), net.market, net.signer(role), net.circuit, data,
                    price=price, claim_window=600, prove_window=1200, min_reputation=0, optimistic=optimistic)  # fmt: skip


def watch(net: Net, state: Path, *args: str) -> list[dict[str, Any]]:
    """One ``ngx-zk watch --once --json`` pass as the auditor: its decisions."""
    done = ngx_zk(net, state, "watch", "--once", "--json", "--account", "auditor", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def show(net: Net, state: Path, job_id: int) -> dict[str, Any]:
    done = ngx_zk(net, state, "job", "show", str(job_id), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout))


def batch_of(net: Net, job_id: int) -> int:
    found = Settlement(net.market).submitted(job_id)
    assert found is not None
    return found.event.batch_id
