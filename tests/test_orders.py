"""Gasless orders (``prove-job --gasless``): a consumer with NGX and no ETH signs an order and a permit;
the provider it names posts and claims the job in one transaction (``JobMarket.fillOrder``) and proves it.

The wire format is a stranger's bytes (parsed strictly); the worker checks every order before it
spends gas on it, and journals what it refused."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk.chain import devnet
from ngx_zk.chain.market import ZERO, JobStatus, JobTerms
from ngx_zk.chain.orders import SECP256K1_HALF_N, Order, OrderError, Permit, SignedOrder
from ngx_zk.chain.signer import Signer, from_key
from ngx_zk.chain.types import OrderFilled
from ngx_zk.config import Secret
from ngx_zk.consumer import offer

from .chain_fixtures import NGX, Net, free_port, ngx_zk, start_worker
from .paths import MODELS

CHAIN_ID, MARKET = 31337, "0x" + "ab" * 20


def fresh_signer() -> tuple[Signer, str]:
    key = "0x" + secrets.token_hex(32)
    return from_key(Secret(key)), key


def sample_order(consumer: str, **changes: Any) -> Order:
    fields: dict[str, Any] = dict(
        consumer=consumer,
        terms=JobTerms.fixed(1, 10 * NGX, 300, 300),
        commitments=(12345,),
        provider=ZERO,
        nonce=7,
        signed_at=1_700_000_000,
        deadline=1_700_000_120,
    )
    fields.update(changes)
    return Order(**fields)


# --- the wire and the signature (no chain) ------------------------------------------------------------
def test_an_order_round_trips_the_wire_and_recovers_its_consumer() -> None:
    signer, _ = fresh_signer()
    signed = SignedOrder.sign(
        signer, sample_order(signer.address), Permit(10 * NGX, 5, 27, b"\x01" * 32, b"\x02" * 32), CHAIN_ID, MARKET
    )
    back = SignedOrder.from_wire(signed.to_wire())
    assert back == signed
    assert back.signer(CHAIN_ID, MARKET) == signer.address


def test_a_tampered_order_or_a_malleable_signature_is_not_the_consumers() -> None:
    signer, _ = fresh_signer()
    order = sample_order(signer.address)
    signed = SignedOrder.sign(signer, order, Permit.none(), CHAIN_ID, MARKET)
    raised = SignedOrder(
        sample_order(signer.address, terms=JobTerms.fixed(1, 1 * NGX, 300, 300)), signed.signature, signed.permit
    )
    assert raised.signer(CHAIN_ID, MARKET) != signer.address, "a lowered price is another order"
    assert signed.signer(CHAIN_ID + 1, MARKET) != signer.address, "another chain is another domain"
    assert signed.signer(CHAIN_ID, "0x" + "cd" * 20) != signer.address, "another market is another domain"
    r, s, v = signed.signature[:32], int.from_bytes(signed.signature[32:64], "big"), signed.signature[64]
    twin = r + (2 * SECP256K1_HALF_N + 1 - s).to_bytes(32, "big") + bytes([55 - v])  # (r, n - s, flipped v)
    assert SignedOrder(order, twin, signed.permit).signer(CHAIN_ID, MARKET) is None, "the high-s twin is refused"
    with pytest.raises(OrderError, match="not the signer"):
        SignedOrder.sign(signer, sample_order(devnet.dev_address("consumer")), Permit.none(), CHAIN_ID, MARKET)


def _wire(mutate: Any) -> str:
    signer, _ = fresh_signer()
    data = json.loads(
        base64.b64decode(SignedOrder.sign(signer, sample_order(signer.address), Permit.none(), 1, MARKET).to_wire())
    )
    mutate(data)
    return base64.b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%%%", "not base64 of JSON"),
        (base64.b64encode(b"[1, 2]").decode(), "not a JSON object"),
        ("A" * 5000, "too long"),
        (_wire(lambda d: d.pop("terms")), "order.terms"),
        (_wire(lambda d: d["terms"].update(max_price=-1)), "'max_price' must be a uint96"),
        (_wire(lambda d: d["terms"].update(max_price=str(2**96))), "'max_price' must be a uint96"),
        (_wire(lambda d: d["terms"].update(model_id=True)), "'model_id' must be a uint256"),
        (_wire(lambda d: d["terms"].update(min_reputation=1.5)), "'min_reputation' must be a uint8"),
        (_wire(lambda d: d.update(signature=d["signature"][:-2])), "'signature' must be 65 bytes"),
        (_wire(lambda d: d.update(consumer="0x12")), "'consumer' must be a 0x address"),
        (_wire(lambda d: d.update(commitments=[])), "1 to 64 field elements"),
        (_wire(lambda d: d.update(commitments=["0x" + "f" * 65])), "'commitments' must be a uint256"),
        (_wire(lambda d: d["permit"].update(r="0xzz")), "'r' must be 32 bytes"),
    ],
)
def test_hostile_order_bytes_get_a_one_line_refusal(text: str, message: str) -> None:
    with pytest.raises(OrderError, match=message) as caught:
        SignedOrder.from_wire(text)
    assert "\n" not in str(caught.value)


# --- on anvil -------------------------------------------------------------------------------------------
def log_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")] if path.is_file() else []


def serve(net: Net, state_dir: Path, *args: str) -> Any:
    """A real worker (its own process) with a data-plane endpoint registered on chain, once it is up."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    signer = net.signer("provider")
    net.market.update_provider(signer, net.market.provider(signer.address).encryption_pub_key, endpoint)
    worker = start_worker(net, state_dir, "--listen", f"127.0.0.1:{port}", *args)
    deadline = time.monotonic() + 90
    while not any(e["event"] == "worker.start" for e in log_events(state_dir / "worker.log")):
        assert worker.poll() is None and time.monotonic() < deadline, "worker did not start"
        time.sleep(0.1)
    return worker


