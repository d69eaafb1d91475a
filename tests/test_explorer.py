"""The explorer against a real anvil: one scripted run of every job outcome (settled by a real worker,
cancelled, declined, expired), indexed into SQLite and PostgreSQL; restarts, reorgs, the JSON API
against its OpenAPI document, and the pages in a real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk.anomaly.sources import score_index
from ngx_zk.chain import deployment
from ngx_zk.chain.market import DeclineReason
from ngx_zk.chain.types import JobPosted, JobSettled
from ngx_zk.consumer import post_job
from ngx_zk.explorer import views
from ngx_zk.explorer.api import openapi_document as document
from ngx_zk.explorer.db import Database
from ngx_zk.explorer.indexer import Indexer
from ngx_zk.explorer.lag import LagProbe
from ngx_zk.explorer.server import Explorer, ExplorerServer

from .chain_fixtures import NGX, Net, free_port, ngx_zk, start_worker
from .paths import MODELS, REPO

pytestmark = pytest.mark.chain

PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=Path("/usr/lib/postgresql/15/bin"))
CHROMIUM = Path("/usr/bin/chromium")
DOCS = REPO / "docs"


@dataclass
class Run:
    """The chain after the scripted run, and the job id of each outcome."""

    net: Net
    jobs: dict[str, int]


def _post(net: Net, tmp: Path) -> int:
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    settings = ngx.load_settings(
        {"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir), "NGX_ZK_STATE_DIR": str(tmp)}
    )
    return post_job(
        settings,
        net.market,
        net.signer("consumer"),
        net.circuit,
        data,
        price=10 * NGX,
        claim_window=60,
        prove_window=60,
        min_reputation=0,
    ).job_id


@pytest.fixture(scope="module")
def run(net: Net, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Settled (real worker, real proof), cancelled, declined, reopened (missed once) and expired jobs; reverted afterwards."""
    record = deployment.path_for(net.settings, net.market.chain.chain_id)
    saved, snap = record.read_bytes(), net.rpc("evm_snapshot")["result"]
    tmp = tmp_path_factory.mktemp("explorer-run")
    m = net.market
    try:
        worker = start_worker(net, tmp / "worker", "--max-jobs", "1")
        try:
            done = ngx_zk(
                net,
                tmp / "consumer",
                "prove-job",
                "mlp",
                "--input",
                str(MODELS / "mlp" / "input.json"),
                "--account",
                "consumer",
                "--price",
                "10",
                "--json",
                "--timeout",
                "120",
            )
        finally:
            worker.wait(timeout=120)
        assert done.returncode == 0, done.stderr
        jobs = {"settled": int(json.loads(done.stdout)["job_id"])}
        jobs["cancelled"] = _post(net, tmp)
        m.cancel(net.signer("consumer"), jobs["cancelled"])
        jobs["declined"] = _post(net, tmp)
        m.claim(net.signer("provider2"), jobs["declined"])
        m.decline(net.signer("provider2"), jobs["declined"], DeclineReason.OTHER)
        jobs["expired"], jobs["reopened"] = _post(net, tmp), _post(net, tmp)
        for job_id in (jobs["expired"], jobs["reopened"]):
            m.claim(net.signer("provider2"), job_id)
        net.travel(61)
        for job_id in (jobs["expired"], jobs["reopened"]):  # missed: open again for a second prover
            m.expire(net.signer("consumer2"), job_id)
        net.travel(61)
        m.expire(net.signer("consumer2"), jobs["expired"])  # nobody took it the second time
        jobs["open"] = _post(net, tmp)
        yield Run(net, jobs)
    finally:
        net.rpc("evm_revert", [snap])
        record.write_bytes(saved)


