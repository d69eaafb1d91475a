"""A fuzz campaign of hostile offers and uploads against a live worker's endpoint (real HTTP, real chain).

Strangers (fresh keys: no funds, no transactions) send whatever hypothesis draws: random JSON shapes,
sizes and values sealed to the provider, raw garbage, bodies that do not match their signed hash,
signatures from someone else. The worker must neither raise nor stop, every request must be
refused (by the endpoint, or when the worker opens it) and journaled, and an honest offer afterwards
must still be proved.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ngx_zk as ngx
from ngx_zk import crypto, dataplane
from ngx_zk.chain.signer import Signer
from ngx_zk.worker.worker import Worker

from .chain_fixtures import Net
from .paths import MODELS
from .test_offers import library_worker, set_endpoint

pytestmark = pytest.mark.chain

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e300, -1e300, 1e-300, 2**63, -(2**64)]),
    st.text(max_size=20),
)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=40
)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """(what it is, the plaintext to seal, or raw bytes sent as is)."""
    kind = draw(st.sampled_from(["json", "input-shaped", "deep", "garbage"]))
    if kind == "json":
        return kind, json.dumps({"input": draw(JSON), "reply_to": draw(st.text(max_size=70))}).encode()
    if kind == "input-shaped":
        values = draw(
            st.lists(
                st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(10**20), 10**20)),
                min_size=0,
                max_size=12,
            )
        )
        salt = draw(st.lists(st.integers(-(2**40), 2**40), max_size=10))
        return kind, json.dumps({"input": {"input_data": [values], "salt": [salt]}}).encode()
    if kind == "deep":
        depth = draw(st.integers(33, 200_000))
        return kind, b'{"input": ' + b"[" * depth + b"]" * depth + b"}"
    return kind, draw(st.binary(min_size=1, max_size=2048))


def stranger() -> Signer:
    account = Account.create()
    return Signer(account.address, account)


@pytest.fixture(scope="module")
def live(net: Net, tmp_path_factory: pytest.TempPathFactory) -> Any:
    worker = library_worker(net, tmp_path_factory.mktemp("fuzz-worker"))
    worker._provers.wait_ready()
    yield worker
    worker.close()
    set_endpoint(net, "provider", "")  # later tests start from the session's provider profile


def _send(
    worker: Worker, net: Net, signer: Signer, model_id: int, commitment: int, body: bytes, *, seal: bool, tamper: str
) -> int | None:
    """PUT one offer; the HTTP status (None when the endpoint answered 200)."""
    m = net.market
    payload = body
    if seal:
        key = crypto.public_bytes(worker.opener.enc_key)
        payload = crypto.seal(key, body, worker.opener.context(0, model_id, "offer"))
    provider = worker.signer.address
    headers = dataplane.offer_headers(
        signer, m.chain.chain_id, m.market.address, model_id, commitment, payload, provider=provider
    )
    if tamper == "body":
        payload = payload + b"x"
    elif tamper == "signature":
        headers["X-NGX-Signature"] = "0x" + "11" * 65
    elif tamper == "someone-else":
        headers = dataplane.offer_headers(
            stranger(), m.chain.chain_id, m.market.address, model_id, commitment, payload + b"y", provider=provider
        )
    assert worker.endpoint is not None
    try:
        dataplane.exchange(worker.endpoint, "PUT", f"/v1/offers/{model_id}/{commitment:064x}", headers, payload, dev_chain=True)
    except dataplane.DataPlaneError as exc:
        assert exc.status is not None and 400 <= exc.status < 600, f"the endpoint failed to answer: {exc}"
        return exc.status
    return None


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    body=hostile_bodies(),
    seal=st.booleans(),
    tamper=st.sampled_from(["none", "none", "body", "signature", "someone-else"]),
    commitment=st.integers(0, 2**256 - 1),
)
def test_the_worker_survives_hostile_offers_and_journals_each_refusal(
    live: Worker, net: Net, body: tuple[str, bytes], seal: bool, tamper: str, commitment: int
) -> None:
    worker = live
    before = len(worker.journal.refusals())
    status = _send(worker, net, stranger(), net.model_id, commitment, body[1], seal=seal, tamper=tamper)
    worker.offers.tend(worker.lifecycle.proofs)  # opens whatever the endpoint took: must refuse it, never raise
    worker.monitor.scan()
    worker._advance()
    assert not worker.offers._offered, f"a hostile {body[0]} offer was taken for proving"
    refusals = worker.journal.refusals()[before:]
    assert len(refusals) == 1, f"{body[0]} offer (tamper={tamper}, HTTP {status}) was not journaled exactly once: {refusals}"
    if status is None:
        assert refusals[0].source == "offer", "accepted by the endpoint, refused when opened"
    else:
        assert refusals[0].source.startswith("dataplane"), "refused by the endpoint before it was read"


def test_after_the_campaign_an_honest_offer_is_still_proved(live: Worker, net: Net) -> None:
    worker, honest = live, stranger()
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    commitment, salted = ngx.commit(net.circuit.manifest, data, new_salt=True)
    plain = json.dumps({"input": salted.to_json(), "reply_to": ""}).encode()
    assert _send(worker, net, honest, net.model_id, commitment.values[0], plain, seal=True, tamper="none") is None
    worker.offers.tend(worker.lifecycle.proofs)
    offered = worker.offers._offered[commitment.values[0]]
    assert offered.proof is not None and offered.proof.result(timeout=120).proof.outputs
