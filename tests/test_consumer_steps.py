"""The consumer's wait for settlement, step by step, in milliseconds: an in-memory market and clock.

The fake (``MarketFake``) is an in-memory stand-in for the JobMarket's job table with the rules the wait
relies on (claim, deliver, expire: a missed claim reopens once, decline); each pause of the wait runs the
next event of a script (a claim, a block, time passing). The wait itself runs unchanged
(:class:`ngx_zk.consumer.Follow`, with the real sealing and the real data-plane client), so the sealed
input a provider gets is opened here with its key. The same wait runs against the real contracts on anvil
in test_marketplace.py, test_offers.py, test_private_jobs.py and test_mailbox_quota.py.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_utils.address import to_checksum_address

from ngx_zk import crypto
from ngx_zk.chain.signer import Signer
from ngx_zk.chain.tx import Mined
from ngx_zk.chain.types import (
    FLAG_INPUT_ON_CHAIN,
    FLAG_REOPENED,
    DeclineReason,
    Job,
    JobExtras,
    JobStatus,
    ProviderProfile,
)
from ngx_zk.consumer import OFFER_RESEND_S, STEPS, Ended, Follow, JobRecord
from ngx_zk.dataplane import DataPlaneError
from ngx_zk.errors import ContractRevert, Interrupted, NgxZkError

from .consumer_fakes import CONSUMER, MARKET, POLL_S, Script, ViewFake

NGX = 10**18
A, B = to_checksum_address("0x" + "aa" * 20), to_checksum_address("0x" + "bb" * 20)
SALTED = {"input_data": [[0.5, -0.25]], "salt": ["123"]}


class MarketFake(ViewFake):
    """FAKE: an in-memory job table with the JobMarket's rules that the consumer's wait relies on (the shape
    of ``ConsumerView``, which mypy checks for the real Marketplace)."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[int, Job] = {}
        self.missed: dict[int, str] = {}
        self.profiles: dict[str, ProviderProfile] = {}
        self.keys: dict[str, X25519PrivateKey] = {}
        self.delivered: list[tuple[int, str | None, bytes]] = []
        self.delivery_attempts = 0
        self.expiries = 0
        self.refuse_delivery: str | None = None
        """A revert every ``deliverInput`` meets (the input deadline passed, say)."""

    def add_provider(self, address: str, endpoint: str = "") -> None:
        key = X25519PrivateKey.generate()
        self.keys[address] = key
        self.profiles[address] = ProviderProfile(address, 100 * NGX, 0, 0, 0, 1, True, crypto.public_bytes(key), endpoint)

    def post(self, price: int = 10 * NGX, claim_window: int = 300, prove_window: int = 600) -> Job:
        job = Job(
            1, CONSUMER.address, JobStatus.OPEN, None, price, 0, 1, self.chain.time + claim_window, 0, prove_window, 0, 0, b""
        )
        self.jobs[1] = job
        return job

    def _set(self, job_id: int, **changes: Any) -> None:
        self.jobs[job_id] = dataclasses.replace(self.jobs[job_id], **changes)
        self.chain.mine()

    # --- what others do: the script's events ---------------------------------------------------------
    def claim(self, job_id: int, provider: str) -> None:
        job = self.jobs[job_id]
        assert job.status is JobStatus.OPEN and provider != self.missed.get(job_id)
        self._set(job_id, status=JobStatus.CLAIMED, provider=provider, prove_deadline=self.chain.clock + 1 + job.prove_window)

    def settle(self, job_id: int) -> None:
        assert self.jobs[job_id].status is JobStatus.CLAIMED
        self._set(job_id, status=JobStatus.SETTLED)

    def decline(self, job_id: int, reason: DeclineReason) -> None:
        job = self.jobs[job_id]
        assert job.status is JobStatus.CLAIMED
        assert reason is not DeclineReason.INPUT_MISSING or not job.input_on_chain, "JobMarket__InputWasDelivered"
        self._set(job_id, status=JobStatus.CANCELLED)

    # --- ConsumerView ----------------------------------------------------------------------------------
    def job(self, job_id: int) -> Job:
        return self.jobs.get(job_id) or Job(job_id, "", JobStatus.NONE, None, 0, 0, 0, 0, 0, 0, 0, 0, b"")

    def job_extras(self, job_id: int) -> JobExtras:
        return JobExtras(0, 0, 0, None, self.missed.get(job_id), NGX if job_id in self.missed else 0)

    def provider(self, address: str) -> ProviderProfile:
        return self.profiles[address]

    def deliver_input(self, signer: Signer, job_id: int, payload: bytes) -> Mined:
        self.delivery_attempts += 1
        if self.refuse_delivery:
            raise ContractRevert(self.refuse_delivery, {"jobId": job_id})
        job = self.jobs[job_id]
        assert job.status is JobStatus.CLAIMED and signer.address == job.consumer
        self.delivered.append((job_id, job.provider, payload))
        self._set(job_id, flags=job.flags | FLAG_INPUT_ON_CHAIN)
        return self._mined(f"0xdeliver{len(self.delivered)}")

    def delivery_shortfall(self, sender: str, job_id: int, payload: bytes) -> int:
        return 0  # the fake's consumer can always pay

    def expire(self, signer: Signer, job_id: int) -> Mined:
        job, now = self.jobs[job_id], self.chain.time
        self.expiries += 1
        if job.status is JobStatus.OPEN:
            assert now >= job.claim_deadline, "JobMarket__NotExpired"
            self._set(job_id, status=JobStatus.EXPIRED)
        elif job.status is JobStatus.CLAIMED and not job.reopened:
            assert now >= job.prove_deadline, "JobMarket__NotExpired"
            assert job.provider is not None
            self.missed[job_id] = job.provider
            flags = (job.flags | FLAG_REOPENED) & ~FLAG_INPUT_ON_CHAIN
            self._set(
                job_id, status=JobStatus.OPEN, provider=None, prove_deadline=0, claim_deadline=now + job.prove_window, flags=flags
            )
        else:
            assert job.status is JobStatus.CLAIMED and now >= job.prove_deadline, "JobMarket__InvalidStatus"
            self._set(job_id, status=JobStatus.EXPIRED)
        return self._mined(f"0xexpire{self.expiries}")

    def _mined(self, tx: str) -> Mined:
        return Mined(tx, self.chain.block, 50_000, 1, None, {})


