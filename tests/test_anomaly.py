"""Anomaly detection (issue #26 item 2) on generated traffic written straight into an explorer index: the
four scripted attacks are caught with readable evidence, honest actors are not, and every surface shows the
flags (the explorer's API and page, `reputation --anomalies`, the worker's refusal, the consumer's choice).
The chain-tier scenario through the real contracts and indexer is tests/test_anomaly_chain.py."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from benchmarks.anomaly_traffic import Traffic, evaluate, generate
from ngx_zk.anomaly.history import History, JobFact, Transfer, load
from ngx_zk.anomaly.model import detect
from ngx_zk.anomaly.report import AnomalyError, Report
from ngx_zk.anomaly.sources import REFRESH_S, Flags, read_report, score_index
from ngx_zk.cli import main
from ngx_zk.cli.prove_job import _unless_flagged
from ngx_zk.explorer.db import Database
from ngx_zk.explorer.server import Explorer, ExplorerServer
from ngx_zk.worker.journal import Step

from .test_lifecycle import rig, run, seen  # noqa: F401  (rig: the lifecycle's fixture)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Traffic, Report]:
    """One seeded month of traffic (about 1,500 jobs) in a SQLite index, and the detector's report on it."""
    path = tmp_path_factory.mktemp("anomaly") / "index.sqlite"
    db = Database(str(path))
    try:
        traffic = generate(db, seed=5)
        return path, traffic, detect(load(db))
    finally:
        db.close()


def _kind(traffic: Traffic, kind: str) -> list[tuple[str, str]]:
    return sorted(k for k, v in traffic.attackers.items() if v == kind)


def test_each_scripted_attack_is_caught_and_honest_actors_are_not(market: tuple[Path, Traffic, Report]) -> None:
    path, traffic, _ = market
    db = Database(str(path))
    try:
        result = evaluate(db, traffic)
    finally:
        db.close()
    for kind, k in result["kinds"].items():
        assert k["actors"] and k["caught"] / k["actors"] >= 0.9, (kind, k)
        assert k["right"] / k["named"] >= 0.9, (kind, k)
    assert result["honest_flagged"] / result["honest"] <= 0.05, result["honest_flagged_examples"]


def test_each_flag_says_what_was_seen_in_words_naming_the_accounts(market: tuple[Path, Traffic, Report]) -> None:
    _, traffic, report = market
    role, ring_consumer = _kind(traffic, "wash-ring")[0]
    flag = report.flagged(ring_consumer, role)
    assert flag is not None and flag.kinds[0] == "wash-ring"
    assert "within the hour before its first job" in flag.evidence[0] and "went to provider 0x" in flag.evidence[0]
    harvester = next(a for r, a in _kind(traffic, "decline-harvest") if r == "provider")
    flag = report.flagged(harvester, "provider")
    assert flag is not None and flag.kinds == ("decline-harvest",)
    assert "declined as invalid the inputs of" in flag.evidence[0] and "with other providers settle" in flag.evidence[0]
    launderer = next(a for r, a in _kind(traffic, "self-dealing") if r == "consumer")
    flag = report.flagged(launderer, "consumer")
    assert flag is not None and "owner is tied to it" in flag.evidence[0] and "without a reward" in flag.evidence[0]


def test_victims_of_a_decline_harvester_are_not_flagged_as_junk_senders(market: tuple[Path, Traffic, Report]) -> None:
    """A harvester's declines are its own evidence: they must not blacklist the honest consumers it declined."""
    path, traffic, report = market
    harvesters = {a for r, a in _kind(traffic, "decline-harvest")}
    db = Database(str(path))
    try:
        victims = {
            str(r["consumer"])
            for r in db.query("SELECT consumer, provider FROM jobs WHERE outcome = 'declined'")
            if r["provider"] in harvesters
        }
    finally:
        db.close()
    assert len(victims) >= 10
    assert not [v for v in victims if report.flagged(v, "consumer") is not None and ("consumer", v) in traffic.honest]


def test_honest_traffic_alone_flags_nobody(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "honest.sqlite"))
    try:
        generate(db, seed=3, rings=0, griefer_sets=0, launderers=0, harvesters=0)
        report = detect(load(db))
    finally:
        db.close()
    assert report.weighed["consumer"] > 200 and report.flags == []


def test_the_explorer_serves_the_flags_and_their_page(market: tuple[Path, Traffic, Report]) -> None:
    path, _, report = market
    db = Database(str(path))
    server = ExplorerServer(Explorer(db, detector=lambda index: score_index(index).to_json()), "127.0.0.1", 0)
    server.start()
    try:
        with urllib.request.urlopen(server.url + "/api/v1/anomalies", timeout=30) as answer:
            body = json.loads(answer.read())
        with urllib.request.urlopen(server.url + "/anomalies", timeout=30) as answer:
            page = answer.read().decode()
        with urllib.request.urlopen(server.url + "/static/app.js", timeout=30) as answer:
            script = answer.read().decode()
        assert Report.from_json(body).flags == report.flags
        assert 'href="/anomalies"' in page and "anomaliesPage" in script
        remote = read_report(server.url, dev_chain=True)  # what a worker's --anomalies-from URL reads
        assert remote.flags == report.flags
    finally:
        server.stop()
        db.close()


def test_an_explorer_handed_no_detector_says_so(tmp_path: Path) -> None:
    """The explorer imports no detector (the detector reads its index): built without one, its page says so."""
    db = Database(str(tmp_path / "e.sqlite"))
    server = ExplorerServer(Explorer(db), "127.0.0.1", 0)
    server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/api/v1/anomalies", timeout=30)
        assert refused.value.code == 404
        assert "runs no anomaly detection" in json.loads(refused.value.read())["error"]["message"]
    finally:
        server.stop()
        db.close()


