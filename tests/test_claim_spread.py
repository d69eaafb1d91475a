"""The claim spread (issue #25): each provider's rank for a job is fair, about k providers claim at once
whatever their number, a lone provider never waits, and the others' waits end. Fast tier: the rank is
pure arithmetic; the registrations come from a fake of the one read it makes (the chain-tier run with
simulated providers on the real contracts is tests/test_claim_spread_chain.py)."""

from __future__ import annotations

import hashlib
import math
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from ngx_zk.chain.types import Logged, LogMeta, ProviderRegistered
from ngx_zk.errors import RpcError
from ngx_zk.inputs import InputData
from ngx_zk.worker.claim_spread import SPREAD_FIRST, SPREAD_SLOT_S, ClaimSpread, spread_score, spread_slot
from ngx_zk.worker.journal import JobRecord, Step
from ngx_zk.worker.lifecycle import Lifecycle
from ngx_zk.worker.offers import OfferBook, Offered

C = (12345,)
"""A job's input commitments (a salted input's; the score's secret to anyone but the consumer until the post)."""


def address(i: int) -> str:
    return "0x" + f"{i + 1:040x}"


@dataclass
class RegistryFake:
    """FAKE: the head and the ProviderRegistered logs the spread reads (and a node that may fail)."""

    providers: list[str]
    head: int = 100
    down: bool = False
    reads: list[tuple[int, int | None]] = field(default_factory=list)

    @property
    def chain(self) -> RegistryFake:
        return self

    @property
    def deployment(self) -> Any:
        return type("Deployed", (), {"block": 1})()

    def block_number(self) -> int:
        if self.down:
            raise RpcError("eth_blockNumber failed on every RPC node (refused)")
        return self.head

    def timestamp(self) -> int:
        return 0

    def logs(self, kind: type[Any], from_block: int, to_block: int | None = None, **_: Any) -> list[Logged[Any]]:
        assert kind is ProviderRegistered
        self.reads.append((from_block, to_block))
        return [
            Logged(ProviderRegistered(p, b"", ""), LogMeta(1, f"0x{i:064x}", 0))
            for i, p in enumerate(self.providers)
            if from_block <= 1 <= (to_block or self.head)
        ]


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def spread_for(me: str, providers: list[str], clock: Callable[[], float] | None = None) -> ClaimSpread:
    return ClaimSpread(RegistryFake(providers), me, clock=clock or Clock())


def test_the_score_is_deterministic_uniform_and_differs_per_job_and_provider() -> None:
    scores = [spread_score(job, C, address(0)) for job in range(2_000)]
    assert scores[:50] == [spread_score(job, C, address(0).upper().replace("0X", "0x")) for job in range(50)]
    assert all(0 <= s < 1 for s in scores)
    assert abs(statistics.mean(scores) - 0.5) < 0.03 and abs(statistics.pvariance(scores) - 1 / 12) < 0.01
    assert sum(s < 0.1 for s in scores) in range(150, 251), "a tenth of the jobs below 0.1"
    assert spread_score(7, C, address(0)) != spread_score(7, C, address(1)) != spread_score(8, C, address(1))


def test_each_provider_comes_first_for_its_share_of_the_jobs() -> None:
    providers = [address(i) for i in range(20)]
    jobs = 4_000
    firsts = [min(providers, key=lambda p, j=j: spread_score(j, C, p)) for j in range(jobs)]  # type: ignore[misc]
    share = {p: firsts.count(p) for p in providers}
    expected = jobs / len(providers)  # 200; binomial sd about 14
    assert all(0.7 * expected < n < 1.3 * expected for n in share.values()), share


