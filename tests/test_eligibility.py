"""Would I take this job? The lifecycle (a posted job) and the order filler (a gasless order) ask the same
question of ngx_zk/worker/eligibility.py, so they refuse the same job for the same reason, word for word.

The lifecycle runs on the FAKE chain of tests/test_lifecycle.py; the order is signed for real (eth_account),
only the chain reads behind it are the fake's.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from eth_account import Account

from ngx_zk.chain.orders import Order, Permit, SignedOrder
from ngx_zk.chain.signer import Signer
from ngx_zk.chain.types import FLAG_DELIVERER, FLAG_OPTIMISTIC, ZERO, JobExtras, JobTerms, ModelStatus
from ngx_zk.cli import main
from ngx_zk.inputs import InputData
from ngx_zk.worker.eligibility import Terms
from ngx_zk.worker.journal import Step
from ngx_zk.worker.offers import Offered
from ngx_zk.worker.orders import OrderFiller
from ngx_zk.worker.policy import CLAIM_MARGIN_S, DEFAULT_MAX_FRESH_JOBS, ClaimPolicy

from .test_lifecycle import COMMITMENTS, NGX, rig, run, seen  # noqa: F401  (rig: the lifecycle's fixture)

CHAIN_ID, MARKET = 31337, "0x" + "44" * 20


DELIVERER = "0x" + "dd" * 20


def order_for(consumer: Signer, now: int, **terms: Any) -> SignedOrder:
    t = JobTerms(
        model_id=1,
        min_price=terms.get("price", 10 * NGX),
        max_price=terms.get("price", 10 * NGX),
        claim_window=300,
        prove_window=terms.get("prove_window", 300),
        min_reputation=terms.get("min_reputation", 0),
        callback_gas_limit=terms.get("callback_gas", 0),
        deliverer=terms.get("deliverer", ZERO),
        settlement=1 if terms.get("optimistic") else 0,
    )
    order = Order(consumer.address, t, COMMITMENTS, ZERO, nonce=1, signed_at=now, deadline=now + 300)
    return SignedOrder.sign(consumer, order, Permit.none(), CHAIN_ID, MARKET)


def order_refusal(rigged: SimpleNamespace, signed: SignedOrder) -> str | None:
    """The order filler's answer, with the fake market standing in for the reads an order adds."""
    market = rigged.market
    market.chain.chain_id, market.market = CHAIN_ID, SimpleNamespace(address=MARKET)
    market.order_nonce_used = lambda consumer, nonce: False
    market.balance = market.allowance = lambda address: 1000 * NGX
    offered = Offered(signed.order.consumer, 1, InputData(((0.5,),)), b"", time.time(), order=signed.to_wire())
    return OrderFiller(rigged.life, market).refusal(signed, offered, COMMITMENTS[0])


CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("takes it", {}, None),
    (
        "price under the floor",
        {"policy": ClaimPolicy(min_price=20 * NGX)},
        "price 10000000000000000000 below this worker's minimum",
    ),
    ("prove window too short", {"prove_window": 20}, "prove window 20s too short"),
    ("holds enough already", {"policy": ClaimPolicy(max_claimed=0)}, "already holding 0 job(s)"),
    ("callback gas over the cap", {"callback_gas": 600_000}, "callback gas limit 600,000 above"),
    ("consumer score low", {"policy": ClaimPolicy(min_consumer_score=90), "score": 40}, "consumer score 40 below"),
    ("model paused", {"model_status": ModelStatus.PAUSED}, f"model 1 is {ModelStatus.PAUSED.value}"),
    ("NRS under the job's minimum", {"min_reputation": 60}, "NRS 50 below the job's minimum 60"),
    ("stake too small", {"free_stake": 0}, "not enough free stake for the collateral"),
    (
        "callback gas priced over the price",
        {"policy": ClaimPolicy(min_price=5 * NGX, price_per_gas=10 * NGX // 1_000), "callback_gas": 600},
        "price 10000000000000000000 below this worker's minimum 11000000000000000000",
    ),
    ("fresh consumer over the job cap", {"fresh_held": 2}, "already holding 2 job(s) of consumers with no paid history"),
    (
        "fresh consumer over the collateral cap",
        {"policy": ClaimPolicy(max_fresh_collateral=15 * NGX), "fresh_held": 1},
        "collateral 20000000000000000000 at risk with consumers with no paid history (cap 15000000000000000000)",
    ),
    ("a consumer with paid history is not capped", {"fresh_held": 5, "weight": 1_000}, None),
    ("--max-claimed full", {"policy": ClaimPolicy(max_claimed=1), "fresh_held": 1}, "already holding 1 job(s) (--max-claimed 1)"),
    ("stake locked in a held job", {"free_stake": 5 * NGX, "fresh_held": 1}, "not enough free stake for the collateral"),
    (
        "low-score deliverer",
        {"policy": ClaimPolicy(min_consumer_score=60), "deliverer": DELIVERER, "scores": {DELIVERER: 50}},
        f"deliverer {DELIVERER} scores 50, below this worker's minimum 60",
    ),
    ("a good deliverer", {"policy": ClaimPolicy(min_consumer_score=60), "deliverer": DELIVERER}, None),
    (
        "optimistic job without an endpoint for its proof",
        {"optimistic": True, "serves_proofs": False},
        "optimistic job, and no endpoint serves its proof (start the worker with --listen)",
    ),
    ("optimistic job with an endpoint", {"optimistic": True}, None),
]


WAITS = {
    "fresh consumer over the job cap",
    "fresh consumer over the collateral cap",
    "--max-claimed full",
    "stake locked in a held job",
}
"""Refusals of a cap on what the worker holds: they free when a held job ends, so the job waits (SEEN), never SKIPPED.
The rest are for good: --max-claimed 0 holding nothing, or a stake too small with nothing held, never frees."""


def hold_fresh(rigged: SimpleNamespace, count: int) -> None:
    """``count`` jobs (ids 100...) claimed for fresh consumers, 10 NGX collateral each, journaled as the claim does."""
    for job_id in range(100, 100 + count):
        rigged.journal.record(job_id, 1, Step.SEEN)
        rigged.journal.record(job_id, 1, Step.CLAIMING, fresh=True, collateral=10 * NGX)
        rigged.journal.record(job_id, 1, Step.CLAIMED)


@pytest.mark.parametrize(("case", "job", "why"), CASES, ids=[c[0] for c in CASES])
def test_a_posted_job_and_an_order_on_the_same_terms_get_the_same_answer(
    rig: SimpleNamespace,  # noqa: F811
    case: str,
    job: dict[str, Any],
    why: str | None,
) -> None:
    consumer = Account.create()
    signer = Signer(consumer.address, consumer)
    if "policy" in job:
        rig.life.policy = job["policy"]
    rig.market.score = job.get("score", 100)
    rig.market.scores = job.get("scores", {})
    rig.market.weight = job.get("weight", 0)
    hold_fresh(rig, job.get("fresh_held", 0))
    rig.market.model_status = job.get("model_status", ModelStatus.ACTIVE)
    rig.life.eligibility.serves_proofs = job.get("serves_proofs", True)
    if "free_stake" in job:
        rig.market.free_stake = lambda address: job["free_stake"]
    seen(rig, prove_window=job.get("prove_window", 300))
    rig.market._set(
        1,
        consumer=signer.address,
        min_reputation=job.get("min_reputation", 0),
        callback_gas_limit=job.get("callback_gas", 0),
        flags=(FLAG_DELIVERER if "deliverer" in job else 0) | (FLAG_OPTIMISTIC if job.get("optimistic") else 0),
    )
    if "deliverer" in job:
        rig.market.ramp = JobExtras(10 * NGX, 0, 0, job["deliverer"], None, 0)

    ordered = order_refusal(rig, order_for(signer, int(rig.market.chain.now), **job))
    posted = rig.life.eligibility.refusal(rig.journal.get(1), rig.market.job(1))

    assert posted == ordered, "the two paths disagree"
    if why is None:
        assert posted is None and run(rig) is Step.CLAIMED
        assert rig.journal.get(1).fresh is (job.get("weight", 0) < 1_000), "the claim journals whether it is fresh"
    elif case in WAITS:
        assert posted is not None and why in posted
        assert (
            run(rig, rounds=1) is Step.SEEN and rig.market.claims == [] and rig.journal.history(1)[-1][2] == f"waiting: {posted}"
        )
        # the held jobs end (the fake chain never posted them: lost) and their stake is free, the job is claimed
        rig.market.free_stake = lambda address: 100 * NGX
        assert run(rig) is Step.CLAIMED and rig.market.claims == [1]
    else:
        assert posted is not None and why in posted
        assert run(rig) is Step.SKIPPED and rig.market.claims == [] and rig.journal.history(1)[-1][2] == posted


def test_terms_of_a_job_and_of_its_order_are_the_same_record(rig: SimpleNamespace) -> None:  # noqa: F811
    now = rig.market.chain.now
    consumer = Account.create()
    signer = Signer(consumer.address, consumer)
    seen(rig)
    rig.market._set(1, consumer=signer.address, claim_deadline=int(now) + 300)
    posted = Terms.posted(rig.market.job(1), 10 * NGX, now)
    ordered = Terms.ordered(order_for(signer, int(now)).order, now)
    assert posted == ordered


def test_fresh_jobs_held_are_counted_from_the_journal_and_free_again_once_finished(rig: SimpleNamespace) -> None:  # noqa: F811
    """The cap counts what the worker holds now (a restart reads the same journal): a finished fresh job frees its
    slot. The capped job waits (SEEN), said once, not read again each round; it is claimed once the slot frees."""
    hold_fresh(rig, DEFAULT_MAX_FRESH_JOBS)
    assert rig.life.holding_fresh == (DEFAULT_MAX_FRESH_JOBS, DEFAULT_MAX_FRESH_JOBS * 10 * NGX)
    seen(rig)
    why = rig.life.eligibility.refusal(rig.journal.get(1), rig.market.job(1))
    assert why is not None and f"cap {DEFAULT_MAX_FRESH_JOBS}" in why
    logged: list[tuple[str, dict[str, Any]]] = []
    rig.life.crew.log = lambda event, **kw: logged.append((event, kw))
    reads = 0
    job = rig.market.job

    def counted(job_id: int) -> Any:
        nonlocal reads
        reads += job_id == 1
        return job(job_id)

    rig.market.job = counted
    for _ in range(20):  # rounds while the held jobs are still held (only job 1 is advanced)
        rig.life.advance(rig.journal.get(1))
    assert rig.journal.get(1).step is Step.SEEN and rig.market.claims == []
    assert [kw["reason"] for e, kw in logged if e == "job.waiting"] == [why], "the wait is said once, not once per round"
    assert [note for step, _, note in rig.journal.history(1)] == ["", f"waiting: {why}"]
    assert reads == 1, "nothing held finished: the chain is not read again"
    rig.journal.record(100, 1, Step.DECLINING)
    rig.journal.record(100, 1, Step.DECLINED)
    assert rig.life.holding_fresh == (DEFAULT_MAX_FRESH_JOBS - 1, (DEFAULT_MAX_FRESH_JOBS - 1) * 10 * NGX)
    rig.life.advance(rig.journal.get(1))
    assert rig.journal.get(1).step is Step.CLAIMED and rig.journal.get(1).fresh and rig.market.claims == [1]


def test_a_capped_job_is_looked_at_again_after_a_while_and_skipped_once_its_claim_window_closed(rig: SimpleNamespace) -> None:  # noqa: F811
    """Nothing held finishes, but the job cannot wait past its claim window: the look due when it closes skips it."""
    hold_fresh(rig, DEFAULT_MAX_FRESH_JOBS)
    seen(rig)  # claim window: 300 s
    rig.life.advance(rig.journal.get(1))
    assert rig.journal.get(1).step is Step.SEEN and 1 in rig.life.capped.jobs
    assert 290 < rig.life.capped.jobs[1][1] - time.monotonic() <= 300 - CLAIM_MARGIN_S, "looked at again as the window closes"
    rig.market.chain.now = rig.market.job(1).claim_deadline
    rig.life.advance(rig.journal.get(1))
    assert rig.journal.get(1).step is Step.SEEN, "not looked at again before CAPPED_RECHECK_S"
    held, _ = rig.life.capped.jobs[1]
    rig.life.capped.jobs[1] = (held, time.monotonic())
    rig.life.advance(rig.journal.get(1))
    assert rig.journal.get(1).step is Step.SKIPPED and rig.journal.history(1)[-1][2] == "claim window closing"
    assert 1 not in rig.life.capped.jobs


def capped_order(rigged: SimpleNamespace) -> SignedOrder:
    """An order that only --max-claimed 1 keeps out, the worker holding one job; the fake market's order reads wired."""
    consumer = Account.create()
    rigged.life.policy = ClaimPolicy(max_claimed=1)
    hold_fresh(rigged, 1)
    seen(rigged)
    signed = order_for(Signer(consumer.address, consumer), int(rigged.market.chain.now))
    order_refusal(rigged, signed)
    return signed


def test_an_order_a_held_job_keeps_out_waits_offered_and_is_filled_once_the_job_ends(rig: SimpleNamespace) -> None:  # noqa: F811
    """The order twin of the capped posted job: refused only by --max-claimed while a job is held, the order is
    kept (not refused, its offer not dropped), said once, not judged again each round; once the held job ends it
    passes and is handed to a fill."""
    signed = capped_order(rig)
    reads = 0
    used = rig.market.order_nonce_used

    def counted(consumer: str, nonce: int) -> bool:
        nonlocal reads
        reads += 1
        return bool(used(consumer, nonce))

    rig.market.order_nonce_used = counted
    offered = Offered(signed.order.consumer, 1, InputData(((0.5,),)), b"", time.time(), order=signed.to_wire())
    dropped: list[int] = []
    rig.life.crew.offers.drop = dropped.append
    logged: list[tuple[str, dict[str, Any]]] = []
    rig.life.crew.log = lambda event, **kw: logged.append((event, kw))
    filler = OrderFiller(rig.life, rig.market)
    for _ in range(20):
        assert filler.vet(COMMITMENTS[0], offered) is None
    assert dropped == [] and rig.journal.refusals() == [], "a capped order is kept, not refused"
    waits = [kw for e, kw in logged if e == "order.waiting"]
    assert len(waits) == 1 and "already holding 1 job(s) (--max-claimed 1)" in waits[0]["reason"]
    assert reads == 1, "nothing held finished: the order is not judged again"
    rig.journal.record(100, 1, Step.DECLINING)
    rig.journal.record(100, 1, Step.DECLINED)
    pending = filler.vet(COMMITMENTS[0], offered)
    assert pending is not None and pending.signed == signed and reads == 2


def test_a_capped_order_is_refused_once_its_deadline_is_near(rig: SimpleNamespace) -> None:  # noqa: F811
    """Nothing held ends: the order waits no longer than its own deadline, then it is refused as expired."""
    signed = capped_order(rig)
    offered = Offered(signed.order.consumer, 1, InputData(((0.5,),)), b"", time.time(), order=signed.to_wire())
    dropped: list[int] = []
    rig.life.crew.offers.drop = dropped.append
    filler = OrderFiller(rig.life, rig.market)
    assert filler.vet(COMMITMENTS[0], offered) is None and dropped == []
    key = ("order", signed.order.consumer.lower(), signed.order.nonce)
    held, look = rig.life.capped.jobs[key]
    assert 280 < look - time.monotonic() <= 300, "looked at again as the order's deadline nears"
    rig.market.chain.now = signed.order.deadline
    rig.life.capped.jobs[key] = (held, time.monotonic())
    assert filler.vet(COMMITMENTS[0], offered) is None
    assert dropped == [COMMITMENTS[0]] and rig.journal.refusals()[-1].reason == "the order has expired"


def test_the_worker_command_takes_the_griefing_options_with_the_policy_defaults() -> None:
    result = CliRunner().invoke(main, ["worker", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    option = text[text.index("--max-fresh-jobs INTEGER") :]
    assert f"default: {DEFAULT_MAX_FRESH_JOBS}" in option[: option.index(" --", 1)]
    assert "--price-per-gas NGX" in text and "--max-fresh-collateral NGX" in text
    bad = CliRunner().invoke(main, ["worker", "--model", "mlp", "--price-per-gas", "lots"])
    assert bad.exit_code == 2 and "--price-per-gas" in bad.output and "Traceback" not in bad.output
