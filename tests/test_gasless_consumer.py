"""A gasless consumer with several orders at once (issue 24, the consumer's side), on anvil with the compiled contracts.

- its order nonces are consecutive and never picked twice, by threads of one process or processes (one file lock);
- its orders share one standing permit, so all of them fill whichever lands first, one by one or in one batch;
- an order that a smaller permit at the same token nonce could starve waits for it instead;
- it never sends a transaction it cannot pay for: a busy endpoint is tried again until the input deadline, then one
  error says what happened and what to do (``BusyEndpointFake``: an endpoint that answers 429 as a full mailbox does).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import ngx_zk as ngx
from ngx_zk.chain.orders import Order, SignedOrder
from ngx_zk.chain.signer import Signer, from_key
from ngx_zk.chain.types import DeclineReason, JobStatus, JobTerms, OrderFilled, OrderSkipped
from ngx_zk.config import Secret
from ngx_zk.consumer import Consumer, JobRecord, JobResult
from ngx_zk.consumer.delivery import UndeliveredError, deliver_input
from ngx_zk.consumer.standing import OrderBook, Reservation

from .chain_fixtures import NGX, Net, market_on
from .optimistic_fixtures import settings_for
from .paths import MODELS
from .polling import until
from .test_orders import log_events, serve

pytestmark = [pytest.mark.chain]

PRICE = 10 * NGX


def fresh(net: Net, ngx_amount: int = 50 * NGX) -> tuple[Signer, str]:
    """A new account holding ``ngx_amount`` NGX and no ETH."""
    key = "0x" + secrets.token_hex(32)
    signer = from_key(Secret(key))
    net.market.transfer(net.signer("consumer"), signer.address, ngx_amount)
    return signer, key


def signed_order(net: Net, signer: Signer, taken: Reservation) -> SignedOrder:
    m = net.market
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    commitment, _ = ngx.commit(net.circuit.manifest, data, new_salt=True)
    order = Order(
        signer.address, JobTerms.fixed(net.model_id, PRICE, 600, 600), tuple(commitment.values),
        net.signer("provider").address, taken.nonce, taken.signed_at, taken.deadline,
    )  # fmt: skip
    return SignedOrder.sign(signer, order, taken.permit, m.chain.chain_id, m.market.address)


# --- the order book: nonces and the standing permit --------------------------------------------------------------
def test_nonces_are_consecutive_skip_used_ones_and_are_never_picked_twice(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    consumer, key = fresh(net, 500 * NGX)
    net.rpc("anvil_setBalance", [consumer.address, hex(10**18)])  # only to cancel two nonces below
    for nonce in (1, 3):
        m.cancel_order(consumer, nonce)
    settings = settings_for(net, tmp_path / "consumer")
    taken: list[Reservation] = []

    def reserve() -> None:  # each thread its own book object: its own lock file description, as a process has
        taken.append(OrderBook(settings, market_on(net), consumer).reserve(PRICE, 120, allowance=40 * PRICE))

    threads = [threading.Thread(target=reserve) for _ in range(6)]
    for thread in threads:
        thread.start()
    script = "import sys; from tests.test_gasless_consumer import reserve_in_process; reserve_in_process(*sys.argv[1:])"
    other = subprocess.run(
        [sys.executable, "-c", script, net.url, str(tmp_path / "consumer"), str(net.home), key],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    for thread in threads:
        thread.join(timeout=60)
    assert other.returncode == 0, other.stderr
    nonces = sorted([t.nonce for t in taken] + json.loads(other.stdout))
    assert nonces == [0, 2, 4, 5, 6, 7, 8, 9], "consecutive, the cancelled 1 and 3 skipped, none twice"
    assert sum(t.signed_permit for t in taken) <= 1 and len({t.permit for t in taken}) == 1, "one standing permit"
    assert taken[0].permit.value == 40 * PRICE


def reserve_in_process(url: str, state: str, home: str, key: str) -> None:
    """The second process of the test above: two reservations through its own connection and lock."""
    from ngx_zk.chain import deployment, devnet
    from ngx_zk.chain.market import Marketplace
    from ngx_zk.chain.tx import Chain

    settings = ngx.load_settings({"NGX_ZK_HOME": home, "NGX_ZK_STATE_DIR": state})
    market = Marketplace(Chain([url], expected_chain_id=devnet.DEV_CHAIN_ID), deployment.load(settings, devnet.DEV_CHAIN_ID))
    book = OrderBook(settings, market, from_key(Secret(key)))
    print(json.dumps([book.reserve(PRICE, 120, allowance=40 * PRICE).nonce for _ in range(2)]))


def test_a_new_order_waits_while_a_smaller_permit_at_the_same_token_nonce_could_run_first(
    chain_snapshot: Net, tmp_path: Path
) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    consumer, _ = fresh(net)
    settings = settings_for(net, tmp_path / "consumer")
    first = OrderBook(settings, m, consumer).reserve(PRICE, 120)
    assert first.signed_permit and first.permit.value == PRICE and first.nonce == 0
    lines: list[str] = []
    second: list[Reservation] = []
    thread = threading.Thread(
        target=lambda: second.append(OrderBook(settings, market_on(net), consumer).reserve(PRICE, 120, progress=lines.append))
    )
    thread.start()
    until(lambda: lines, timeout=30, what="the second order to wait")
    assert "waiting for your unfilled order(s) 0" in lines[0] and not second
    job_id, _ = m.fill_order(net.signer("provider"), signed_order(net, consumer, first))  # the first fills: its permit ran
    thread.join(timeout=30)
    assert second, "the second order went on once the first permit ran"
    assert second[0].nonce == 1 and second[0].signed_permit and second[0].permit.value == PRICE
    assert m.permit_nonce(consumer.address) == 1 and m.allowance(consumer.address) == 0
    m.fill_order(net.signer("provider"), signed_order(net, consumer, second[0]))  # its new permit, at token nonce 1
    assert m.balance(consumer.address) == 50 * NGX - 2 * PRICE and m.job(job_id).consumer == consumer.address


# --- three orders at once, through a real worker -----------------------------------------------------------------
@pytest.mark.parametrize("fill_batch", [1, 3])
def test_one_consumer_places_three_gasless_orders_at_once_and_all_settle(
    chain_snapshot: Net, tmp_path: Path, fill_batch: int
) -> None:
    """With --fill-batch 1 the three orders fill one by one; with 3 the market is paused while the worker collects
    the orders it is offered (the endpoint takes two offers of one consumer until one is filled), so the first two
    orders of the one consumer, carrying one standing permit, fill in one ``fillOrders``, the third after."""
    net, m = chain_snapshot, chain_snapshot.market
    w3, provider, guardian = m.chain.w3, net.signer("provider"), net.signer("guardian")
    consumer, _ = fresh(net)
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    settings = settings_for(net, tmp_path / "consumer")
    state = tmp_path / "worker"
    worker = serve(net, state, "--fill-batch", str(fill_batch), "--max-fresh-jobs", "3")
    results: dict[int, JobResult | BaseException] = {}

    def place(i: int) -> None:
        try:
            c = Consumer(settings, market_on(net), consumer)
            record: JobRecord = c.post(
                net.circuit, data, price=PRICE, claim_window=600, prove_window=600, min_reputation=0,
                gasless=True, offer_to=provider.address, allowance=3 * PRICE,
            )  # fmt: skip
            results[i] = c.wait(net.circuit, record, timeout_s=240)
        except BaseException as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=place, args=(i,), daemon=True) for i in range(3)]
    try:
        if fill_batch > 1:
            m.chain.send(m.market.functions.pause(), guardian, what="pause the market")
        for thread in threads:
            thread.start()
        if fill_batch > 1:
            held = lambda: any(e["event"] == "orders.waiting" and e["orders"] == 2 for e in log_events(state / "worker.log"))  # noqa: E731
            until(held, timeout=120, what="two orders held")
            m.chain.send(m.market.functions.unpause(), guardian, what="unpause the market")
        for thread in threads:
            thread.join(timeout=300)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    failed = {i: r for i, r in results.items() if not isinstance(r, JobResult)}
    assert len(results) == 3 and not failed, failed
    assert all(isinstance(r, JobResult) and r.status is JobStatus.SETTLED and r.proof_valid for r in results.values())
    filled = m.logs(OrderFilled, m.deployment.block, consumer=consumer.address)
    assert sorted(e.event.nonce for e in filled) == [0, 1, 2], "consecutive nonces: one nonce word"
    assert not m.logs(OrderSkipped, m.deployment.block, consumer=consumer.address)
    assert m.balance(consumer.address) == 50 * NGX - 3 * PRICE, "exactly the three prices"
    assert m.permit_nonce(consumer.address) == 1 and m.allowance(consumer.address) == 0, "one permit ran, for all three"
    assert w3.eth.get_balance(consumer.address) == 0 and w3.eth.get_transaction_count(consumer.address) == 0
    fills = sorted({e.meta.tx_hash for e in filled}, key=lambda h: w3.eth.get_transaction_receipt(h)["blockNumber"])  # type: ignore[arg-type]
    if fill_batch == 1:
        assert len(fills) == 3
    else:
        first = [e for e in filled if e.meta.tx_hash == fills[0]]
        fn, _ = m.market.decode_function_input(w3.eth.get_transaction(fills[0])["input"])  # type: ignore[arg-type]
        assert fn.fn_name == "fillOrders" and len(first) == 2, "two orders of one consumer, one permit, one batch"
    gas = [w3.eth.get_transaction_receipt(h)["gasUsed"] for h in fills]  # type: ignore[arg-type]
    print(f"fill-batch {fill_batch}: gas per fill transaction {gas}")


# --- a consumer without ETH and a busy endpoint ------------------------------------------------------------------
class BusyEndpointFake:
    """FAKE (fault injection): a provider endpoint that answers each upload with the next status of ``script`` (429
    with a full mailbox's reason, or 200), then 200; it counts the uploads."""

    def __init__(self, *script: int) -> None:
        self.script, self.uploads = list(script), 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_PUT(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.uploads += 1
                status = fake.script.pop(0) if fake.script else 200
                body = json.dumps({"error": "mailbox full for this consumer"} if status == 429 else {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def claimed(chain_snapshot: Net, tmp_path: Path) -> Iterator[tuple[Net, Signer, JobRecord]]:
    """A job of a consumer without ETH (its gasless order, filled by the provider), with the salted input it keeps."""
    net, m = chain_snapshot, chain_snapshot.market
    consumer, _ = fresh(net)
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    commitment, salted = ngx.commit(net.circuit.manifest, data, new_salt=True)
    taken = OrderBook(settings_for(net, tmp_path / "consumer"), m, consumer).reserve(PRICE, 120)
    order = Order(
        consumer.address, JobTerms.fixed(net.model_id, PRICE, 600, 600), tuple(commitment.values),
        net.signer("provider").address, taken.nonce, taken.signed_at, taken.deadline,
    )  # fmt: skip
    signed = SignedOrder.sign(consumer, order, taken.permit, m.chain.chain_id, m.market.address)
    job_id, receipt = m.fill_order(net.signer("provider"), signed)
    record = JobRecord(
        chain_id=m.chain.chain_id, job_id=job_id, model="mlp", model_id=net.model_id, consumer=consumer.address,
        commitments=commitment.hex, price=PRICE, salted_input=salted.to_json(), post_tx=receipt.tx, gasless=True,
    )  # fmt: skip
    yield net, consumer, record


def with_endpoint(net: Net, url: str) -> None:
    provider = net.signer("provider")
    net.market.update_provider(provider, net.market.provider(provider.address).encryption_pub_key, url)


def test_a_consumer_without_eth_retries_a_busy_endpoint_and_sends_no_transaction(
    claimed: tuple[Net, Signer, JobRecord],
) -> None:
    net, consumer, record = claimed
    m = net.market
    fake = BusyEndpointFake(429, 429)
    with_endpoint(net, fake.url)
    lines: list[str] = []
    try:
        got = deliver_input(m, consumer, record, m.job(record.job_id), progress=lines.append, pause=lambda s: net.travel(int(s)))
    finally:
        fake.close()
    assert got == f"sealed, via {fake.url}" and fake.uploads == 3
    assert len(lines) == 2 and all("has no ETH to deliver on chain" in line for line in lines), lines
    assert m.chain.w3.eth.get_transaction_count(consumer.address) == 0, "nothing sent"


def test_a_consumer_without_eth_gives_up_at_the_input_deadline_with_one_clear_error(
    claimed: tuple[Net, Signer, JobRecord],
) -> None:
    net, consumer, record = claimed
    m = net.market
    job = m.job(record.job_id)
    fake = BusyEndpointFake(*[429] * 100)
    with_endpoint(net, fake.url)
    lines: list[str] = []
    try:
        with pytest.raises(UndeliveredError) as raised:
            deliver_input(m, consumer, record, job, progress=lines.append, pause=lambda s: net.travel(int(s)))
    finally:
        fake.close()
    message = str(raised.value)
    assert (
        f"job {record.job_id}: the input was not delivered to {m.job(record.job_id).provider}: provider endpoint is busy"
        in message
        and "nothing was sent" in message
    )
    assert f"ngx-zk job wait {record.job_id}" in message and f"ngx-zk job expire {record.job_id}" in message
    assert "\n" not in raised.value.message
    assert fake.uploads == len(lines) + 1 > 3, "retried with backoff until the input deadline"
    assert m.chain.timestamp() < job.input_deadline, "gave up before the deadline, not after"
    assert m.chain.w3.eth.get_transaction_count(consumer.address) == 0, "nothing sent"
    assert m.job(record.job_id).status is JobStatus.CLAIMED


def test_a_consumer_without_eth_stops_retrying_once_the_job_moves_on(claimed: tuple[Net, Signer, JobRecord]) -> None:
    """The provider proving from the offer's input (or giving the job back) ends the retries: no error, no transaction."""
    net, consumer, record = claimed
    m = net.market
    fake = BusyEndpointFake(*[429] * 100)
    with_endpoint(net, fake.url)

    def pause(seconds: float) -> None:
        net.travel(int(seconds))
        if fake.uploads == 2:
            m.decline(net.signer("provider"), record.job_id, DeclineReason.OTHER)

    try:
        got = deliver_input(m, consumer, record, m.job(record.job_id), pause=pause)
    finally:
        fake.close()
    assert got == "not needed: the job is cancelled" and fake.uploads == 3
    assert m.chain.w3.eth.get_transaction_count(consumer.address) == 0
