"""An RPC provider's limits: capped ``eth_getLogs`` ranges and result counts (each provider with its own error
text), rate limits answering 429 with Retry-After, occasional 5xx. The chain layer learns the span a node
accepts, waits out rate limits, and every role (worker, consumer, auditor, explorer indexer) completes a job
through such a provider (:mod:`tests.rpc_provider_fake`, in front of a real anvil)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from web3.exceptions import Web3RPCError

from ngx_zk.chain import devnet
from ngx_zk.chain.history import LogSpan, chunked, is_log_limit
from ngx_zk.chain.market import Marketplace
from ngx_zk.chain.rpc import FailoverProvider, mask_url, mask_urls
from ngx_zk.chain.tx import Chain
from ngx_zk.chain.types import JobPosted
from ngx_zk.cli import main
from ngx_zk.client import Client
from ngx_zk.errors import RpcError, WrongChainError
from ngx_zk.explorer.db import Database
from ngx_zk.explorer.indexer import Indexer

from .chain_fixtures import Net, free_port, ngx_zk, prove_mlp, start_worker
from .rpc_provider_fake import STYLES, ProviderLimits, RpcProviderFake, range_refusal, results_refusal

CAP = 10
KEY = "9aa3d95b3bc440fa88ea12eaa4456161"
"""An API key as providers issue them (32 hex digits): it must never be printed, logged or stored."""
REFUSALS = {
    **{f"{style}-range": range_refusal(style, 100, CAP, 2000)[1] for style in STYLES},
    **{f"{style}-results": results_refusal(style, 10_000)[1] for style in STYLES},
    "tenderly": {
        "code": -32602,
        "message": "invalid params",
        "data": {"payload": "range 9009594 is bigger than range limit 2000"},
    },
    "reth": {"code": -32602, "message": "query exceeds max results 20000, retry with the range 25766988-25775072"},
    "1rpc": {"code": -32000, "message": "eth_getLogs is limited to a 1000 blocks range"},
}


def refusal(error: dict[str, object]) -> Web3RPCError:
    """The exception web3 raises for a JSON-RPC error answer."""
    return Web3RPCError(str(error), rpc_response={"jsonrpc": "2.0", "id": 1, "error": error})  # type: ignore[typeddict-item]


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_each_providers_refusal_shrinks_the_range_until_it_is_served(name: str) -> None:
    asked: list[tuple[int, int]] = []

    def provider(a: int, b: int) -> list[int]:
        asked.append((a, b))
        if b - a + 1 > CAP:
            raise refusal(REFUSALS[name])
        return list(range(a, b + 1))

    span = LogSpan()
    assert chunked(span, 5, 504, provider) == list(range(5, 505)), "every block once, in order"
    assert span.span <= CAP
    refused = [(a, b) for a, b in asked if b - a + 1 > CAP]
    assert len(refused) <= 12, f"a span is learned in a few halvings, not block by block: {len(refused)}"
    served = len(asked) - len(refused)
    assert served <= 500 // 5, "the learned span is used, not one block at a time"


def test_a_learned_span_grows_back_but_not_past_a_refused_one() -> None:
    span = LogSpan(most=2000)
    span.shrink(2000)
    span.shrink(1000)
    assert span.span == 500 and span.refused == 1000
    for _ in range(64):
        span.grow(span.span)
    assert 500 < span.span < 1000


@pytest.mark.parametrize(
    "error",
    [
        {"code": -32000, "message": "header not found"},
        {"code": -32602, "message": "invalid argument 0: hex string without 0x prefix"},
        {"code": -32601, "message": "the method eth_getLogs does not exist/is not available"},
    ],
)
def test_other_errors_are_raised_at_once_not_taken_for_a_limit(error: dict[str, object]) -> None:
    calls = []

    def provider(a: int, b: int) -> list[int]:
        calls.append((a, b))
        raise refusal(error)

    assert not is_log_limit(refusal(error))
    with pytest.raises(Web3RPCError):
        chunked(LogSpan(), 0, 5000, provider)
    assert len(calls) == 1


# --- through the fake provider, in front of anvil --------------------------------------------------
def market_through(net: Net, url: str) -> Marketplace:
    chain = Chain([url], expected_chain_id=devnet.DEV_CHAIN_ID)
    return Marketplace(chain, net.market.deployment)


@pytest.mark.chain
@pytest.mark.parametrize("style", STYLES)
def test_logs_through_a_capped_provider_are_the_nodes_logs(net: Net, style: str) -> None:
    m = net.market
    head = m.chain.block_number()
    direct = m.logs(JobPosted, m.deployment.block, head)
    raw = m.chain.logs(m.deployment.block, head, [m.market.address])
    with RpcProviderFake(net.url, ProviderLimits(log_range=CAP, style=style, rate_per_s=None)) as provider:
        through = market_through(net, provider.url)
        assert through.logs(JobPosted, through.deployment.block, head) == direct
        assert through.chain.logs(through.deployment.block, head, [m.market.address]) == raw
    assert provider.refused["range"] > 0, "the cap was hit"
    assert max(provider.spans) <= CAP


@pytest.mark.chain
def test_a_result_count_cap_shrinks_the_range_too(net: Net) -> None:
    m = net.market
    head = m.chain.block_number()
    addresses = list(m.deployment.contracts.values())
    raw = m.chain.logs(m.deployment.block, head, addresses)
    per_block = max(sum(1 for e in raw if e.block_number == n) for n in {e.block_number for e in raw})
    assert len(raw) > 2 * per_block, "enough logs to need several queries"
    limits = ProviderLimits(log_range=None, log_results=per_block, style="infura", rate_per_s=None)
    with RpcProviderFake(net.url, limits) as provider:
        assert Chain([provider.url], expected_chain_id=devnet.DEV_CHAIN_ID).logs(m.deployment.block, head, addresses) == raw
    assert provider.refused["results"] > 0


@pytest.mark.chain
def test_a_rate_limited_provider_is_waited_out_as_its_retry_after_says(net: Net) -> None:
    limits = ProviderLimits(log_range=None, rate_per_s=5, retry_after_s=1)
    with RpcProviderFake(net.url, limits) as provider:
        chain = Chain([provider.url], expected_chain_id=devnet.DEV_CHAIN_ID)
        started = time.monotonic()
        for _ in range(15):
            chain.block_number()
        took = time.monotonic() - started
    assert provider.refused["429"] > 0, "the rate limit was hit"
    assert took >= 1.0, "each 429 waited the second its Retry-After asked for"


# --- an API key in the RPC URL stays secret ----------------------------------------------------------
@pytest.mark.parametrize(
    "url, shown",
    [
        (f"https://mainnet.infura.io/v3/{KEY}", "https://mainnet.infura.io/v3/***"),
        (f"https://eth-mainnet.g.alchemy.com/v2/{KEY}", "https://eth-mainnet.g.alchemy.com/v2/***"),
        (f"https://icy-mountain.quiknode.pro/{KEY}/", "https://icy-mountain.quiknode.pro/***/"),
        (f"https://rpc.example.org/eth?apikey={KEY}&chain=1", "https://rpc.example.org/eth?apikey=***&chain=***"),
        (f"https://user:{KEY}@node.example.org:8545", "https://***@node.example.org:8545"),
        (f"wss://base.example.org/ws/{KEY}", "wss://base.example.org/ws/***"),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
    ],
)
def test_an_api_key_in_an_rpc_url_is_masked_where_it_is_shown(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert mask_urls(f"node {url}, down") == f"node {shown}, down"


def test_a_dead_keyed_node_is_named_without_its_key(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v3/{KEY}"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RpcError) as failed:
        FailoverProvider([url], tries=1, backoff_s=0.01).make_request("eth_chainId", [])  # type: ignore[arg-type]
    assert "127.0.0.1" in str(failed.value) and KEY not in str(failed.value)
    assert "Making request" in caplog.text and KEY not in caplog.text, "web3's debug log names the endpoint, masked"
    assert KEY not in repr(Client(rpc_url=url))

    done = CliRunner().invoke(main, ["jobs", "--rpc-url", url], env={"NGX_ZK_HOME": str(tmp_path)})
    assert done.exit_code == 1 and "connection refused" in done.output
    assert KEY not in done.output and "Traceback" not in done.output


@pytest.mark.chain
def test_a_keyed_node_of_the_wrong_chain_is_named_without_its_key(net: Net, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with RpcProviderFake(net.url, ProviderLimits(rate_per_s=None)) as provider, pytest.raises(WrongChainError) as wrong:
        Chain([f"{provider.url}/v3/{KEY}"], expected_chain_id=1)
    assert "serves chain id 31337" in str(wrong.value) and KEY not in str(wrong.value)
    assert "/v3/***" in caplog.text and KEY not in caplog.text, "urllib3 logs the request path: masked"


# --- every role completes a job through the provider ---------------------------------------------
@pytest.mark.chain
def test_worker_consumer_auditor_and_indexer_complete_a_job_through_a_capped_rate_limited_provider(
    chain_snapshot: Net, tmp_path: Path
) -> None:
    net = chain_snapshot
    limits = ProviderLimits(log_range=CAP, style="quicknode", rate_per_s=40, retry_after_s=1, fail_every=97)
    with RpcProviderFake(net.url, limits) as provider:
        behind = replace(net, url=f"{provider.url}/v3/{KEY}")  # an API key rides in the URL, as hosted providers issue them
        worker = start_worker(behind, tmp_path / "worker", "--max-jobs", "1")
        try:
            done = prove_mlp(behind, tmp_path / "consumer", timeout=150)
        finally:
            assert worker.wait(timeout=150) == 0, worker.stderr.read() if worker.stderr else ""
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout)
        assert result["status"] == "Settled" and result["proof_valid"] is True
        audit = ngx_zk(behind, tmp_path / "auditor", "verify", "--job", str(result["job_id"]), "--model", "mlp", "--json")
        assert audit.returncode == 0, audit.stdout + audit.stderr
        assert json.loads(audit.stdout)["valid"] is True

        outputs = done.stdout + done.stderr + audit.stdout + audit.stderr
        through = market_through(net, behind.url)
        db = Database(str(tmp_path / "explorer.sqlite"))
        Indexer(through.chain, through.deployment, db).sync()
        row = db.query("SELECT status, provider FROM jobs WHERE job_id = ?", (int(result["job_id"]),))
        assert row and row[0]["status"] == "Settled" and row[0]["provider"] == devnet.dev_address("provider").lower()
    assert provider.refused["range"] > 0 and max(provider.spans) <= CAP, "the log cap was hit and kept"
    assert provider.refused["503"] > 0
    assert KEY not in outputs
    for path in tmp_path.rglob("*"):  # logs, journal, consumer records, index
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), f"the API key leaked into {path}"