@pytest.mark.chain
def test_the_market_computes_the_digest_the_consumer_signs(chain_snapshot: Net) -> None:
    m = chain_snapshot.market
    order = sample_order(devnet.dev_address("consumer"), commitments=(1, 2**200), provider=devnet.dev_address("provider"))
    auction = sample_order(order.consumer, terms=JobTerms(3, 2 * NGX, 9 * NGX, 300, 200, 40, 5, 60, ZERO, 70_000))
    for o in (order, auction):
        assert m.order_digest(o) == o.digest(m.chain.chain_id, m.market.address)


@pytest.mark.chain
def test_a_consumer_without_eth_gets_a_verified_output_through_a_gasless_order(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    consumer, key = fresh_signer()
    m.transfer(net.signer("consumer"), consumer.address, 50 * NGX)
    provider = devnet.dev_address("provider")
    worker = serve(net, tmp_path / "worker", "--max-jobs", "1")
    provider_nonce = m.chain.w3.eth.get_transaction_count(provider)
    try:
        done = ngx_zk(
            net,
            tmp_path / "consumer",
            "prove-job",
            "mlp",
            "--input",
            str(MODELS / "mlp" / "input.json"),
            "--price",
            "10",
            "--gasless",
            "--provider",
            provider,
            "--json",
            NGX_ZK_PRIVATE_KEY=key,
        )
    finally:
        worker.wait(timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "Settled" and result["proof_valid"] is True and result["provider"] == provider
    job = m.job(result["job_id"])
    assert job.consumer == consumer.address and job.status is JobStatus.SETTLED
    w3 = m.chain.w3
    assert w3.eth.get_balance(consumer.address) == 0 and w3.eth.get_transaction_count(consumer.address) == 0, "no gas, no tx"
    assert m.balance(consumer.address) == 40 * NGX, "the escrow came from the consumer's NGX"
    filled = [e.event for e in m.logs(OrderFilled, m.deployment.block, consumer=consumer.address)]
    assert [e.job_id for e in filled] == [result["job_id"]] and filled[0].provider == provider
    assert w3.eth.get_transaction_count(provider) == provider_nonce + 2, "the provider sent the fill and the proof"
    events = [e["event"] for e in log_events(tmp_path / "worker" / "worker.log") if e.get("job_id") in (None, result["job_id"])]
    assert events.index("dataplane.offer") < events.index("job.claimed") < events.index("job.settled"), events
    assert m.order_nonce_used(consumer.address, filled[0].nonce)


@pytest.mark.chain
def test_the_worker_refuses_hostile_orders_and_spends_no_gas_on_them(chain_snapshot: Net, tmp_path: Path) -> None:
    """Each order is offered by a fresh account (offers are rate-limited per consumer) with a real sealed input."""
    net, m = chain_snapshot, chain_snapshot.market
    provider = devnet.dev_address("provider")
    chain_id, market = m.chain.chain_id, m.market.address
    worker = serve(net, tmp_path / "worker", "--min-price", "5")
    sent_before = m.chain.w3.eth.get_transaction_count(provider)
    jobs_before = m.job_count()
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    now = m.chain.timestamp()

    def forged(o: Order, s: Signer) -> SignedOrder:  # the offering consumer's order, signed by someone else
        other = fresh_signer()[0]
        return SignedOrder(
            o,
            SignedOrder.sign(other, replace(o, consumer=other.address), Permit.none(), chain_id, market).signature,
            Permit.none(),
        )

    def borrowed(o: Order, s: Signer) -> SignedOrder:  # a valid order of another consumer, offered by this one
        other = fresh_signer()[0]
        return SignedOrder.sign(other, replace(o, consumer=other.address), Permit.none(), chain_id, market)

    cases = {
        "forged": (forged, "signature is not its consumer's"),
        "borrowed": (borrowed, "the offer"),
        "expired": (lambda o, s: SignedOrder.sign(s, replace(o, deadline=now - 1), Permit.none(), chain_id, market), "expired"),
        "another provider": (lambda o, s: SignedOrder.sign(s, replace(o, provider=devnet.dev_address("provider2")), Permit.none(), chain_id, market), "names provider"),
        "below the floor": (lambda o, s: SignedOrder.sign(s, replace(o, terms=JobTerms.fixed(o.terms.model_id, 1 * NGX, 300, 300)), m.sign_permit(s, 1 * NGX, now + 120), chain_id, market), "below"),
        "no escrow": (lambda o, s: SignedOrder.sign(s, o, Permit.none(), chain_id, market), "holds less than"),
        "no permit": (lambda o, s: SignedOrder.sign(s, o, Permit.none(), chain_id, market), "no live permit"),
    }  # fmt: skip
    try:
        for name, (make, _) in cases.items():
            consumer, _ = fresh_signer()
            if name in ("below the floor", "no permit"):
                m.transfer(net.signer("consumer"), consumer.address, 20 * NGX)
            commitment, salted = ngx.commit(net.circuit.manifest, data, new_salt=True)
            order = Order(
                consumer.address, JobTerms.fixed(net.model_id, 10 * NGX, 300, 300), tuple(commitment.values), provider,
                secrets.randbits(64), now, now + 120,
            )  # fmt: skip
            signed = make(order, consumer)
            assert offer(m, consumer, net.model_id, commitment.values, salted, provider, order=signed.to_wire())
        deadline = time.monotonic() + 60
        while len(refused := [e for e in log_events(tmp_path / "worker" / "worker.log") if e["event"] == "order.refused"]) < len(
            cases
        ):
            assert worker.poll() is None and time.monotonic() < deadline, refused
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    reasons = [e["reason"] for e in refused]
    for name, (_, text) in cases.items():
        assert any(text in r for r in reasons), (name, reasons)
    assert m.chain.w3.eth.get_transaction_count(provider) == sent_before, "no transaction for a refused order"
    assert m.job_count() == jobs_before and m.logs(OrderFilled, m.deployment.block) == []


def test_prove_job_gasless_needs_a_provider(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ngx_zk.cli import main

    out = CliRunner().invoke(main, ["prove-job", "mlp", "--input", str(MODELS / "mlp" / "input.json"), "--gasless"])
    assert out.exit_code == 2 and "--gasless needs --provider" in out.output
