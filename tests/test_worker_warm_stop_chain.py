"""A warm stop of the real worker (its own process, one SIGTERM) holding optimistic results, on anvil with the real
contracts and EZKL proofs of the mlp model, and the governed-minimum (60 s) challenge window: it stops claiming at
once, logs what it waits for and until when, answers a challenge that comes meanwhile, and exits as soon as its
last result is past its window (finalized by it on the way out), not later.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from ngx_zk.chain.settlement import Settlement
from ngx_zk.chain.settlement_types import ChallengeAnswered
from ngx_zk.chain.types import JobClaimed, JobStatus
from ngx_zk.consumer import deliver_input

from .chain_fixtures import Net, free_port, start_worker
from .optimistic_fixtures import WINDOW, batch_of, post, short
from .polling import waiting

pytestmark = [pytest.mark.chain, pytest.mark.slow]
__all__ = ["short"]  # fixtures


def events(log: Path, name: str) -> list[dict[str, Any]]:
    if not log.is_file():
        return []
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [e for e in lines if e.get("event") == name]


def test_a_warm_stop_stops_claiming_answers_a_challenge_and_exits_once_its_results_are_past_their_window(
    short: Net, tmp_path: Path
) -> None:
    net, m = short, short.market
    settlement = Settlement(m)
    state, log = tmp_path / "worker", tmp_path / "worker" / "worker.log"
    worker = start_worker(net, state, "--listen", f"127.0.0.1:{free_port()}", "--max-fresh-jobs", "8")
    try:
        waiting("the worker's start", lambda: events(log, "worker.start"), timeout=90)
        records = [post(net, tmp_path / "consumer") for _ in range(2)]
        for record in records:  # the consumer's side: its input to the claimer
            waiting("the claim", lambda r=record: m.job(r.job_id).status is JobStatus.CLAIMED)
            deliver_input(m, net.signer("consumer"), record, m.job(record.job_id))
        waiting("both results", lambda: all(m.job(r.job_id).status is JobStatus.SUBMITTED for r in records), timeout=300)
        deadlines = {r.job_id: settlement.batch(batch_of(net, r.job_id)).challenge_deadline for r in records}

        worker.send_signal(signal.SIGTERM)
        waiting("the stop's first account", lambda: events(log, "worker.stopping"))
        first = events(log, "worker.stopping")[0]["waiting"]
        assert {(w["job_id"], w["until"]) for w in first} == set(deadlines.items()), first
        assert all("challenge window" in w["for"] and w["until_utc"].endswith("Z") for w in first)

        late = post(net, tmp_path / "consumer")  # posted after the signal: never claimed
        challenged, other = records
        bond_from = net.signer("auditor")
        sub = settlement.submitted(challenged.job_id)
        assert sub is not None
        settlement.challenge(bond_from, sub.event.batch_id, settlement.batch_results(sub.event.batch_id), 0)
        waiting("the answer", lambda: m.job(challenged.job_id).status is JobStatus.SETTLED, timeout=120)
        assert len(m.logs(ChallengeAnswered, m.deployment.block, job_id=challenged.job_id)) == 1
        waiting("the stop's account after the answer", lambda: events(log, "worker.stopping")[-1]["waiting"] != first)
        (left,) = events(log, "worker.stopping")[-1]["waiting"]
        assert left["job_id"] == other.job_id and left["until"] == deadlines[other.job_id]
        assert worker.poll() is None, "still defending the other result inside its window"
        assert m.job(late.job_id).status is JobStatus.OPEN and not m.logs(JobClaimed, m.deployment.block, job_id=late.job_id)

        net.travel(WINDOW + 1)  # the window closes: it finalizes on its way out, and exits
        started = time.monotonic()
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, out + err
        assert time.monotonic() - started < 60, "it exited once the window closed"
        assert "stopped (signal)" in out, out
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
    assert m.job(other.job_id).status is JobStatus.SETTLED, "finalized on its way out"
    assert m.job(late.job_id).status is JobStatus.OPEN
    assert not events(log, "worker.stop_left"), "nothing left for a restart"


def test_a_second_signal_exits_at_once_and_a_restart_answers_the_challenge_made_meanwhile(short: Net, tmp_path: Path) -> None:
    """SIGTERM twice while a result waits out its window: the worker exits at once (status 130), leaving the result
    in its journal; a challenge comes while it is down; the restarted worker (--burst) answers it and exits."""
    net, m = short, short.market
    settlement = Settlement(m)
    state, log = tmp_path / "worker", tmp_path / "worker" / "worker.log"
    worker = start_worker(net, state, "--listen", f"127.0.0.1:{free_port()}", "--max-fresh-jobs", "8")
    try:
        waiting("the worker's start", lambda: events(log, "worker.start"), timeout=90)
        record = post(net, tmp_path / "consumer")
        waiting("the claim", lambda: m.job(record.job_id).status is JobStatus.CLAIMED)
        deliver_input(m, net.signer("consumer"), record, m.job(record.job_id))
        waiting("the result", lambda: m.job(record.job_id).status is JobStatus.SUBMITTED, timeout=300)
        worker.send_signal(signal.SIGTERM)
        waiting("the stop's account", lambda: events(log, "worker.stopping"))
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 130, "a second signal exits at once"
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
    batch_id = batch_of(net, record.job_id)
    settlement.challenge(net.signer("auditor"), batch_id, settlement.batch_results(batch_id), 0)

    restarted = start_worker(net, state, "--burst", "--listen", f"127.0.0.1:{free_port()}")
    try:
        assert restarted.wait(timeout=300) == 0, restarted.stderr.read() if restarted.stderr else ""
    finally:
        if restarted.poll() is None:
            restarted.kill()
    assert m.job(record.job_id).status is JobStatus.SETTLED
    assert len(m.logs(ChallengeAnswered, m.deployment.block, job_id=record.job_id)) == 1
