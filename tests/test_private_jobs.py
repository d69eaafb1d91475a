"""Private jobs: inputs and outputs travel sealed between the two parties; only commitments and
proofs are public. Runs the consumer and the worker (with its data-plane endpoint) against anvil."""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import ngx_zk as ngx
from ngx_zk import _ezkl, crypto, dataplane
from ngx_zk.artifacts import Circuit
from ngx_zk.chain import devnet
from ngx_zk.chain.market import JobStatus
from ngx_zk.consumer import post_job, wait_for_result
from ngx_zk.errors import NgxZkError

from .chain_fixtures import NGX, Net, free_port, start_worker
from .paths import MODELS

pytestmark = pytest.mark.chain

EXPECTED = json.loads((MODELS / "mlp" / "expected_output.json").read_text())["output_data"][0]


def consumer_settings(net: Net, tmp_path: Path) -> ngx.Settings:
    return ngx.load_settings(
        {
            "NGX_ZK_HOME": str(net.home),
            "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
            "NGX_ZK_STATE_DIR": str(tmp_path / "consumer"),
        }
    )


def felt_words(values: list[float], scale: int) -> list[bytes]:
    return [_ezkl.float_to_felt(v, scale).to_bytes(32, "big") for v in values]


def test_private_job_keeps_input_and_output_off_chain_and_out_of_logs(
    chain_snapshot: Net, private_circuit: Circuit, tmp_path: Path
) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    port = free_port()
    provider = net.signer("provider")
    net.market.update_provider(
        provider, crypto.public_bytes(crypto.derive_key(provider.encryption_key_material())), f"http://127.0.0.1:{port}"
    )
    worker = start_worker(net, tmp_path / "worker", "--listen", f"127.0.0.1:{port}", "--max-jobs", "1", "--model", "mlp_private")
    settings = consumer_settings(net, tmp_path)
    data = ngx.load_input(MODELS / "mlp" / "input.json", private_circuit.manifest)
    start = m.chain.block_number()
    try:
        record = post_job(
            settings,
            m,
            net.signer("consumer"),
            private_circuit,
            data,
            price=10 * NGX,
            claim_window=300,
            prove_window=300,
            min_reputation=0,
        )
        result = wait_for_result(settings, m, net.signer("consumer"), private_circuit, record, timeout_s=120)
    finally:
        worker.wait(timeout=120)
    assert result.status is JobStatus.SETTLED and result.proof_valid
    assert record.deliveries == {devnet.dev_address("provider"): f"sealed, via http://127.0.0.1:{port}"}
    assert all(math.isclose(a, b, abs_tol=1e-2) for a, b in zip(result.outputs, EXPECTED, strict=True))

    # scan every transaction and event of the job for the plaintext input, salt and output, in the
    # encodings a leak would take: ABI words in sequence, JSON text, and each value's decimal text
    spec = private_circuit.manifest.inputs[0]
    values, salt = list(record.salted_input["input_data"][0]), list(record.salted_input["salt"][0])
    out_scale = private_circuit.manifest.outputs[0].scale
    secrets = [
        b"".join(felt_words(values, spec.scale)),
        b"".join(s.to_bytes(32, "big") for s in salt),
        b"".join(felt_words(list(result.outputs), out_scale)),
        json.dumps(record.salted_input).encode(),
        json.dumps(list(result.outputs)).encode(),
    ]
    secrets += [repr(v).encode() for v in values + list(result.outputs) if len(repr(v)) >= 6]
    seen = b""
    w3 = m.chain.w3
    for number in range(start, m.chain.block_number() + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            seen += bytes(tx["input"])
            for log in w3.eth.get_transaction_receipt(tx["hash"])["logs"]:
                seen += bytes(log["data"]) + b"".join(bytes(t) for t in log["topics"])
    assert seen, "the job's transactions should have been scanned"
    for secret in secrets:
        assert secret not in seen
    logs = (tmp_path / "worker" / "worker.log").read_text()
    for value in values + list(result.outputs):
        assert repr(value) not in logs


def test_sealed_payload_cannot_be_moved_to_another_job_or_tampered() -> None:
    key = crypto.derive_key(b"\x01" * 32)
    ctx = crypto.JobContext(31337, "0x" + "11" * 20, 7, 1, "input")
    sealed = crypto.seal(crypto.public_bytes(key), b'{"input": 1}', ctx)
    assert crypto.open_sealed(key, sealed, ctx) == b'{"input": 1}'
    for other in (
        crypto.JobContext(31337, "0x" + "11" * 20, 8, 1, "input"),  # another job
        crypto.JobContext(31337, "0x" + "11" * 20, 7, 2, "input"),  # another model
        crypto.JobContext(1, "0x" + "11" * 20, 7, 1, "input"),  # another chain
        crypto.JobContext(31337, "0x" + "11" * 20, 7, 1, "output"),
    ):  # replayed as an output
        with pytest.raises(crypto.PayloadError):
            crypto.open_sealed(key, sealed, other)
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(crypto.PayloadError):
        crypto.open_sealed(key, bytes(tampered), ctx)
    with pytest.raises(crypto.PayloadError):
        crypto.open_sealed(crypto.derive_key(b"\x02" * 32), sealed, ctx)


def test_endpoint_rejects_tampered_uploads_and_strangers(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    settings = consumer_settings(net, tmp_path)
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    record = post_job(
        settings,
        m,
        net.signer("consumer"),
        net.circuit,
        data,
        price=10 * NGX,
        claim_window=300,
        prove_window=300,
        min_reputation=0,
    )
    m.claim(net.signer("provider"), record.job_id)
    mailbox = dataplane.Mailbox(tmp_path / "mailbox")
    server = dataplane.DataPlaneServer(
        mailbox,
        chain_id=m.chain.chain_id,
        market=m.market.address,
        provider=devnet.dev_address("provider"),
        job_facts=lambda j: dataplane.JobFacts(m.job(j).consumer, m.job(j).provider, "Claimed"),
        log=lambda *a, **k: None,
    )
    endpoint = server.serve("127.0.0.1", 0)
    provider = devnet.dev_address("provider")
    try:
        consumer = net.signer("consumer")
        body = b"\x01" + b"sealed bytes" * 10
        signature = dataplane.sign(
            consumer,
            dataplane.message(
                m.chain.chain_id,
                m.market.address,
                record.job_id,
                "input",
                hashlib.sha256(body).hexdigest(),
                provider=provider,
            ),
        )
        tampered = urllib.request.Request(
            f"{endpoint}/v1/jobs/{record.job_id}/input", data=body + b"!", method="PUT", headers={"X-NGX-Signature": signature}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(tampered, timeout=5)
        assert refused.value.code == 403
        assert mailbox.get(record.job_id, "input") is None, "nothing is kept from a refused upload"

        with pytest.raises(dataplane.DataPlaneError) as stranger:
            dataplane.upload_input(
                endpoint, net.signer("consumer2"), m.chain.chain_id, m.market.address, record.job_id, body, provider=provider
            )
        assert stranger.value.status == 403

        dataplane.upload_input(endpoint, consumer, m.chain.chain_id, m.market.address, record.job_id, body, provider=provider)
        assert mailbox.get(record.job_id, "input") == body

        mailbox.put(record.job_id, "output", b"sealed output")
        with pytest.raises(dataplane.DataPlaneError) as wrong_key:
            dataplane.fetch_output(
                endpoint, net.signer("consumer2"), m.chain.chain_id, m.market.address, record.job_id, provider=provider
            )
        assert wrong_key.value.status == 403
        fetched = dataplane.fetch_output(endpoint, consumer, m.chain.chain_id, m.market.address, record.job_id, provider=provider)
        assert fetched == b"sealed output"

        host, port = endpoint.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.putrequest("PUT", f"/v1/jobs/{record.job_id}/input")
        conn.putheader("Content-Length", str(dataplane.MAX_UPLOAD_BYTES + 1))
        conn.putheader("X-NGX-Signature", signature)
        conn.endheaders()
        assert conn.getresponse().status == 413, "oversized uploads are refused before the body is read"
        conn.close()
    finally:
        server.close()


def test_unreachable_endpoint_falls_back_to_an_encrypted_onchain_payload(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    provider = net.signer("provider")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    m.update_provider(provider, crypto.public_bytes(crypto.derive_key(provider.encryption_key_material())), dead)
    worker = start_worker(net, tmp_path / "worker", "--max-jobs", "1")
    settings = consumer_settings(net, tmp_path)
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    try:
        record = post_job(
            settings,
            m,
            net.signer("consumer"),
            net.circuit,
            data,
            price=10 * NGX,
            claim_window=300,
            prove_window=300,
            min_reputation=0,
        )
        notes: list[str] = []
        result = wait_for_result(settings, m, net.signer("consumer"), net.circuit, record, timeout_s=120, progress=notes.append)
    finally:
        worker.wait(timeout=120)
    assert result.status is JobStatus.SETTLED
    assert any("delivering on chain instead" in n for n in notes)
    assert record.deliveries[devnet.dev_address("provider")].startswith("0x")


def test_private_job_refuses_a_model_with_public_outputs(net: Net) -> None:
    from ngx_zk.consumer import require_private

    with pytest.raises(NgxZkError, match="public outputs"):
        require_private(net.circuit)
