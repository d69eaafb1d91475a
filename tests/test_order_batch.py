"""Many gasless orders in one transaction (``ngx-zk worker --fill-batch N``), in milliseconds.

The worker's lifecycle runs on the FAKE chain of tests/test_lifecycle.py; ``OrdersFake`` adds the market's
order rules to it (a nonce fills once; ``fillOrders`` skips an order it cannot fill and logs why). The orders
are signed for real (eth_account) and reach the worker as offers through its real ``OfferBook``. The same
batches run on anvil against the compiled contracts in tests/test_order_batch_chain.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from eth_account import Account

from ngx_zk.chain.jobs import BatchFill, Jobs, Skipped
from ngx_zk.chain.orders import MAX_FILL_BATCH, SKIP_REASONS, Order, OrderError, Permit, SignedOrder, skip_reason
from ngx_zk.chain.signer import Signer
from ngx_zk.chain.types import ZERO, JobStatus, JobTerms, Logged, LogMeta, OrderFilled, commitments_hash
from ngx_zk.cli import main
from ngx_zk.dataplane import Offer
from ngx_zk.errors import ChainError, ContractRevert
from ngx_zk.worker.journal import Step
from ngx_zk.worker.order_batch import OrderBatches
from ngx_zk.worker.orders import OrderFiller
from ngx_zk.worker.policy import ClaimPolicy

from .test_chain_types import solidity_enum
from .test_lifecycle import ME, NGX, mined, rig, run  # noqa: F401  (rig: the lifecycle's fixture)

CHAIN_ID, MARKET = 31337, "0x" + "44" * 20


class OrdersFake:
    """FAKE: the JobMarket's order rules over the lifecycle's fake job table (``market``): a nonce fills once,
    ``fillOrders`` skips what it cannot fill (``skip``: (consumer, nonce) -> reason code, as a front-runner or a
    spent escrow would make it), ``fail``: the node fails after (``landed``) or before the batch is mined."""

    market = SimpleNamespace(address=MARKET)
    """The JobMarket contract, as the filler names the EIP-712 domain."""

    def __init__(self, table: Any) -> None:
        self.table = table
        table.chain.chain_id = CHAIN_ID
        self.used: set[tuple[str, int]] = set()
        self.skip: dict[tuple[str, int], int] = {}
        self.batches: list[list[int]] = []
        """The nonces of each ``fillOrders`` transaction, in order."""
        self.singles: list[int] = []
        """The nonce of each ``fillOrder`` transaction."""
        self.filled: list[Logged[OrderFilled]] = []
        self.posted: dict[int, tuple[int, ...]] = {}
        """Job id -> the commitments its JobPosted carries."""
        self.fail: tuple[Exception, bool] | None = None
        """Raise this once, after (True) or before (False) the transaction changed the chain."""

    def __getattr__(self, name: str) -> Any:  # the job table's reads: the lifecycle's fake answers them
        return getattr(self.table, name)

    def order_nonce_used(self, consumer: str, nonce: int) -> bool:
        return (consumer.lower(), nonce) in self.used

    def balance(self, address: str) -> int:
        return 1000 * NGX

    allowance = balance

    def _fill(self, s: SignedOrder) -> int | Skipped:
        key = (s.order.consumer.lower(), s.order.nonce)
        code = 5 if key in self.used else self.skip.get(key)
        if code is not None:
            return Skipped(code, *skip_reason(code))
        self.used.add(key)
        job = self.table.post(job_id=max(self.table.jobs, default=0) + 1, price=s.order.terms.max_price)
        self.table._set(
            job.job_id,
            consumer=s.order.consumer,
            status=JobStatus.CLAIMED,
            provider=ME,
            prove_deadline=int(self.chain.now) + 300,
            commitments_hash=commitments_hash(s.order.commitments),
        )
        self.posted[job.job_id] = s.order.commitments
        event = OrderFilled(job.job_id, s.order.consumer, s.order.nonce, ME)
        self.filled.append(Logged(event, LogMeta(7, f"0xfill{job.job_id}", 0)))
        return int(job.job_id)

    def _failing(self, landed: bool) -> None:
        if self.fail is not None and self.fail[1] is landed:
            exc, self.fail = self.fail[0], None
            raise exc

    def fill_orders(self, signer: Any, signed: Sequence[SignedOrder]) -> BatchFill:
        assert 1 < len(signed) <= MAX_FILL_BATCH
        self._failing(landed=False)
        self.batches.append([s.order.nonce for s in signed])
        outcomes = tuple(self._fill(s) for s in signed)
        self._failing(landed=True)
        return BatchFill(outcomes, mined(f"0xbatch{len(self.batches)}"))

    def fill_order(self, signer: Any, signed: SignedOrder) -> tuple[int, Any]:
        self._failing(landed=False)
        self.singles.append(signed.order.nonce)
        outcome = self._fill(signed)
        if isinstance(outcome, Skipped):
            raise ContractRevert("JobMarket__OrderNonceUsed" if outcome.code == 5 else "JobMarket__BadOrder", {})
        self._failing(landed=True)
        return outcome, mined(f"0xfill{outcome}")

    def logs(self, kind: type[Any], from_block: int, to_block: int | None = None, **filters: Any) -> list[Logged[Any]]:
        if kind is not OrderFilled:
            return list(self.table.logs(kind, from_block, to_block, **filters))
        want = (filters["consumer"].lower(), filters["nonce"])
        return [e for e in self.filled if (e.event.consumer.lower(), e.event.nonce) == want]


def batches(lab: SimpleNamespace, size: int) -> tuple[OrderBatches, OrdersFake]:
    fake = OrdersFake(lab.market)
    lab.market.weight = 1_000  # consumers with paid history: the fresh-consumer caps are tested on their own
    filler = OrderFiller(lab.life, fake)  # type: ignore[arg-type]
    lab.life.crew.offers.capacity = 100
    return OrderBatches(filler, size), fake


def offer_orders(lab: SimpleNamespace, count: int, consumers: int = 1, first_nonce: int = 1) -> list[SignedOrder]:
    """``count`` orders of ``consumers`` accounts (round robin), each offered with its own input."""
    accounts = [Account.create() for _ in range(consumers)]
    now = int(lab.market.chain.now)
    signed = []
    for i in range(count):
        account = accounts[i % consumers]
        signer = Signer(account.address, account)
        commitment = 10_000 + first_nonce + i
        order = Order(signer.address, JobTerms.fixed(1, 10 * NGX, 300, 300), (commitment,), ZERO, first_nonce + i, now, now + 300)
        one = SignedOrder.sign(signer, order, Permit.none(), CHAIN_ID, MARKET)
        assert lab.life.crew.offers.take(Offer(signer.address, 1, commitment, b"good", time.time(), one.to_wire()))
        signed.append(one)
    lab.life.crew.offers.tend([])
    return signed


def scan(lab: SimpleNamespace, fake: OrdersFake) -> None:
    """The worker's JobPosted scan: each filled order's job the journal does not hold yet is journaled SEEN."""
    for job_id, commitments in fake.posted.items():
        if lab.journal.get(job_id) is None:
            lab.journal.record(job_id, 1, Step.SEEN, commitments=commitments, price=10 * NGX, seen_block=7)


def journaled(lab: SimpleNamespace) -> dict[int, Any]:
    return {r.job_id: r for r in lab.journal.all() if r.offered}


def refusals(lab: SimpleNamespace) -> list[str]:
    return [r.reason for r in lab.journal.refusals() if r.source == "order"]


def test_every_order_that_passes_in_a_round_goes_in_one_transaction(rig: SimpleNamespace) -> None:  # noqa: F811
    filler, fake = batches(rig, 16)
    signed = offer_orders(rig, 12, consumers=4)
    assert filler.fill_all()
    assert fake.batches == [[s.order.nonce for s in signed]] and fake.singles == []
    held = journaled(rig)
    assert len(held) == 12 and all(r.step is Step.PROVING and r.input_path and r.claim_tx == "0xbatch1" for r in held.values())
    assert rig.life.stats.claimed_ids == set(held) and rig.life.crew.offers.orders() == []
    assert rig.provers.runs == 12, "each offer's early proof became its job's"
    assert not filler.fill_all() and len(fake.batches) == 1, "nothing left to fill"


def test_batches_hold_at_most_fill_batch_orders_and_the_market_64(rig: SimpleNamespace) -> None:  # noqa: F811
    filler, fake = batches(rig, 16)
    offer_orders(rig, 17, consumers=3)
    filler.fill_all()
    assert fake.batches == [list(range(1, 17))] and fake.singles == [17], "the 17th goes alone, with fillOrder"
    assert len(journaled(rig)) == 17
    with pytest.raises(ValueError, match="1 to 64"):
        OrderBatches(filler.filler, MAX_FILL_BATCH + 1)
    signed = offer_orders(rig, 1, first_nonce=100)
    for many, why in (([signed[0]] * 2, "share a consumer and nonce"), ([], "1 to 64")):
        with pytest.raises(OrderError, match=why):  # refused before anything is sent (no chain behind this Jobs)
            Jobs.fill_orders(SimpleNamespace(), None, many)  # type: ignore[arg-type]


def test_a_lone_order_and_fill_batch_1_take_fill_order(rig: SimpleNamespace) -> None:  # noqa: F811
    filler, fake = batches(rig, 16)
    offer_orders(rig, 1)
    filler.fill_all()
    assert fake.batches == [] and fake.singles == [1]
    one, fake = batches(rig, 1)
    offer_orders(rig, 3, first_nonce=10)
    one.fill_all()
    assert fake.batches == [] and fake.singles == [10, 11, 12], "--fill-batch 1: today's one fillOrder per order"


def test_a_skipped_order_is_refused_with_the_markets_reason_and_the_rest_are_filled(rig: SimpleNamespace) -> None:  # noqa: F811
    filler, fake = batches(rig, 16)
    signed = offer_orders(rig, 4, consumers=2)
    cancelled, broke = signed[1].order, signed[2].order
    fake.skip[(cancelled.consumer.lower(), cancelled.nonce)] = 5  # cancelled after the worker judged it
    fake.skip[(broke.consumer.lower(), broke.nonce)] = 9  # its escrow spent meanwhile
    assert filler.fill_all()
    assert fake.batches == [[1, 2, 3, 4]] and len(journaled(rig)) == 2
    assert refusals(rig) == [
        "the market skipped the order: its nonce was filled or cancelled already (NonceUsed)",
        "the market skipped the order: the consumer's escrow could not be pulled: balance or allowance too low (PaymentFailed)",
    ]
    assert rig.life.crew.offers.orders() == [], "the skipped orders' offers are dropped"
    assert not filler.fill_all() and len(fake.batches) == 1


def test_a_transient_skip_or_a_paused_market_is_tried_again_next_round(rig: SimpleNamespace) -> None:  # noqa: F811
    filler, fake = batches(rig, 16)
    signed = offer_orders(rig, 3)
    early = signed[0].order
    fake.skip[(early.consumer.lower(), early.nonce)] = 3  # NotYetValid: the block's time is behind the signature
    filler.fill_all()
    assert len(journaled(rig)) == 2 and refusals(rig) == [] and len(rig.life.crew.offers.orders()) == 1
    fake.skip.clear()
    fake.fail = (ContractRevert("EnforcedPause", {}), False)
    filler.fill_all()  # a lone order: fillOrder, reverted by the pause
    assert fake.singles == [] and len(rig.life.crew.offers.orders()) == 1 and refusals(rig) == []
    filler.fill_all()
    assert fake.singles == [early.nonce] and len(journaled(rig)) == 3


def test_a_batch_the_market_reverts_whole_is_filled_one_by_one(rig: SimpleNamespace) -> None:  # noqa: F811
    filler, fake = batches(rig, 16)
    signed = offer_orders(rig, 3)
    fake.fail = (ContractRevert("JobMarket__OrderBatchShape", {}), False)
    cancelled = signed[2].order
    fake.skip[(cancelled.consumer.lower(), cancelled.nonce)] = 5  # cancelled between the judgement and the send
    filler.fill_all()
    assert fake.batches == [] and fake.singles == [1, 2, 3] and len(journaled(rig)) == 2
    assert refusals(rig) == ["the market refuses the fill: the contract refused: JobMarket__OrderNonceUsed()"]


def test_a_batch_whose_fate_is_unknown_never_fills_twice_and_the_scan_adopts_what_landed(rig: SimpleNamespace) -> None:  # noqa: F811
    filler, fake = batches(rig, 16)
    offer_orders(rig, 3)
    fake.fail = (ChainError("node went away"), True)  # mined, but the receipt never came
    assert not filler.fill_all()
    assert len(fake.batches) == 1 and journaled(rig) == {} and fake.used
    assert not filler.fill_all()
    assert len(fake.batches) == 1 and fake.singles == [], "the nonces read used: nothing is sent again"
    assert refusals(rig) == [] and len(rig.life.crew.offers.orders()) == 3, "the offers wait for the JobPosted scan"
    scan(rig, fake)
    run(rig, rounds=3)
    held = journaled(rig)
    assert sorted(held) == [1, 2, 3] and all(r.step.holding and r.input_path for r in held.values())
    assert rig.market.claims == [] and rig.life.crew.offers.orders() == [], "adopted, offer and proof, never claimed again"


def test_a_batch_that_failed_before_it_was_mined_is_sent_again_once(rig: SimpleNamespace) -> None:  # noqa: F811
    filler, fake = batches(rig, 16)
    offer_orders(rig, 3)
    fake.fail = (ChainError("node went away"), False)
    filler.fill_all()
    filler.fill_all()
    assert fake.batches == [[1, 2, 3]] and len(journaled(rig)) == 3


def test_the_batch_counts_the_orders_picked_so_far_against_the_providers_caps(rig: SimpleNamespace) -> None:  # noqa: F811
    rig.life.policy = ClaimPolicy(max_claimed=3)
    filler, fake = batches(rig, 16)
    offer_orders(rig, 5)
    filler.fill_all()
    assert fake.batches == [[1, 2, 3]] and len(rig.life.crew.offers.orders()) == 2 and refusals(rig) == []
    filler.fill_all()
    assert len(fake.batches) == 1 and refusals(rig) == [], "held back by --max-claimed while 3 are held: they wait"
    assert len(rig.life.crew.offers.orders()) == 2
    rig.life.policy = ClaimPolicy()
    rig.market.free_stake = lambda address: 25 * NGX  # collateral: 10 NGX per job here
    filler, fake = batches(rig, 16)
    offer_orders(rig, 4, first_nonce=20)
    filler.fill_all()
    assert fake.batches == [[20, 21]], "the free stake holds two more collaterals"


def test_a_crash_after_a_batch_fill_resumes_every_job_from_the_chain(rig: SimpleNamespace) -> None:  # noqa: F811
    filler, fake = batches(rig, 16)
    offer_orders(rig, 3)

    def crash(point: str) -> None:
        raise SystemExit(f"crash at {point}")

    rig.life.crew.crash_point = crash
    with pytest.raises(SystemExit):
        filler.fill_all()
    assert len(journaled(rig)) == 1, "the first job was journaled, the others were not"
    rig.life.crew.crash_point = lambda point: None
    for commitment, _ in rig.life.crew.offers.orders():  # the offers were in the crashed process's memory
        rig.life.crew.offers.drop(commitment)
    scan(rig, fake)  # the restarted worker's
    run(rig, rounds=3)
    for job_id in (1, 2, 3):
        steps = [step for step, _, _ in rig.journal.history(job_id)]
        assert "claimed" in steps and "lost" not in steps, (job_id, steps)
    assert rig.market.claims == [] and len(fake.batches) == 1, "found claimed on chain: no claim, no second fill"


def test_the_skip_reasons_name_the_contracts_codes() -> None:
    names = solidity_enum("IJobMarket", "OrderSkip")
    assert names[0] == "None" and len(names) == len(SKIP_REASONS) + 1
    for code, (words, _) in SKIP_REASONS.items():
        assert re.search(rf"\({names[code]}\)$", words), (code, words)
    assert skip_reason(99) == ("reason code 99, unknown to this ngx-zk (update it)", False)


def test_the_worker_cli_documents_fill_batch() -> None:
    out = CliRunner().invoke(main, ["worker", "--help"])
    assert out.exit_code == 0 and "--fill-batch" in out.output and "--fill-batch 32" in out.output
    bad = CliRunner().invoke(main, ["worker", "--model", "mlp", "--fill-batch", "65"])
    assert bad.exit_code == 2 and "--fill-batch" in bad.output
