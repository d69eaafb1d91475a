"""Shared parts of the data-plane tests: a standalone endpoint over real sockets with a real mailbox.

``job_facts`` is the server's own interface to the chain, answered here from a dict (:class:`FakeChain`)."""

from __future__ import annotations

import http.client
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ngx_zk import dataplane
from ngx_zk.chain.market import JobStatus
from ngx_zk.chain.signer import Signer, from_key
from ngx_zk.config import Secret
from ngx_zk.dataplane import DataPlaneError, DataPlaneServer, JobFacts, Limits, Mailbox, Offer

CHAIN = 31337  # the dev chain: the client may dial 127.0.0.1
OTHER_CHAIN = 8453
MARKET = "0x" + "11" * 20
PROVIDER = "0x" + "22" * 20
OTHER_PROVIDER = "0x" + "33" * 20
MODEL = 7


def new_signer() -> Signer:
    return from_key(Secret("0x" + secrets.token_hex(32)))


@dataclass
class FakeChain:
    """The jobs the server sees on chain (its ``job_facts`` callback)."""

    jobs: dict[int, JobFacts] = field(default_factory=dict)

    def facts(self, job_id: int) -> JobFacts:
        return self.jobs.get(job_id, JobFacts("0x" + "00" * 20, None, "None"))

    def claimed(self, job_id: int, consumer: Signer, provider: str = PROVIDER) -> None:
        self.jobs[job_id] = JobFacts(consumer.address, provider, "Claimed", MODEL, time.time() - 1)

    def open(self, job_id: int, consumer: Signer, model_id: int = MODEL, claim_in_s: float = 300) -> None:
        self.jobs[job_id] = JobFacts(consumer.address, None, "Open", model_id, time.time() + claim_in_s)


@dataclass(frozen=True)
class FakeJobRow:
    """The fields of ``ngx_zk.chain.market.Job`` that :meth:`JobFacts.from_job` reads."""

    consumer: str
    provider: str | None
    status: JobStatus
    model_id: int
    claim_deadline: int


@dataclass
class Plane:
    server: DataPlaneServer
    endpoint: str
    mailbox: Mailbox
    chain: FakeChain
    offers: list[Offer]
    refusals: list[tuple[str, str, str]]
    provider: str = PROVIDER

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.endpoint.removeprefix("http://").split(":")
        return host, int(port)


@pytest.fixture
def make_plane(tmp_path: Path) -> Iterator[Callable[..., Plane]]:
    started: list[DataPlaneServer] = []

    def make(
        limits: Limits | None = None, offers: bool = True, served_models: set[int] | None = None, provider: str = PROVIDER
    ) -> Plane:
        chain, taken, refusals = FakeChain(), list[Offer](), list[tuple[str, str, str]]()

        def take(offer: Offer) -> bool:
            taken.append(offer)
            return True

        mailbox = Mailbox(tmp_path / f"mailbox{len(started)}")
        server = DataPlaneServer(
            mailbox,
            chain_id=CHAIN,
            market=MARKET,
            provider=provider,
            job_facts=chain.facts,
            log=lambda *a, **k: None,
            on_offer=take if offers else None,
            served_models={MODEL} if served_models is None else served_models,
            on_refused=lambda *r: refusals.append(r),
            limits=limits or Limits(header_timeout_s=2, body_timeout_s=2),
        )
        started.append(server)
        return Plane(server, server.serve("127.0.0.1", 0), mailbox, chain, taken, refusals, provider)

    yield make
    for server in started:
        server.close()


def raw(plane: Plane, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, str]:
    """A request as a hostile client sends it: no Expect, the body right after the headers."""
    conn = http.client.HTTPConnection(*plane.address, timeout=5)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read()).get("error", "")
    finally:
        conn.close()


def upload(plane: Plane, signer: Signer, job_id: int, body: bytes, chain_id: int = CHAIN) -> None:
    dataplane.upload_input(plane.endpoint, signer, chain_id, MARKET, job_id, body, provider=plane.provider)


def refused(call: Callable[[], Any]) -> DataPlaneError:
    with pytest.raises(DataPlaneError) as info:
        call()
    assert "\n" not in str(info.value) and len(str(info.value)) < 400, "one line"
    return info.value
