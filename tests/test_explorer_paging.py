"""What a page view costs the node, with the registry full of junk: registering a model is permissionless,
and the old explorer read 3 live figures per registered model on every page view (each page first
fetched the whole model list for its names). And what the job page is told a private job's outputs are."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk.consumer import post_job
from ngx_zk.explorer import views
from ngx_zk.explorer.db import Database
from ngx_zk.explorer.indexer import Indexer
from ngx_zk.explorer.server import Explorer, ExplorerServer
from ngx_zk.publish import publish

from .chain_fixtures import NGX, Net
from .paths import MODELS

pytestmark = pytest.mark.chain

CHROMIUM = Path("/usr/bin/chromium")
PAGE = 50
"""The page size the models page asks for (static/app.js)."""


def register_junk(net: Net, count: int, start: int) -> None:
    """Registry entries anyone could add: any contract as the 'verifier', made-up hashes."""
    m, spammer = net.market, net.signer("consumer2")
    for i in range(start, start + count):
        spec = {
            "onnx_hash": (i + 1).to_bytes(32, "big"),
            "settings_hash": b"\x01" * 32,
            "vk_digest": b"\x02" * 32,
            "verifier": m.token.address,
            "kind": 0,
            "input_commitment_count": 1,
            "output_count": 1,
            "royalty_bps": 0,
            "insecure_test_srs": False,
            "metadata_uri": f"junk-{i}",
            "artifacts_hash": b"\x03" * 32,
        }
        m.register_model(spammer, spec)


class RpcCounter:
    """Counts the JSON-RPC calls the market's web3 provider posts to the node (each still goes to anvil;
    a batch counts each call in it)."""

    def __init__(self, net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
        self.methods: list[str] = []
        session = net.market.chain.w3.provider._request_session_manager  # type: ignore[attr-defined]
        post = session.make_post_request

        def make_post_request(uri: Any, data: Any, **kwargs: Any) -> Any:
            sent = json.loads(data)
            self.methods.extend(c["method"] for c in (sent if isinstance(sent, list) else [sent]))
            return post(uri, data, **kwargs)

        monkeypatch.setattr(session, "make_post_request", make_post_request)


@pytest.fixture
def indexed(chain_snapshot: Net, tmp_path: Path) -> Iterator[tuple[Net, Indexer]]:
    db = Database(str(tmp_path / "paging.sqlite"))
    try:
        yield chain_snapshot, Indexer(chain_snapshot.market.chain, chain_snapshot.market.deployment, db)
    finally:
        db.close()


def served_view(net: Net, indexer: Indexer, counter: RpcCounter, browser: Any, page: str) -> int:
    """RPC calls one view of ``page`` in a real browser costs, on a fresh server (an empty live cache); a
    reload right after must cost none."""
    indexer.sync()
    server = ExplorerServer(Explorer(indexer.db, None, net.market, net.settings), "127.0.0.1", 0)
    server.start()
    try:
        tab = browser.new_page()
        counter.methods.clear()
        tab.goto(server.url + page)
        tab.wait_for_selector("#app[data-ready]")
        assert tab.locator("p.bad").count() == 0, tab.inner_text("main")
        first = len(counter.methods)
        counter.methods.clear()
        tab.reload()
        tab.wait_for_selector("#app[data-ready]")
        assert counter.methods == [], "a reload within the live cache's time-to-live read the chain again"
        tab.close()
        return first
    finally:
        server.stop()


def test_a_page_view_costs_the_node_no_more_with_many_junk_models(
    indexed: tuple[Net, Indexer], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium missing: make system-deps")
    from playwright.sync_api import sync_playwright

    net, indexer = indexed
    counter = RpcCounter(net, monkeypatch)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            register_junk(net, 3, 0)
            few = {page: served_view(net, indexer, counter, browser, page) for page in ("/", "/models", "/jobs")}
            register_junk(net, 2 * PAGE, 3)
            assert net.market.model_count() > 2 * PAGE
            many = {page: served_view(net, indexer, counter, browser, page) for page in ("/", "/models", "/jobs")}
        finally:
            browser.close()
    print(f"RPC calls per page view with {net.market.model_count()} models: {many} (with 4: {few})")
    assert few["/"] == many["/"] == few["/jobs"] == many["/jobs"] == 0, "the overview and jobs pages read nothing live"
    # 3 reads per model on the page (entry, code hash, allow-list), and an eth_chainId web3 asks now and then
    assert 0 < few["/models"] <= many["/models"] <= 3 * PAGE + 1, "the models page reads at most one page of live figures"

    page = views.list_models(indexer.db, None, {}, limit=10, offset=100)
    assert page["total"] == net.market.model_count() and len(page["models"]) == page["total"] - 100


def test_a_private_output_model_s_job_says_its_outputs_are_a_hash(indexed: tuple[Net, Indexer], tmp_path: Path) -> None:
    """A job of a circuit with hashed outputs: the API labels what settles on chain as an output hash
    (``output_kind``), so the page does not present the hash as the outputs; the public mlp's say public."""
    net, indexer = indexed
    private = ngx.build_circuit(
        MODELS / "mlp", net.settings, name="mlp_hashed_out", visibility=ngx.Visibility("hashed", "fixed", "hashed")
    )
    publish(net.settings, net.market, net.signer("deployer"), private)
    data = ngx.load_input(MODELS / "mlp" / "input.json", private.manifest)
    settings = ngx.load_settings(
        {"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir), "NGX_ZK_STATE_DIR": str(tmp_path)}
    )
    jobs = {
        circuit.name: post_job(
            settings,
            net.market,
            net.signer("consumer"),
            circuit,
            data,
            price=NGX,
            claim_window=60,
            prove_window=60,
            min_reputation=0,
        ).job_id
        for circuit in (private, net.circuit)
    }
    indexer.sync()
    app = Explorer(indexer.db, None, net.market, net.settings)
    assert app.job(jobs["mlp_hashed_out"])["output_kind"] == "hashed"
    assert app.job(jobs[net.circuit.name])["output_kind"] == "public"
