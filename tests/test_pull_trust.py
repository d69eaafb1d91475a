"""``model pull`` against a real anvil: registration front-running and SSRF (issue 23, items 2 and 9).

Item 2, as played on e8f580d: everything identifying a model is in the owner's ``registerModel``
calldata; a copier re-sends it first (a higher tip) so its entry gets the lower id, and ``model pull``
took the earliest entry for the original: it refused the owner's id as "a probable copy". Now
``model publish`` binds the publisher into the manifest the entry pins, so the replayed entry is an
impostor by its own artifacts, whatever its place in the registry.

Item 9: ``model pull`` fetched the registrant-chosen URI with any scheme, host and redirects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils.address import to_checksum_address

import ngx_zk.bundle
from ngx_zk.artifacts import Circuit
from ngx_zk.bundle import make_bundle
from ngx_zk.catalog import ImpostorError, bind_publisher, binding, lookup
from ngx_zk.chain import devnet

from . import test_model_trust
from .chain_fixtures import Net
from .test_model_trust import Stranger, error_line, nothing_installed, register_copy
from .test_registry_room import Site, unbound_copy

pytestmark = pytest.mark.chain

OWNER, COPIER = "provider2", "consumer2"
GWEI = 10**9
stranger = test_model_trust.stranger
"""A user who never published: a fresh home on the same chain (the fixture of tests/test_model_trust.py)."""


@pytest.fixture
def site(net: Net, tmp_path: Path) -> Iterator[Site]:
    """The session model's bundle (bound to its publisher, the deployer) served on loopback."""
    served = Site(make_bundle(net.circuit, tmp_path / "mlp.tar.gz").path.read_bytes())
    try:
        yield served
    finally:
        served.close()


def front_run(net: Net, spec: dict[str, Any]) -> tuple[int, int]:
    """The owner sends ``registerModel(spec)``; the copier reads it from the mempool and sends the same
    calldata with a 50x tip; both land in one block. Returns (copier's id, owner's id)."""
    m, w3 = net.market, net.market.chain.w3
    fields = (
        spec["onnx_hash"],
        spec["settings_hash"],
        spec["vk_digest"],
        to_checksum_address(spec["verifier"]),
        int(spec["kind"]),
        spec["input_commitment_count"],
        spec["output_count"],
        spec["royalty_bps"],
        spec["insecure_test_srs"],
        spec["metadata_uri"],
        spec["artifacts_hash"],
    )
    data = m.registry.encode_abi("registerModel", args=[fields, b""])
    before = m.model_count()
    net.rpc("evm_setAutomine", [False])
    try:
        honest = w3.eth.send_transaction(
            {
                "from": devnet.dev_address(OWNER),
                "to": m.registry.address,
                "data": data,
                "gas": 3_000_000,
                "maxPriorityFeePerGas": GWEI,
                "maxFeePerGas": 100 * GWEI,
            }
        )
        seen = w3.eth.get_transaction(honest)  # what any mempool watcher reads
        w3.eth.send_transaction(
            {
                "from": devnet.dev_address(COPIER),
                "to": seen["to"],
                "data": seen["input"],
                "gas": 3_000_000,
                "maxPriorityFeePerGas": 50 * GWEI,
                "maxFeePerGas": 200 * GWEI,
            }
        )
        net.rpc("evm_mine")
    finally:
        net.rpc("evm_setAutomine", [True])
    assert m.model_count() == before + 2
    ids = {m.model(i).owner: i for i in (before + 1, before + 2)}
    return ids[devnet.dev_address(COPIER)], ids[devnet.dev_address(OWNER)]


def owners_spec(net: Net, circuit: Circuit, uri: str) -> dict[str, Any]:
    """What ``model publish`` registers for ``circuit`` (bound to its publisher): the session model's verifier,
    vk and counts (the same network), this manifest's artifacts hash, a 1 % royalty."""
    real = net.market.model(net.model_id)
    return {
        "onnx_hash": real.onnx_hash,
        "settings_hash": real.settings_hash,
        "vk_digest": real.vk_digest,
        "verifier": real.verifier,
        "kind": real.kind,
        "input_commitment_count": real.input_commitment_count,
        "output_count": real.output_count,
        "royalty_bps": 100,
        "insecure_test_srs": real.insecure_test_srs,
        "metadata_uri": uri,
        "artifacts_hash": binding(circuit).artifacts_hash,
    }


