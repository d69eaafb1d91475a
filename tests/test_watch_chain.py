"""The watchtower and the consumer's own guard on anvil, with the real contracts and real EZKL proofs of the mlp model.

The provider here is ``FakeProvider`` (tests/optimistic_fixtures.py), a fault-injection script that commits results
by hand, right or wrong, and serves their proofs (or nothing). Everything else is real: ``ngx-zk watch`` and
``ngx-zk job show`` run as processes, the explorer indexes the chain and mirrors the proof, the consumer's wait
challenges and upholds.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from ngx_zk.chain.settlement import Settlement
from ngx_zk.chain.settlement_types import ChallengeUpheld, JobChallenged, JobSubmitted, proof_hash
from ngx_zk.chain.types import JobSettled, JobStatus
from ngx_zk.consumer import Consumer
from ngx_zk.errors import ChainError
from ngx_zk.explorer import views
from ngx_zk.explorer.app import Explorer
from ngx_zk.explorer.db import Database
from ngx_zk.explorer.indexer import Indexer
from ngx_zk.explorer.server import ExplorerServer

from .chain_fixtures import NGX, Net
from .optimistic_fixtures import WINDOW, FakeProvider, batch_of, post, provider, settings_for, short, show, watch

pytestmark = [pytest.mark.chain, pytest.mark.slow]
__all__ = ["provider", "short"]  # fixtures


def test_a_wrong_output_is_challenged_by_watch_upheld_after_the_answer_window_and_the_consumer_refunded(
    short: Net, provider: FakeProvider, tmp_path: Path
) -> None:
    net, m = short, short.market
    record = post(net, tmp_path / "consumer")
    provider.take(record, wrong=True)
    consumer, auditor = net.signer("consumer").address, net.signer("auditor").address
    refund_before, auditor_before = m.claimable(consumer), m.balance(auditor) + m.claimable(auditor)

    (decision,) = watch(net, tmp_path / "watch")
    assert (decision["job_id"], decision["decision"], decision["reason"]) == (record.job_id, "challenged", "invalid")
    assert m.job(record.job_id).status is JobStatus.CHALLENGED
    assert watch(net, tmp_path / "watch") == [], "the journal remembers the challenge: nothing new, nothing sent twice"
    assert len(m.logs(JobChallenged, m.deployment.block, job_id=record.job_id)) == 1
    assert show(net, tmp_path / "consumer", record.job_id)["status"] == JobStatus.CHALLENGED.value

    net.travel(WINDOW + 1)
    (upheld,) = watch(net, tmp_path / "watch")
    assert (upheld["job_id"], upheld["decision"]) == (record.job_id, "upheld")
    assert m.job(record.job_id).status is JobStatus.EXPIRED
    (event,) = m.logs(ChallengeUpheld, m.deployment.block, job_id=record.job_id)
    assert event.event.refund == 10 * NGX and m.claimable(consumer) - refund_before == 10 * NGX, "refunded in full"
    gained = m.balance(auditor) + m.claimable(auditor) - auditor_before
    assert gained == event.event.challenger_reward > 0, "the bond came back with the reward"
    shown = show(net, tmp_path / "consumer", record.job_id)
    assert (shown["settlement"], shown["finalized"]) == ("optimistic", False) and isinstance(shown["challenge_deadline"], int)

    db = Database(str(tmp_path / "explorer.sqlite"))  # the explorer's job page: the challenge and its outcome
    try:
        Indexer(m.chain, m.deployment, db).sync()
        page = views.get_job(db, record.job_id)
        assert page is not None and (page["status"], page["outcome"]) == (JobStatus.EXPIRED.value, "expired")
        (row,) = page["settlement"]["challenges"]
        assert (row["challenger"], row["outcome"], page["settlement"]["mode"]) == (auditor.lower(), "upheld", "optimistic")
    finally:
        db.close()


def test_a_valid_result_is_not_challenged_and_the_explorer_mirrors_its_proof(
    short: Net, provider: FakeProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net, m = short, short.market
    record = post(net, tmp_path / "consumer")
    result = provider.take(record)
    (decision,) = watch(net, tmp_path / "watch")
    assert (decision["decision"], decision["source"]) == ("valid", "provider") and m.job(
        record.job_id
    ).status is JobStatus.SUBMITTED
    shown = show(net, tmp_path / "consumer", record.job_id)
    assert (shown["settlement"], shown["finalized"], shown["status"]) == ("optimistic", False, JobStatus.SUBMITTED.value)
    submitted_at = m.chain.timestamp()
    assert submitted_at < shown["challenge_deadline"] <= submitted_at + WINDOW

    db = Database(str(tmp_path / "explorer.sqlite"))
    indexer = Indexer(m.chain, m.deployment, db)
    assert indexer.sync().proofs_mirrored == 1
    server = ExplorerServer(Explorer(db, indexer, m, net.settings, head=m.chain.block_number()), "127.0.0.1", 0, poll_s=0.2)
    server.start()
    try:
        with urllib.request.urlopen(f"{server.url}/api/jobs/{record.job_id}/proof", timeout=10) as reply:
            mirrored = json.loads(reply.read())
        assert mirrored == provider.proofs[record.job_id]
        assert proof_hash(bytes.fromhex(mirrored["proof"][2:])) == result.proof_hash
        with urllib.request.urlopen(f"{server.url}/api/v1/jobs/{record.job_id}", timeout=10) as reply:
            page = json.loads(reply.read())["settlement"]
        assert (
            page["mode"] == "optimistic" and page["proof_mirrored"] and page["challenge_deadline"] == shown["challenge_deadline"]
        )

        provider.close()  # the provider goes down: a fresh watch finds the proof at the explorer's mirror
        (again,) = watch(net, tmp_path / "watch2", "--explorer", server.url)
        assert (again["decision"], again["source"]) == ("valid", "explorer")
    finally:
        server.stop()
        db.close()

    net.travel(WINDOW + 1)
    settlement, batch_id = Settlement(m), batch_of(net, record.job_id)
    settlement.finalize(net.signer("consumer"), batch_id, settlement.batch_results(batch_id))
    assert show(net, tmp_path / "consumer", record.job_id)["finalized"] is True
    assert watch(net, tmp_path / "watch") == []

    # The finalization logs no outputs (JobSettled carries the amounts): readers take them from the job's
    # JobSubmitted, checked against the market's outputsHashOf; a node that alters them is caught.
    (settled,) = m.logs(JobSettled, m.deployment.block, job_id=record.job_id)
    assert settled.event.outputs == () and m.job(record.job_id).status is JobStatus.SETTLED
    assert m.outputs(record.job_id) == list(result.outputs)
    db = Database(str(tmp_path / "explorer.sqlite"))
    try:
        Indexer(m.chain, m.deployment, db).sync()
        page = views.get_job(db, record.job_id)
        assert page is not None and page["outputs"] == [str(v) for v in result.outputs]
    finally:
        db.close()
    real = m.logs
    forged = [
        replace(e, event=replace(e.event, outputs=(e.event.outputs[0] + 1, *e.event.outputs[1:])))
        for e in real(JobSubmitted, m.deployment.block, job_id=record.job_id)
    ]
    monkeypatch.setattr(m, "logs", lambda kind, *a, **k: forged if kind is JobSubmitted else real(kind, *a, **k))
    with pytest.raises(ChainError, match="do not hash"):
        m.outputs(record.job_id)


def test_an_unavailable_proof_is_challenged_at_the_grace_point(short: Net, tmp_path: Path) -> None:
    net, m = short, short.market
    down = FakeProvider(net, tmp_path, serve=False)
    record = post(net, tmp_path / "consumer")
    down.take(record)
    (decision,) = watch(net, tmp_path / "watch", "--grace", str(WINDOW))
    assert (decision["decision"], decision["reason"]) == ("challenged", "unavailable") and "unreachable" in decision["detail"]
    assert m.job(record.job_id).status is JobStatus.CHALLENGED


def test_the_consumers_own_wait_challenges_a_wrong_output_and_upholds_for_its_refund(
    short: Net, provider: FakeProvider, tmp_path: Path
) -> None:
    net, m = short, short.market
    record = post(net, tmp_path / "consumer")
    provider.take(record, wrong=True)
    consumer = Consumer(settings_for(net, tmp_path / "consumer"), m, net.signer("consumer"))
    challenged = threading.Event()

    def notes(text: str) -> None:
        if text.startswith("the result was challenged"):
            challenged.set()

    def travel_when_challenged() -> None:
        assert challenged.wait(300)
        net.travel(WINDOW + 1)

    traveller = threading.Thread(target=travel_when_challenged, daemon=True)
    traveller.start()
    result = consumer.wait(net.circuit, record, progress=notes, timeout_s=300, poll_s=0.1)
    traveller.join(10)
    assert result.status is JobStatus.EXPIRED and result.refund == 10 * NGX
    assert {"challenge", "uphold"} <= set(result.tx) and result.settlement == "optimistic"
    (event,) = m.logs(JobChallenged, m.deployment.block, job_id=record.job_id)
    assert event.event.challenger == net.signer("consumer").address