# --- databases ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server (Debian's binaries), run as the postgres user in a temp folder."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL server binaries missing: make system-deps")
    folder = Path(tempfile.mkdtemp(prefix="ngx-pg-"))
    data, port = folder / "data", free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(folder, "postgres")
    subprocess.run(
        [*as_pg, PG_BIN / "initdb", "-D", data, "-A", "trust", "-U", "ngx", "--no-sync"], check=True, capture_output=True
    )
    subprocess.run(
        [
            *as_pg,
            PG_BIN / "pg_ctl",
            "-D",
            data,
            "-l",
            folder / "log",
            "-w",
            "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://ngx@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, PG_BIN / "pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _fresh_pg(url: str) -> str:
    """A new empty database on the server at ``url``."""
    import psycopg

    name = f"ngx_{time.monotonic_ns()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "explorer.sqlite")
    return _fresh_pg(request.getfixturevalue("postgres"))


def dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    return {
        table: db.query(f"SELECT * FROM {table} ORDER BY {key}")
        for table, key in (("events", "block_number, log_index"), ("jobs", "job_id"), ("txs", "tx_hash"))
    }


def assert_matches_chain(db: Database, run: Run) -> None:
    """Every indexed job, provider and model says what the chain says."""
    m = run.net.market
    assert int(db.scalar("SELECT COUNT(*) FROM jobs")) == m.job_count()
    for outcome, job_id in run.jobs.items():
        chain, row = m.job(job_id), db.query("SELECT * FROM jobs WHERE job_id = ?", (job_id,))[0]
        assert row["status"] == chain.status.value, outcome
        assert row["outcome"] == outcome
        assert (row["consumer"], int(row["price"]), int(row["model_id"])) == (chain.consumer.lower(), chain.price, chain.model_id)
        if chain.provider is not None and outcome != "declined":
            assert row["provider"] == chain.provider.lower()
    settled = views.get_job(db, run.jobs["settled"])
    assert settled is not None and settled["split"]["adds_up"]
    event = m.logs(JobSettled, m.deployment.block, job_id=run.jobs["settled"])[0].event
    assert [int(settled[k]) for k in ("provider_pay", "royalty", "fee")] == [event.provider_pay, event.royalty, event.fee]
    assert settled["outputs"] == [str(v) for v in m.outputs(run.jobs["settled"])]
    assert settled["proof_bytes"] and settled["proof_bytes"] > 1000
    declined = views.get_job(db, run.jobs["declined"])
    assert declined is not None and declined["decline"] is not None and settled["decline"] is None
    chain_decline = m.declined(run.jobs["declined"])
    assert chain_decline is not None
    assert declined["decline"] == {
        "reason": "other",
        "free": False,
        "slashed": str(chain_decline.slashed),
        "refund": str(chain_decline.refund),
        "burned": "0",
    }, "an Other decline: the consumer refunded in full, nothing burned"
    for provider in m.providers():
        summary = views.provider_summary(db, provider)
        assert int(summary["claimable"]) == m.claimable(provider), provider
        assert int(summary["to_withdraw"]) == m.claimable(provider) + m.rewards_owed(provider), (
            "what withdraw pays, rewards included"
        )
        facts = m.facts(provider)
        assert (summary["jobs"]["settled"], summary["jobs"]["expired"]) == (facts["completed"], facts["missed"])
    assert len(views.list_models(db, None, {})["models"]) == m.model_count()


# --- the indexer ---------------------------------------------------------------------------------------
def test_indexer_matches_chain_and_resumes_after_restart(run: Run, db_url: str) -> None:
    chain, dep = run.net.market.chain, run.net.market.deployment
    first = Database(db_url)
    partial = Indexer(chain, dep, first, batch_blocks=7).sync(max_blocks=(chain.block_number() - dep.block) // 2)
    assert partial.indexed_to < chain.block_number()
    first.close()  # "restart": a new process opens the same database

    again = Database(db_url)
    indexer = Indexer(chain, dep, again, batch_blocks=7)
    assert indexer.cursor == partial.indexed_to
    result = indexer.sync()
    assert result.indexed_to == chain.block_number() and result.rewound_to is None
    assert_matches_chain(again, run)
    assert indexer.sync().events == 0, "a second sync of the same head adds nothing"

    whole = Database(f"{db_url}-whole" if not again.postgres else _fresh_pg(db_url.rsplit("/", 1)[0] + "/postgres"))
    Indexer(chain, dep, whole).sync()
    assert dump(whole) == dump(again), "resumed index differs from one made in one go"
    again.close()
    whole.close()


def test_indexer_rewinds_a_reorg_to_the_fork_point(run: Run, db_url: str) -> None:
    net, m = run.net, run.net.market
    db = Database(db_url)
    indexer = Indexer(m.chain, m.deployment, db)
    fork = m.chain.block_number()
    snap = net.rpc("evm_snapshot")["result"]  # anvil drops a snapshot once reverted to: take a new one each time
    try:
        m.cancel(net.signer("consumer"), run.jobs["open"])  # the branch that will be dropped
        net.rpc("evm_mine")
        indexer.sync()
        assert db.query("SELECT status FROM jobs WHERE job_id = ?", (run.jobs["open"],))[0]["status"] == "Cancelled"
        dropped = indexer.cursor

        net.rpc("evm_revert", [snap])  # the other branch: longer, and the job is claimed instead
        snap = net.rpc("evm_snapshot")["result"]
        m.claim(net.signer("provider2"), run.jobs["open"])
        for _ in range(3):
            net.rpc("evm_mine")
        assert m.chain.block_number() > dropped
        result = indexer.sync()
        assert result.rewound_to is not None and result.rewound_to <= fork
        assert db.query("SELECT status, provider FROM jobs WHERE job_id = ?", (run.jobs["open"],))[0] == {
            "status": "Claimed",
            "provider": net.signer("provider2").address.lower(),
        }
        assert not db.query("SELECT * FROM events WHERE name = 'JobCancelled' AND job_id = ?", (run.jobs["open"],))
        assert {r["block_hash"] for r in db.query("SELECT block_hash FROM events WHERE block_number > ?", (fork,))} == {
            "0x" + bytes(m.chain.w3.eth.get_block(n)["hash"]).hex()
            for n in range(fork + 1, m.chain.block_number() + 1)
            if m.chain.w3.eth.get_logs({"fromBlock": n, "toBlock": n, "address": m.market.address})
        }
    finally:
        net.rpc("evm_revert", [snap])
        db.close()


def test_indexer_follows_anvil_reorg(run: Run, tmp_path: Path) -> None:
    """anvil_reorg replaces the newest blocks (here: the one that cancelled a job) with new ones."""
    net, m = run.net, run.net.market
    db = Database(str(tmp_path / "reorg.sqlite"))
    indexer = Indexer(m.chain, m.deployment, db)
    snap = net.rpc("evm_snapshot")["result"]
    try:
        m.cancel(net.signer("consumer"), run.jobs["open"])
        net.rpc("evm_mine")
        indexer.sync()
        replaced = m.chain.block_number() - 2
        old_hash = db.scalar("SELECT block_hash FROM events WHERE name = 'JobCancelled' AND job_id = ?", (run.jobs["open"],))
        assert old_hash is not None
        answer = net.rpc("anvil_reorg", [2, []])
        assert "error" not in answer, answer
        result = indexer.sync()
        assert result.rewound_to is not None and result.rewound_to <= replaced
        status = m.job(run.jobs["open"]).status.value
        assert db.query("SELECT status FROM jobs WHERE job_id = ?", (run.jobs["open"],))[0]["status"] == status
        assert old_hash not in {r["block_hash"] for r in db.query("SELECT block_hash FROM events")}
        fresh = Database(str(tmp_path / "fresh.sqlite"))
        Indexer(m.chain, m.deployment, fresh).sync()
        assert dump(fresh) == dump(db), "after the reorg the index differs from one built from scratch"
        fresh.close()
    finally:
        net.rpc("evm_revert", [snap])
        db.close()


def test_indexer_stays_confirmations_behind_the_head(run: Run, tmp_path: Path) -> None:
    m = run.net.market
    db = Database(str(tmp_path / "c.sqlite"))
    result = Indexer(m.chain, m.deployment, db, confirmations=3).sync()
    assert result.indexed_to == m.chain.block_number() - 3
    assert int(db.scalar("SELECT MAX(block_number) FROM events")) <= result.indexed_to


@pytest.mark.slow
def test_indexer_keeps_up_with_a_burst_of_jobs(run: Run, tmp_path: Path) -> None:
    """60 jobs posted and cancelled back to back while the indexer follows as the explorer does."""
    net, m = run.net, run.net.market
    consumer, model_id = net.signer("consumer"), run.net.model_id
    slots = m.model(model_id).input_commitment_count
    indexer = Indexer(m.chain, m.deployment, Database(str(tmp_path / "burst.sqlite")))
    indexer.sync()
    snap = net.rpc("evm_snapshot")["result"]
    try:
        m.ensure_allowance(consumer, m.market.address, 10**30)
        probe = LagProbe(indexer, poll_s=0.2).start()
        posted = []
        for i in range(60):
            job_id, _ = m.post_job(consumer, model_id, [i + 1] * slots, NGX, 60, 60, 0)
            m.cancel(consumer, job_id)
            posted.append(job_id)
        report = probe.catch_up(timeout_s=60)
        print(report.line())
        assert report.catch_up_s < 10 and report.events >= 120
        statuses = {
            r["job_id"]: r["status"] for r in indexer.db.query("SELECT job_id, status FROM jobs WHERE job_id >= ?", (posted[0],))
        }
        assert statuses == dict.fromkeys(posted, "Cancelled")
    finally:
        net.rpc("evm_revert", [snap])
        indexer.db.close()


# --- the JSON API ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def explorer(run: Run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    m = run.net.market
    db = Database(str(tmp_path_factory.mktemp("explorer-db") / "api.sqlite"))
    indexer = Indexer(m.chain, m.deployment, db)
    indexer.sync()
    app = Explorer(
        db, indexer, m, run.net.settings, head=m.chain.block_number(), detector=lambda index: score_index(index).to_json()
    )
    server = ExplorerServer(app, "127.0.0.1", 0, poll_s=0.2)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        db.close()


def call(base: str, path: str, method: str = "GET") -> tuple[int, Any]:
    # as the page's script posts: same origin, no form content type (a form's would be refused as cross-site)
    headers = {"Content-Type": "application/json"} if method == "POST" else {}
    request = urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        assert exc.headers["Content-Type"] == "application/json", path
        return exc.code, json.loads(exc.read())


def conforms(value: Any, schema: dict[str, Any], doc: dict[str, Any], where: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (the JSON Schema subset the OpenAPI document uses)."""
    if isinstance(schema, bool):  # additionalProperties: true (anything) or false (nothing)
        return [] if schema else [f"{where}: not allowed by the schema"]
    if "$ref" in schema:
        return conforms(value, doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], doc, where)
    if "allOf" in schema:  # object parts: merged, so that a field no part names is still reported
        parts = [doc["components"]["schemas"][s["$ref"].rsplit("/", 1)[1]] if "$ref" in s else s for s in schema["allOf"]]
        merged = {
            "type": "object",
            "required": [k for s in parts for k in s.get("required", [])],
            "properties": {k: v for s in parts for k, v in s.get("properties", {}).items()},
        }
        return conforms(value, merged, doc, where)
    if "anyOf" in schema:
        found = [conforms(value, s, doc, where) for s in schema["anyOf"]]
        return [] if any(not f for f in found) else found[0]
    if "enum" in schema:
        return [] if value in schema["enum"] else [f"{where}: {value!r} not in {schema['enum']}"]
    kind = schema.get("type")
    checks = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    if kind == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
        return [f"{where}: {value!r} is not an integer"]
    if kind == "number" and (not isinstance(value, int | float) or isinstance(value, bool)):
        return [f"{where}: {value!r} is not a number"]
    if kind in checks and not isinstance(value, checks[kind]):
        return [f"{where}: {value!r} is not {kind}"]
    problems = []
    if kind == "string" and "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if kind == "object":
        problems += [f"{where}: missing {k}" for k in schema.get("required", []) if k not in value]
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                problems += conforms(v, props[k], doc, f"{where}.{k}")
            elif "additionalProperties" in schema:
                problems += conforms(v, schema["additionalProperties"], doc, f"{where}.{k}")
            elif props:
                problems.append(f"{where}: {k} is not in the schema")
    if kind == "array":
        for i, item in enumerate(value):
            problems += conforms(item, schema.get("items", {}), doc, f"{where}[{i}]")
    return problems


def test_every_endpoint_answers_as_its_openapi_schema_says(run: Run, explorer: str) -> None:
    status, doc = call(explorer, "/api/v1/openapi.json")
    assert status == 200 and doc == json.loads(json.dumps(document()))
    provider, consumer = run.net.signer("provider").address, run.net.signer("consumer").address
    concrete = {
        "/api/v1/jobs/{job_id}": f"/api/v1/jobs/{run.jobs['settled']}",
        "/api/v1/providers/{address}": f"/api/v1/providers/{provider}",
        "/api/v1/models/{model_id}": f"/api/v1/models/{run.net.model_id}",
        "/api/v1/consumers/{address}": f"/api/v1/consumers/{consumer}",
    }
    extra = [
        "/api/v1/jobs?status=Settled",
        f"/api/v1/jobs?outcome=declined&consumer={consumer}",
        "/api/v1/jobs?limit=2&offset=1",
        f"/api/v1/jobs/{run.jobs['expired']}",
        "/api/v1/stats?bucket=60",
    ]
    mirror = {"/api/jobs/{job_id}/proof", "/api/v1/jobs/{job_id}/proof"}  # optimistic jobs' proofs: tests/test_watch_chain.py
    for template in mirror:
        status, body = call(explorer, template.replace("{job_id}", str(run.jobs["settled"])))
        assert status == 404 and "only optimistic jobs' proofs are mirrored" in body["error"]["message"], body
    for template, item in doc["paths"].items():
        if "get" not in item or template in mirror:
            continue
        path = concrete.get(template, template)
        status, body = call(explorer, path)
        assert status == 200, (path, body)
        schema = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert conforms(body, schema, doc) == [], path
    for path in extra:
        status, body = call(explorer, path)
        template = path.split("?")[0] if "?" in path else "/api/v1/jobs/{job_id}"
        schema = doc["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert status == 200 and conforms(body, schema, doc) == [], path
    _, page = call(explorer, "/api/v1/jobs?limit=2&offset=1")
    assert page["total"] == len(run.jobs) and [j["job_id"] for j in page["jobs"]] == sorted(run.jobs.values(), reverse=True)[1:3]
    _, declined = call(explorer, "/api/v1/jobs?outcome=declined")
    assert [j["job_id"] for j in declined["jobs"]] == [run.jobs["declined"]]
    _, settled = call(explorer, f"/api/v1/jobs/{run.jobs['settled']}")  # outputs decoded with the local circuit's scales
    posted = run.net.market.logs(JobPosted, run.net.market.deployment.block, job_id=run.jobs["settled"])[0].event
    assert settled["commitments"] == [f"0x{c:064x}" for c in posted.input_commitments], "commitments in hex, as the CLI"
    assert settled["output_kind"] == "public" and settled["model_name"] == "mlp"
    expected = json.loads((MODELS / "mlp" / "expected_output.json").read_text())["output_data"][0]
    assert len(settled["output_values"]) == 1
    assert all(abs(a - b) < 2e-2 for a, b in zip(settled["output_values"][0], expected, strict=True))


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/jobs?limit=0", 400),
        ("/api/v1/jobs?limit=abc", 400),
        ("/api/v1/jobs?offset=-1", 400),
        ("/api/v1/jobs?status=Done", 400),
        ("/api/v1/jobs?provider=0x12", 400),
        ("/api/v1/jobs?colour=red", 400),
        ("/api/v1/jobs/abc", 400),
        ("/api/v1/jobs/0", 400),
        ("/api/v1/jobs/99999", 404),
        ("/api/v1/providers/nope", 400),
        ("/api/v1/providers/0x" + "11" * 20, 404),
        ("/api/v1/models/424242", 404),
        ("/api/v1/stats?bucket=1", 400),
        ("/api/v1/nothing", 404),
        ("/api/v2/jobs", 404),
    ],
)
def test_bad_requests_get_4xx_json_errors(explorer: str, path: str, code: int) -> None:
    status, body = call(explorer, path)
    assert status == code and body["error"]["status"] == code and body["error"]["message"]


def test_reverify_of_an_unsettled_job_is_a_409(run: Run, explorer: str) -> None:
    status, body = call(explorer, f"/api/v1/jobs/{run.jobs['expired']}/verify", "POST")
    assert status == 409 and "Expired" in body["error"]["message"]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_explorer_command_indexes_serves_and_stops_cleanly(stop: signal.Signals, run: Run, tmp_path: Path) -> None:
    env = run.net.env(tmp_path / "state")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ngx_zk", "explorer", "--port", "0", "--poll", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        assert url, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        status, body = call(url.group(1), "/api/v1/status")
        assert status == 200 and body["indexed_block"] == run.net.market.chain.block_number() and body["chain_id"] == 31337
        assert (run.net.home / "explorer" / "31337.sqlite").exists()
        with urllib.request.urlopen(url.group(1) + f"/jobs/{run.jobs['settled']}", timeout=10) as page:
            assert page.headers["Content-Type"].startswith("text/html") and b"/static/app.js" in page.read()
    finally:
        proc.send_signal(stop)
        # a clean stop takes ~2 s; the stop joins each thread for at most 10 s
        assert proc.wait(timeout=30) == 0
        shutil.rmtree(run.net.home / "explorer", ignore_errors=True)


# --- the pages, in a real browser ---------------------------------------------------------------------------
@pytest.mark.slow
def test_pages_in_headless_chromium(run: Run, explorer: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium missing: make system-deps")
    from playwright.sync_api import expect, sync_playwright

    provider = run.net.signer("provider").address
    status = ngx_zk(run.net, tmp_path, "provider", "status", provider, "--json")
    assert status.returncode == 0, status.stderr
    to_withdraw = json.loads(status.stdout)["to_withdraw"]  # what `ngx-zk withdraw` pays: earnings and rewards
    shots = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            offsite: list[str] = []
            page.on("request", lambda r: None if r.url.startswith(explorer) else offsite.append(r.url))

            page.goto(explorer + "/")
            expect(page.locator("#total-settled")).to_have_text("1")
            assert page.locator(".chart svg").count() == 7
            shots["overview"] = page.screenshot(full_page=True)

            page.goto(f"{explorer}/jobs/{run.jobs['settled']}")
            expect(page.locator("#job-status")).to_have_text("Settled")
            assert page.locator("#split-sum").inner_text() == page.locator("#split-price").inner_text() == "10 NGX"
            expect(page.locator("#split-check")).to_contain_text("adds up")
            page.click("#reverify")
            expect(page.locator("#verdict-result")).to_have_text("valid", timeout=120_000)
            assert page.locator(".checks .bad").count() == 0 and page.locator(".checks .ok").count() >= 5
            shots["job"] = page.screenshot(full_page=True)

            page.goto(f"{explorer}/providers/{provider.lower()}")
            expect(page.locator("#provider-settled")).to_have_text("1")
            tenths_of_millis = (to_withdraw + 5 * 10**13) // 10**14  # rounded half up to 4 decimals
            whole, frac = divmod(tenths_of_millis, 10**4)
            shown = page.locator("#provider-to-withdraw").inner_text()
            assert shown == (f"{whole}.{str(frac).rjust(4, '0').rstrip('0')} NGX" if frac else f"{whole} NGX")
            expect(page.locator("#provider-nrs")).not_to_be_empty()
            shots["provider"] = page.screenshot(full_page=True)

            page.goto(f"{explorer}/models/{run.net.model_id}")
            expect(page.locator("#model-royalties")).to_have_text("0.1 NGX")
            expect(page.locator("main")).to_contain_text("allow-listed")
            shots["model"] = page.screenshot(full_page=True)

            page.goto(explorer + "/jobs")  # the list updates without a reload
            expect(page.locator("tbody tr")).to_have_count(len(run.jobs))
            _post(run.net, tmp_path)
            expect(page.locator("tbody tr")).to_have_count(len(run.jobs) + 1, timeout=15_000)

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(f"{explorer}/jobs/{run.jobs['settled']}")
            expect(phone.locator("#job-status")).to_have_text("Settled")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1, "the job page scrolls sideways on a phone"
            shots["phone"] = phone.screenshot(full_page=True)
            assert offsite == [], f"the pages fetched off-site assets: {offsite}"
        finally:
            browser.close()
    # kept with the test's files; NGX_ZK_EXPLORER_SCREENSHOTS=1 refreshes the README's copies in docs/
    folder = DOCS if os.environ.get("NGX_ZK_EXPLORER_SCREENSHOTS") == "1" else tmp_path
    for name, png in shots.items():
        (folder / f"explorer-{name}.png").write_bytes(png)