def test_a_front_run_registration_is_named_an_impostor_and_the_owners_id_installs(
    chain_snapshot: Net, stranger: Stranger, tmp_path: Path
) -> None:
    net = chain_snapshot
    own = bind_publisher(unbound_copy(net.circuit, tmp_path / "owner" / "mlp"), devnet.dev_address(OWNER))
    served = Site(make_bundle(own, tmp_path / "own.tar.gz").path.read_bytes())
    try:
        copier_id, owner_id = front_run(net, owners_spec(net, own, f"{served.url}/bundle.tar.gz"))
        assert copier_id < owner_id, "the copier's replay landed first: registration order says nothing"
        copier = devnet.dev_address(COPIER)

        code, out = stranger.cli("model", "pull", str(copier_id))
        assert code == 1
        error = error_line(out)
        assert f"registry model {copier_id} is an impostor" in error and copier in error
        assert f"binds publisher {devnet.dev_address(OWNER)}" in error and f"ngx-zk model pull {owner_id}" in error
        assert nothing_installed(stranger)

        code, out = stranger.cli("model", "pull", str(owner_id), "--json")
        assert code == 0, out
        pulled = json.loads(out)
        assert pulled["model_id"] == owner_id and pulled["owner"] == pulled["publisher"] == devnet.dev_address(OWNER)
        assert pulled["impostors"] == [{"model_id": copier_id, "registrant": copier}]
        relations = {c["model_id"]: c["relation"] for c in pulled["copies"]}
        assert relations == {copier_id: "impostor", net.model_id: "other build"}
        assert stranger.recorded()["mlp"].model_id == owner_id
        installed = Circuit.load(stranger.settings.circuits_dir / "mlp")
        assert binding(installed) == binding(own)
    finally:
        served.close()

    # a consumer or worker tricked into using the copier's id refuses it before any job is posted
    with pytest.raises(ImpostorError, match=f"registered by {copier}"):
        lookup(stranger.settings, stranger.reloaded(), copier_id, installed)
    assert lookup(stranger.settings, stranger.reloaded(), owner_id, installed).bound


def test_the_publishers_own_second_entry_is_not_an_impostor(chain_snapshot: Net, stranger: Stranger, site: Site) -> None:
    """The session model was published by the deployer; the deployer registers it again with a bundle URI."""
    net = chain_snapshot
    by_uri = register_copy(net, "deployer", royalty_bps=100, uri=f"{site.url}/bundle.tar.gz")
    code, out = stranger.cli("model", "pull", str(by_uri), "--json")
    assert code == 0, out
    pulled = json.loads(out)
    assert pulled["source"] == f"{site.url}/bundle.tar.gz" and pulled["impostors"] == []
    assert [(c["model_id"], c["relation"]) for c in pulled["copies"]] == [(net.model_id, "publisher")]
    assert stranger.recorded()["mlp"].model_id == by_uri
    assert not list(stranger.settings.circuits_dir.glob(".pull-*")), "no staging folder is left behind"


@pytest.mark.parametrize("kind", ["file", "private", "metadata", "redirect", "oversize"])
def test_pull_refuses_a_hostile_bundle_uri_and_installs_nothing(
    kind: str, chain_snapshot: Net, stranger: Stranger, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registrant chooses the URI every puller fetches. Each of these worked on e8f580d: a local file was
    read and installed, a redirect to loopback followed, an internal address dialled."""
    net = chain_snapshot
    bundle_file = tmp_path / "local.tar.gz"
    bundle_file.write_bytes(site.bundle)
    uri, problem = {
        "file": (bundle_file.as_uri(), "scheme 'file' is not http or https"),
        "private": ("http://10.255.255.1/mlp.tar.gz", "resolves to 10.255.255.1, a private"),
        "metadata": ("http://169.254.169.254/latest/meta-data/", "resolves to 169.254.169.254, a private"),
        "redirect": (f"{site.url}/redirect", "answered 302, a redirect to 'http://127.0.0.1:"),
        "oversize": (f"{site.url}/streamed-huge", "larger than the 100,000-byte limit"),
    }[kind]
    monkeypatch.setattr(ngx_zk.bundle, "MAX_BUNDLE_BYTES", 100_000)
    model_id = register_copy(net, "deployer", uri=uri)  # the publisher's own entry: only the URI is hostile
    code, out = stranger.cli("model", "pull", str(model_id))
    assert code == 1
    error = error_line(out)
    assert "bundle URI" in error and problem in error and "--bundle FILE" in error
    assert nothing_installed(stranger)
    assert [h for h in site.hits if h.endswith("/bundle.tar.gz")] == [], "a redirect target is never asked"