def test_reputation_anomalies_prints_the_flags_and_refuses_a_missing_index(
    market: tuple[Path, Traffic, Report], tmp_path: Path
) -> None:
    path, _, report = market
    runner = CliRunner()
    done = runner.invoke(main, ["reputation", "--anomalies-from", str(path), "--json"])
    assert done.exit_code == 0, done.output
    assert Report.from_json(json.loads(done.output)).flags == report.flags
    one = report.flags[0]
    done = runner.invoke(main, ["reputation", "--anomalies", "--anomalies-from", str(path), one.address])
    assert done.exit_code == 0 and one.address in done.output and "evidence, not proof" in done.output
    assert one.evidence[0] in done.output
    missing = tmp_path / "none.sqlite"
    done = runner.invoke(main, ["reputation", "--anomalies-from", str(missing)])
    assert done.exit_code != 0 and f"no explorer index at {missing}" in done.output and "Traceback" not in done.output
    assert not missing.exists(), "a wrong path must not leave an empty database behind"
    other = tmp_path / "other.sqlite"
    Database(str(other)).close()  # a database nothing was indexed into
    done = runner.invoke(main, ["reputation", "--anomalies-from", str(other), "--json"])
    assert done.exit_code != 0 and json.loads(done.stdout)["code"] == "anomaly" and "holds no explorer index" in done.output
    done = runner.invoke(main, ["reputation", "--anomalies-from", "http://127.0.0.1:9"])
    assert done.exit_code != 0 and "cannot read anomaly flags from http://127.0.0.1:9: explorer unreachable" in done.output


def test_the_worker_refuses_a_flagged_consumer_and_journals_why(rig: SimpleNamespace) -> None:  # noqa: F811
    seen(rig)
    consumer = rig.market.job(1).consumer
    flagged = {consumer.lower(): "consumer is flagged (junk-input): 5 of 5 jobs declined as invalid input by 3 providers"}
    rig.life.eligibility.policy.avoid = lambda who: flagged.get(who.lower())
    assert run(rig) is Step.SKIPPED and rig.market.claims == []
    assert "avoided: consumer is flagged (junk-input)" in rig.journal.history(1)[-1][2]


def test_the_consumer_posts_for_anyone_rather_than_offer_to_a_flagged_provider(market: tuple[Path, Traffic, Report]) -> None:
    path, traffic, report = market
    provider = next(f.address for f in report.flags if f.role == "provider")
    honest = next(a for r, a in sorted(traffic.honest) if r == "provider")
    client: Any = SimpleNamespace(settings=SimpleNamespace(home=path.parent))
    notes: list[str] = []
    assert _unless_flagged(client, honest, str(path), False, notes.append) == honest and notes == []
    assert _unless_flagged(client, provider, str(path), False, notes.append) is None
    assert notes and f"not offering the job to {provider}" in notes[0] and "posting it for any provider" in notes[0]
    with pytest.raises(AnomalyError, match="not sending the order"):
        _unless_flagged(client, provider, str(path), True, notes.append)


def test_flags_are_read_again_after_the_refresh_interval(market: tuple[Path, Traffic, Report]) -> None:
    path, _, report = market
    now = [0.0]
    flags = Flags(str(path), dev_chain=True, clock=lambda: now[0])
    flag = report.flags[0]
    assert flags.why(flag.address, flag.role) is not None
    flags.report = Report()  # as if the index had changed
    assert flags.why(flag.address, flag.role) is None
    now[0] = REFRESH_S
    assert flags.why(flag.address, flag.role) is not None


def _ring_with_a_gift(gift: int) -> Report:
    """Four sybils funded by F just before their jobs with provider P; F also sends ``gift`` wei to an honest
    consumer H just before H's own job (priced 10 NGX) with another provider."""
    ngx, t0, f, p, q, h = 10**18, 1_750_000_000, "0x" + "f" * 40, "0x" + "e" * 40, "0x" + "d" * 40, "0x" + "c" * 40
    sybils = [f"0x{i:040x}" for i in range(1, 5)]
    jobs, transfers, n = [], [], 0
    for i, c in enumerate(sybils):
        start = t0 + i * 86_400
        transfers.append(Transfer(f, c, 50 * ngx, start - 600))
        for k in range(2):
            n += 1
            jobs.append(
                JobFact(n, c, p, 1, "settled", 10 * ngx, start + k * 60, claimed=start + k * 60 + 5, ended=start + k * 60 + 9)
            )
    transfers.append(Transfer(f, h, gift, t0 - 600))
    jobs.append(JobFact(n + 1, h, q, 1, "settled", 10 * ngx, t0, claimed=t0 + 5, ended=t0 + 60, reward=ngx))
    return detect(History(jobs, transfers, {1: ("0x" + "a" * 40, t0 - 86_400 * 30)}, set()))


def test_framing_an_honest_consumer_into_a_ring_costs_at_least_its_job_price() -> None:
    """Funding counts only when worth the account's first job: a 1-wei transfer from a ring's funder does not pull
    an honest consumer into the ring's cluster; a gift of its job's price does (the attacker pays the victim)."""
    cheap = _ring_with_a_gift(1)
    assert cheap.flagged("0x" + "0" * 39 + "1", "consumer") is not None, "the sybils are flagged"
    assert cheap.flagged("0x" + "c" * 40, "consumer") is None
    costly = _ring_with_a_gift(10 * 10**18)
    assert costly.flagged("0x" + "c" * 40, "consumer") is not None