def idle() -> None:
    pass


def record(**changes: Any) -> JobRecord:
    base = JobRecord(31337, 1, "mlp", 1, CONSUMER.address, ["0x" + "00" * 32], 10 * NGX, SALTED, "0xpost")
    return dataclasses.replace(base, **changes)


def follow(
    market: MarketFake, script: Script, job: JobRecord | None = None, **options: Any
) -> tuple[Ended, list[str], JobRecord]:
    """Run the wait on the fake; returns how it ended, the lines it showed, and the record it kept."""
    notes: list[str] = []
    saved: list[JobRecord] = []
    job = job or record()
    wait = Follow(
        market,  # type: ignore[arg-type]  # the fake's market address is a SimpleNamespace
        CONSUMER,
        job,
        pause=script.pause,
        catch_up=market.chain.catch_up,
        save=saved.append,
        progress=notes.append,
        now=script.now,
        **options,
    )
    ended = wait.run()
    assert all(s is job for s in saved) and (bool(saved) == bool(job.deliveries)), "the record is saved after each delivery"
    return ended, notes, job


def opened(market: MarketFake, provider: str, payload: bytes) -> dict[str, Any]:
    """What the provider reads from a sealed input: only its key opens it, bound to this job."""
    ctx = crypto.JobContext(31337, MARKET, 1, 1, "input")
    body: dict[str, Any] = json.loads(crypto.open_sealed(market.keys[provider], payload, ctx))
    return body


@pytest.fixture
def market() -> MarketFake:
    m = MarketFake()
    m.add_provider(A)
    m.add_provider(B)
    m.post()
    return m


# --- the steps ---------------------------------------------------------------------------------------------
def test_every_job_status_has_a_step() -> None:
    assert set(STEPS) == set(JobStatus)


def test_posted_claimed_input_delivered_settled(market: MarketFake) -> None:
    ended, notes, kept = follow(market, Script(lambda: market.claim(1, A), idle, lambda: market.settle(1)))
    assert ended.job.status is JobStatus.SETTLED
    assert notes == [
        "waiting for a provider to claim",
        f"claimed by {A}; proving",
        f"delivering the encrypted input to {A}",
        "settled",
    ]
    [(job_id, provider, payload)] = market.delivered
    assert (job_id, provider) == (1, A) and opened(market, A, payload)["input"] == SALTED
    assert kept.deliveries == {A: "0xdeliver1"} and ended.tx == {"post": "0xpost", "deliver": "0xdeliver1"}
    with pytest.raises(crypto.PayloadError):  # sealed to A: B cannot open it
        crypto.open_sealed(market.keys[B], payload, crypto.JobContext(31337, MARKET, 1, 1, "input"))


