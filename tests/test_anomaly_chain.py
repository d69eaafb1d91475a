"""Anomaly detection through the real stack: a junk-input griefer plays issue #23's attack on anvil (one funder
sets up fresh addresses that post jobs and deliver junk on chain; the provider declines them as invalid), the
real indexer follows the contracts (NGX transfers included) into SQLite, and the detector flags the fresh
addresses with the funder named in the evidence, while the provider and an honest consumer stay unflagged; a
worker started with --avoid-flagged on that index then leaves the griefer's next job unclaimed, saying why."""

from __future__ import annotations

import secrets
from pathlib import Path

from ngx_zk.anomaly.history import load
from ngx_zk.anomaly.model import detect
from ngx_zk.chain.market import DeclineReason, JobStatus
from ngx_zk.chain.signer import from_key
from ngx_zk.config import Secret
from ngx_zk.explorer.db import Database
from ngx_zk.explorer.indexer import Indexer

from .chain_fixtures import NGX, Net, ngx_zk

GRIEFERS = 4


def test_a_funded_swarm_of_junk_senders_is_flagged_from_the_indexed_chain(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    m, funder, provider = net.market, net.signer("consumer2"), net.signer("provider")
    count = m.model(net.model_id).input_commitment_count
    swarm = [from_key(Secret("0x" + secrets.token_hex(32))) for _ in range(GRIEFERS)]
    for i, griefer in enumerate(swarm):
        net.rpc("anvil_setBalance", [griefer.address, hex(10**18)])  # gas; the NGX comes from the funder
        m.transfer(funder, griefer.address, 50 * NGX)
        job_id, _ = m.post_job_with_permit(griefer, net.model_id, [1000 + i] * count, 20 * NGX, 300, 300, 0)
        m.claim(provider, job_id)
        m.deliver_input(griefer, job_id, b"junk")
        m.decline(provider, job_id, DeclineReason.INPUT_INVALID)
    honest = net.signer("consumer")
    job_id, _ = m.post_job_with_permit(honest, net.model_id, [7] * count, 10 * NGX, 300, 300, 0)
    m.cancel(honest, job_id)

    index = tmp_path / "explorer.sqlite"
    db = Database(str(index))
    try:
        Indexer(m.chain, m.deployment, db).sync()
        history = load(db)
        report = detect(history)
    finally:
        db.close()
    assert {t.target for t in history.transfers} >= {g.address.lower() for g in swarm}, "NGX transfers are indexed"
    for griefer in swarm:
        flag = report.flagged(griefer.address, "consumer")
        assert flag is not None and flag.kinds == ("junk-input",), report.text()
        assert f"funded by {funder.address.lower()} within the hour before its first job" in flag.evidence[0]
        assert f"{GRIEFERS} of {GRIEFERS} of their jobs were declined as invalid input" in flag.evidence[0]
    assert report.flagged(provider.address, "provider") is None, "declining the swarm's junk is not held against it"
    assert report.flagged(honest.address, "consumer") is None

    # a provider's worker with --avoid-flagged reads the same index and leaves the griefer's next job alone
    job_id, _ = m.post_job_with_permit(swarm[0], net.model_id, [2000] * count, 20 * NGX, 300, 300, 0)
    log = tmp_path / "worker.log"
    done = ngx_zk(
        net, tmp_path / "worker", "worker", "--model", "mlp", "--account", "provider", "--burst", "--avoid-flagged",
        "--anomalies-from", str(index), "--log-file", str(log), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"avoided: consumer {swarm[0].address.lower()} is flagged (junk-input): funded by" in log.read_text()
    assert m.job(job_id).status is JobStatus.OPEN