@pytest.mark.parametrize("competitors", [20, 200, 1_000])
def test_about_k_providers_claim_at_once_whatever_their_number(competitors: int) -> None:
    providers = [address(i) for i in range(competitors)]
    slots = [[spread_slot(spread_score(j, C, p), competitors) for p in providers] for j in range(60_000 // competitors)]
    at_once = [job.count(0) for job in slots]
    assert 0.8 * SPREAD_FIRST < statistics.mean(at_once) < 1.25 * SPREAD_FIRST, "about k at once, not a share of P"
    assert max(at_once) <= 4 * SPREAD_FIRST + 2
    assert max(min(job) for job in slots) <= 3, "someone's turn comes within three slots for every job (else: e**-16)"
    worst = max(max(job) for job in slots)
    assert worst <= 1 + math.log2(competitors / SPREAD_FIRST), "the longest wait grows with log2(P), not P"


@pytest.mark.parametrize("registered", [[], ["me"], ["me", "other"]])
def test_a_lone_provider_or_a_pair_claims_every_job_at_once(registered: list[str]) -> None:
    me = address(0)
    spread = spread_for(me, [me if r == "me" else address(9) for r in registered])
    assert spread.competitors() == max(1, len(registered))
    assert all(spread.wait_s(job, C) == 0 for job in range(500))


def test_a_provider_ranked_later_waits_its_slots_then_claims_and_a_job_once_due_stays_due() -> None:
    providers = [address(i) for i in range(100)]
    clock = Clock()
    spread = spread_for(providers[0], providers, clock)
    job = next(j for j in range(1_000) if spread.slot(j, C) == 3)
    assert spread.wait_s(job, C) == pytest.approx(3 * SPREAD_SLOT_S)
    clock.t += SPREAD_SLOT_S
    assert spread.wait_s(job, C) == pytest.approx(2 * SPREAD_SLOT_S), "the wait runs from the first look"
    clock.t += 2 * SPREAD_SLOT_S
    assert spread.wait_s(job, C) == 0
    clock.t += 1
    assert spread.wait_s(job, C) == 0


def test_registrations_are_read_incrementally_at_most_once_a_minute_and_a_node_outage_keeps_the_count() -> None:
    clock = Clock()
    fake = RegistryFake([address(i) for i in range(10)])
    spread = ClaimSpread(fake, address(0), clock=clock)
    assert spread.competitors() == 10 and fake.reads == [(1, 100)]
    spread.competitors()
    assert len(fake.reads) == 1, "no second read within the refresh interval"
    clock.t += 61
    fake.head = 150
    fake.providers.append(address(50))  # registered in an old block: not re-read (only new blocks are)
    assert spread.competitors() == 10 and fake.reads[-1] == (101, 150)
    clock.t += 61
    fake.down = True
    assert spread.competitors() == 10, "a node that does not answer leaves the last count"


def test_a_node_down_from_the_start_lets_the_provider_claim_at_once() -> None:
    fake = RegistryFake([address(i) for i in range(100)], down=True)
    spread = ClaimSpread(fake, address(0), clock=Clock())
    assert all(spread.wait_s(job, C) == 0 for job in range(200))


def test_bad_spread_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="slot"):
        ClaimSpread(RegistryFake([]), address(0), slot_s=-1)
    with pytest.raises(ValueError, match="first"):
        ClaimSpread(RegistryFake([]), address(0), first=0)


def test_an_address_ground_to_rank_first_for_a_job_id_ranks_first_only_at_the_fair_rate_once_the_job_is_salted() -> None:
    competitors, job = 1_000, 7
    known = (1,)  # what a grinder would have to guess: the consumer's salted commitments
    ground = next(address(i) for i in range(100_000) if spread_slot(spread_score(job, known, address(i)), competitors) == 0)
    salts = [(secrets_below(i),) for i in range(2_000)]
    first = sum(spread_slot(spread_score(job, salt, ground), competitors) == 0 for salt in salts)
    assert first < 20, f"{first} of {len(salts)}: about {SPREAD_FIRST / competitors:.1%} expected, like any address"


def secrets_below(i: int) -> int:
    return int.from_bytes(hashlib.sha256(i.to_bytes(8, "big")).digest(), "big") >> 4


@dataclass
class MailFake:
    """FAKE: an endpoint mailbox holding uploaded inputs for some jobs."""

    uploaded: set[int]

    def get(self, job_id: int, kind: str) -> bytes | None:
        return b"sealed" if job_id in self.uploaded and kind == "input" else None


def test_a_job_this_worker_holds_the_input_of_is_claimed_without_waiting_its_turn() -> None:
    providers = [address(i) for i in range(1_000)]
    spread = spread_for(providers[0], providers)
    late = [j for j in range(200) if spread.slot(j, C) > 0][:3]
    offers = OfferBook(None, None, None, concurrency=1, log=lambda *a, **k: None, wake=threading.Event())  # type: ignore[arg-type]
    offers._offered[C[0]] = Offered("0xconsumer", 1, InputData(((0.0,),)), b"", 0.0)
    lifecycle: Any = SimpleNamespace(spread=spread, crew=SimpleNamespace(offers=offers, mailbox=MailFake({late[1]})))

    def waits(job: int, model: int = 1, commitments: tuple[int, ...] = C, **fields: Any) -> bool:
        return Lifecycle.waits_turn(lifecycle, JobRecord(job, model, Step.SEEN, commitments=commitments, **fields))

    assert waits(late[0], model=2), "another model's job with the same commitment is not the offered one"
    assert not waits(late[0]), "offered to this worker: its proof may be running already"
    assert not waits(late[1], commitments=(99,)), "its input was uploaded to this worker's endpoint"
    assert not waits(late[2], commitments=(99,), input_path="/in.json")
    assert waits(late[2], commitments=(99,))
    lifecycle.spread = None
    assert not waits(late[2], commitments=(99,)), "--no-claim-spread: every job at once"