def settles_at(market: MarketFake, at: dict[str, int]) -> Callable[[], None]:
    """A script event: the provider settles; ``at["block"]`` is then the settlement's block (its JobSettled log)."""

    def settle() -> None:
        market.settle(1)
        at["block"] = market.chain.block

    return settle


def test_with_confirmations_a_settlement_counts_once_that_many_blocks_sit_on_it(market: MarketFake) -> None:
    at: dict[str, int] = {}
    script = Script(
        lambda: market.claim(1, A), idle, settles_at(market, at), market.chain.mine, market.chain.mine, market.chain.mine
    )
    ended, notes, _ = follow(market, script, confirmations=3, settled_block=lambda _: at.get("block"))
    assert ended.job.status is JobStatus.SETTLED and not script.events, "the wait ended only at the third block on top"
    assert market.chain.block - at["block"] == 3
    assert notes[-1] == f"settled in block {at['block']}: waiting for 3 blocks on top"


def test_with_confirmations_a_settlement_a_reorg_drops_is_followed_until_the_new_one_is_deep(market: MarketFake) -> None:
    """Settled, then a reorg (before 2 blocks sat on it) takes the job back to Claimed; the provider settles
    again in a later block: the wait reports it only once that one is 2 deep."""
    at: dict[str, int] = {}

    def reorg() -> None:
        market.jobs[1] = dataclasses.replace(market.jobs[1], status=JobStatus.CLAIMED)
        market.chain.mine()
        del at["block"]

    mine = market.chain.mine
    script = Script(lambda: market.claim(1, A), idle, settles_at(market, at), reorg, idle, settles_at(market, at), mine, mine)
    ended, notes, _ = follow(market, script, confirmations=2, settled_block=lambda _: at.get("block"))
    assert ended.job.status is JobStatus.SETTLED and not script.events
    assert market.chain.block - at["block"] == 2
    assert notes.count("settled") == 2 and notes.count(f"claimed by {A}; proving") == 2, notes
    assert len(market.delivered) == 1, "the claimer had the input already: not delivered again"


def test_a_missed_claim_is_expired_and_the_second_prover_gets_the_input(market: MarketFake) -> None:
    past_prove_deadline = lambda: market.chain.mine(700)  # noqa: E731
    ended, notes, kept = follow(
        market,
        Script(lambda: market.claim(1, A), past_prove_deadline, lambda: market.claim(1, B), idle, lambda: market.settle(1)),
    )
    assert ended.job.status is JobStatus.SETTLED and ended.job.reopened
    assert "prove deadline passed: expiring the claim" in notes[3]
    assert notes[4].startswith(f"{A} missed the prove deadline (slashed): job reopened for a second prover")
    assert [p for _, p, _ in market.delivered] == [A, B] and list(kept.deliveries) == [A, B]
    assert opened(market, B, market.delivered[1][2])["input"] == SALTED
    assert ended.tx == {"post": "0xpost", "expire": "0xexpire1", "deliver": "0xdeliver2"}


def test_an_unclaimed_job_is_expired_for_the_refund(market: MarketFake) -> None:
    ended, notes, _ = follow(market, Script(lambda: market.chain.mine(400)))
    assert ended.job.status is JobStatus.EXPIRED and market.expiries == 1
    assert notes == ["waiting for a provider to claim", "deadline passed: expiring the job for a refund", "expired"]
    assert ended.tx == {"post": "0xpost", "expire": "0xexpire1"}


def test_the_deadline_passes_on_the_devnet_clock_while_no_block_is_mined(market: MarketFake) -> None:
    """An idle devnet mines no block: the head's time stands still, yet the claim deadline passes by anvil's
    clock; the wait looks again when the deadline is due and moves the chain on itself (one empty block)."""
    script = Script()

    def time_passes() -> None:  # the wall clock and anvil's clock run on together; no block comes
        script.t += 400
        market.chain.clock += 400

    script.events = [time_passes]
    ended, notes, _ = follow(market, script)
    assert ended.job.status is JobStatus.EXPIRED and market.chain.mined_to_catch_up == 1
    assert "deadline passed: expiring the job for a refund" in notes


def test_a_gasless_job_is_not_expired_by_its_consumer(market: MarketFake) -> None:
    """Expiring takes gas and a gasless consumer has none: a worker expires it (for the second-prover bounty)."""
    script = Script(lambda: market.chain.mine(400), idle, lambda: market.expire(CONSUMER, 1))
    ended, _, _ = follow(market, script, record(gasless=True))
    assert ended.job.status is JobStatus.EXPIRED and "expire" not in ended.tx


