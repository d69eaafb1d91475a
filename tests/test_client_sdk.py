"""``ngx_zk.Client``, the one resolver of chain, market and signer under both skins (every CLI chain command
gets one): the dev-account rule, a Client on a market already connected, and a job posted and audited
through it. Against anvil; the README example (test_client_example.py) runs a whole job."""

from __future__ import annotations

import dataclasses

import pytest

import ngx_zk as ngx
from ngx_zk.chain.types import JobStatus
from ngx_zk.errors import SignerError

from .chain_fixtures import Net
from .paths import MODELS
from .rpc_fakes import FlakyRpcProxyFake

pytestmark = pytest.mark.chain


def keyless(net: Net) -> ngx.Settings:
    return dataclasses.replace(net.settings, private_key=None, keystore=None)


def test_a_client_without_a_key_names_what_to_pass(chain_snapshot: Net) -> None:
    client = ngx.Client(keyless(chain_snapshot), chain_snapshot.url)
    with pytest.raises(SignerError) as no_key:
        _ = client.signer
    assert no_key.value.message == "no signing key given"
    assert "--account ROLE" in (no_key.value.hint or "") and "NGX_ZK_PRIVATE_KEY" in (no_key.value.hint or "")


def test_the_dev_account_signs_on_the_dev_chain_only(chain_snapshot: Net) -> None:
    net = chain_snapshot
    client = ngx.Client(keyless(net), net.url, dev_account="deployer")
    assert client.is_dev and client.signer.address == net.signer("deployer").address
    with FlakyRpcProxyFake(net.url, chain_id=1) as proxy:  # a node of another chain: never a dev key there
        real = ngx.Client(keyless(net), proxy.url, dev_account="deployer")
        assert not real.is_dev
        with pytest.raises(SignerError) as refused:
            _ = real.signer
        assert "--account" not in (refused.value.hint or "")


def test_a_job_posted_and_audited_through_clients(chain_snapshot: Net) -> None:
    """The consumer posts through ``Client.post_job`` (its ``Consumer``); an auditor's Client on the market
    the explorer already holds audits it through the auditor, which finds no proof yet."""
    net = chain_snapshot
    consumer = ngx.Client(keyless(net), net.url, account="consumer")
    record = consumer.post_job(net.circuit, MODELS / "mlp" / "input.json", price="1")
    assert net.market.job(record.job_id).status is JobStatus.OPEN
    assert consumer.consumer.record(record.job_id) == record  # the secret record, kept on this machine

    auditor = ngx.Client(keyless(net), market=net.market)
    assert auditor.market is net.market and auditor.chain is net.market.chain
    verdict = auditor.verify_job(record.job_id, net.circuit)
    assert not verdict.valid and [(c.name, c.ok) for c in verdict.checks] == [("job settled", False)]