def test_too_late_to_deliver_then_declined_for_a_missing_input(market: MarketFake) -> None:
    """The input deadline passed before the consumer came back: the delivery reverts, is not retried on every
    block, and the provider's decline (InputMissing) ends the wait with the escrow refunded."""
    market.refuse_delivery = "JobMarket__InputDeadlinePassed"
    script = Script(
        lambda: market.claim(1, A), lambda: market.chain.mine(), lambda: market.decline(1, DeclineReason.INPUT_MISSING)
    )
    ended, notes, kept = follow(market, script)
    assert ended.job.status is JobStatus.CANCELLED and market.delivery_attempts == 1 and not kept.deliveries
    assert f"too late to deliver to {A}: its input deadline passed or its claim ended" in notes
    assert notes[-1] == f"cancelled: {A} declined the job; the escrow comes back"


def test_another_revert_of_the_delivery_is_not_swallowed(market: MarketFake) -> None:
    market.refuse_delivery = "JobMarket__NotConsumer"
    with pytest.raises(ContractRevert, match="NotConsumer"):
        follow(market, Script(lambda: market.claim(1, A)))


def test_ctrl_c_names_the_job_and_how_to_resume(market: MarketFake) -> None:
    def ctrl_c() -> None:
        raise KeyboardInterrupt

    with pytest.raises(Interrupted) as stopped:
        follow(market, Script(ctrl_c), record(job_id=1))
    assert stopped.value.message == "stopped waiting for job 1" and stopped.value.details == {"job_id": 1}
    assert "ngx-zk job wait 1" in (stopped.value.hint or "") and "ngx-zk job expire 1" in (stopped.value.hint or "")


def test_the_timeout_names_the_job_and_leaves_it_on_chain(market: MarketFake) -> None:
    with pytest.raises(NgxZkError) as gave_up:
        follow(market, Script(*[idle] * 10), timeout_s=1)
    assert gave_up.value.message == "job 1 is still open after 1s"
    assert "ngx-zk job wait 1" in (gave_up.value.hint or "")


def test_the_provider_that_took_the_offer_gets_the_input_again_only_after_a_while(market: MarketFake) -> None:
    script = Script(lambda: market.claim(1, A), *[idle] * int(OFFER_RESEND_S / POLL_S + 4), lambda: market.settle(1))
    sent_at: list[float] = []
    deliver = market.deliver_input
    market.deliver_input = lambda *a: (sent_at.append(script.t), deliver(*a))[1]  # type: ignore[method-assign]
    ended, _, _ = follow(market, script, record(offered_to=A))
    assert ended.job.status is JobStatus.SETTLED
    assert len(sent_at) == 1 and sent_at[0] >= POLL_S + OFFER_RESEND_S  # it has it from the offer; resent once, late


# --- the input's way: endpoint busy -> on chain ---------------------------------------------------------------
@pytest.fixture
def endpoint_answering() -> Iterator[Callable[[int], tuple[str, list[str]]]]:
    """FAULT INJECTION: a provider endpoint that answers every upload with one status (no body read)."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int) -> tuple[str, list[str]]:
        seen: list[str] = []

        class Refuse(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                seen.append(self.path)
                body = json.dumps({"error": "mailbox full for this consumer"}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_busy_endpoint_429_sends_the_input_on_chain(market: MarketFake, endpoint_answering: Any) -> None:
    url, seen = endpoint_answering(429)
    market.add_provider(A, url)
    ended, notes, kept = follow(market, Script(lambda: market.claim(1, A), idle, lambda: market.settle(1)))
    assert seen == ["/v1/jobs/1/input"] and ended.job.status is JobStatus.SETTLED
    assert any(n.startswith("provider endpoint is busy (") and n.endswith("delivering on chain instead") for n in notes)
    [(_, provider, payload)] = market.delivered
    assert provider == A and opened(market, A, payload)["input"] == SALTED and kept.deliveries == {A: "0xdeliver1"}


def test_an_endpoint_that_refuses_the_input_is_not_bypassed_on_chain(market: MarketFake, endpoint_answering: Any) -> None:
    """A 403 is a verdict on the upload, not a busy mailbox: the input does not go on chain behind its back."""
    url, seen = endpoint_answering(403)
    market.add_provider(A, url)
    with pytest.raises(DataPlaneError, match="HTTP 403"):
        follow(market, Script(lambda: market.claim(1, A)))
    assert seen == ["/v1/jobs/1/input"] and market.delivered == []
