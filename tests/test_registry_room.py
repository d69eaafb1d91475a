"""The registry room without a chain (issue 22 step 4, issue 23 items 2 and 9): the typed deployments
record (old files still load), the publisher binding in ``manifest.json``, and the rules ``model pull``
fetches a registrant-chosen bundle URI by (http(s) to public hosts, no redirects, bounded).

The same attacks played through ``model pull`` on anvil are in ``tests/test_pull_trust.py``.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ngx_zk.artifacts import MANIFEST, Circuit, sha256_file
from ngx_zk.bundle import BundleError, make_bundle
from ngx_zk.catalog import PUBLISHER_KEY, PublisherBindingError, bind_publisher, binding, check_publisher
from ngx_zk.chain import deployment
from ngx_zk.chain.deployment import RecordedModel
from ngx_zk.config import Settings
from ngx_zk.errors import DeploymentError
from ngx_zk.pull import BundleFetchRefusedError, check_bundle_uri, fetch_bundle

OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def unbound_copy(circuit: Circuit, folder: Path) -> Circuit:
    """``circuit`` copied to ``folder`` as it was before any ``model publish``: its manifest binds no publisher
    (what a second builder of the same model has)."""
    shutil.copytree(circuit.path, folder)
    data = json.loads((folder / MANIFEST).read_text())
    data.pop(PUBLISHER_KEY, None)
    (folder / MANIFEST).write_text(json.dumps(data, indent=2) + "\n")
    return Circuit.load(folder)


# --- Deployment.models: typed, and files written by earlier releases still load -------------------------
OLD_FILE = {
    "chain_id": 31337,
    "contracts": {"ModelRegistry": "0x" + "11" * 20},
    "block": 3,
    "deployer": OWNER,
    "dev": True,
    "models": {
        # as the first marketplace release wrote it
        "mlp": {"model_id": 1, "kind": "dedicated", "verifier": "0x" + "22" * 20, "vk_digest": "0x" + "33" * 32},
        # as issue 11's release wrote it, with the measured gas of a later one
        "tiny": {
            "model_id": 4,
            "kind": "reusable",
            "verifier": "0x" + "44" * 20,
            "vk_digest": "0x" + "55" * 32,
            "verifier_code_hash": "0x" + "66" * 32,
            "artifacts_hash": "0x" + "77" * 32,
            "owner": OWNER,
            "verification_gas": 812_345,
        },
    },
}


def test_an_old_deployments_file_loads_typed_and_saves_back_readable(settings: Settings) -> None:
    path = deployment.path_for(settings, 31337)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(OLD_FILE))

    loaded = deployment.load(settings, 31337)
    assert loaded.models["mlp"] == RecordedModel(1, "dedicated", "0x" + "22" * 20, "0x" + "33" * 32)
    tiny = loaded.models["tiny"]
    assert (tiny.model_id, tiny.kind, tiny.owner, tiny.verification_gas, tiny.publisher) == (4, "reusable", OWNER, 812_345, "")
    assert loaded.model_id("tiny") == 4 and loaded.model_id("ghost") is None

    deployment.save(settings, loaded)
    assert json.loads(path.read_text()) == OLD_FILE, "a load and save changes nothing an older release reads"


def test_a_deployment_built_with_plain_dicts_is_typed_too() -> None:
    built = deployment.Deployment(1, {}, 0, OWNER, False, models={"mlp": {"model_id": 7}})
    assert built.models["mlp"] == RecordedModel(7)


@pytest.mark.parametrize("models", [{"mlp": {"kind": "dedicated"}}, {"mlp": {"model_id": "seven"}}, ["mlp"]])
def test_a_corrupt_model_record_is_one_line_naming_the_file(settings: Settings, models: object) -> None:
    path = deployment.path_for(settings, 31337)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**OLD_FILE, "models": models}))
    with pytest.raises(DeploymentError, match="is corrupt") as refused:
        deployment.load(settings, 31337)
    assert str(path) in str(refused.value) and "\n" not in str(refused.value)


# --- the publisher binding --------------------------------------------------------------------------------
def test_binding_the_publisher_changes_the_artifacts_hash_and_nothing_else(mlp_circuit: Circuit, tmp_path: Path) -> None:
    circuit = unbound_copy(mlp_circuit, tmp_path / "mlp")
    before = binding(circuit)
    assert before.publisher is None and before.artifacts_hash.hex() == sha256_file(circuit.path / MANIFEST)
    assert check_publisher(circuit, OWNER) is False

    bound = bind_publisher(circuit, OWNER.lower())
    after = binding(bound)
    assert after.publisher == OWNER, "stored checksummed, whatever case it was given in"
    assert after.artifacts_hash != before.artifacts_hash and after.artifacts_hash.hex() == sha256_file(bound.path / MANIFEST)
    assert bound.manifest == circuit.manifest
    bound.check()  # every file still matches the manifest
    assert bind_publisher(bound, OWNER) == bound and binding(bound) == after, "binding again is a no-op"

    with pytest.raises(PublisherBindingError, match=f"binds publisher {OWNER}.*registered by {OTHER} would be an impostor"):
        bind_publisher(bound, OTHER)
    assert binding(bound) == after, "a refused binding leaves the manifest as it was"
    assert not list(bound.path.glob(".*tmp")), "no temporary file is left behind"


# --- fetching a registrant-chosen bundle URI ---------------------------------------------------------------
class Site:
    """A local web server: a bundle, a redirect to another local server that also serves it, oversize bodies."""

    def __init__(self, bundle: bytes) -> None:
        self.bundle = bundle
        self.hits: list[str] = []
        self.target = _serve(self._handler(redirect_to=None), self.hits)
        self.base = _serve(self._handler(redirect_to=self.target[0]), self.hits)

    @property
    def url(self) -> str:
        return self.base[0]

    def _handler(self, redirect_to: str | None) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits.append(f"{self.server.server_address[1]}{self.path}")  # type: ignore[index]
                if self.path == "/redirect" and redirect_to:
                    self.send_response(302)
                    self.send_header("Location", f"{redirect_to}/bundle.tar.gz")
                    self.end_headers()
                elif self.path == "/bundle.tar.gz":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(site.bundle)))
                    self.end_headers()
                    self.wfile.write(site.bundle)
                elif self.path == "/declared-huge":
                    self.send_response(200)
                    self.send_header("Content-Length", str(10**12))
                    self.end_headers()
                elif self.path == "/streamed-huge":  # no Content-Length: the body ends when the connection closes
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(64):
                        self.wfile.write(b"\0" * 16_384)
                else:
                    self.send_error(404)

            def log_message(self, *_: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        for _, server in (self.base, self.target):
            server.shutdown()
            server.server_close()


def _serve(handler: type[BaseHTTPRequestHandler], hits: list[str]) -> tuple[str, ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture
def site(mlp_circuit: Circuit, tmp_path: Path) -> Iterator[Site]:
    served = Site(make_bundle(mlp_circuit, tmp_path / "mlp.tar.gz").path.read_bytes())
    try:
        yield served
    finally:
        served.close()


def test_an_honest_bundle_is_fetched_over_http_on_the_dev_chains_loopback(site: Site, tmp_path: Path) -> None:
    got = fetch_bundle(f"{site.url}/bundle.tar.gz", tmp_path / "got.tar.gz", loopback=True)
    assert got.read_bytes() == site.bundle


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("file:///etc/passwd", "scheme 'file' is not http or https"),
        ("ftp://example.org/mlp.tar.gz", "scheme 'ftp' is not http or https"),
        ("http://10.1.2.3/mlp.tar.gz", "resolves to 10.1.2.3, a private"),
        ("http://169.254.169.254/latest/meta-data/", "resolves to 169.254.169.254, a private, loopback, link-local"),
        ("http://[::ffff:192.168.0.1]/x", "resolves to ::ffff:192.168.0.1"),
        ("http://user:pw@example.org/x", "user info"),
    ],
)
def test_a_bundle_uri_to_another_scheme_or_a_non_public_host_is_refused_before_any_connection(
    uri: str, problem: str, tmp_path: Path
) -> None:
    with pytest.raises(BundleFetchRefusedError, match=problem) as refused:
        fetch_bundle(uri, tmp_path / "x.tar.gz", loopback=True)  # even on the dev chain
    assert "\n" not in str(refused.value) and "--bundle FILE" in str(refused.value)
    assert not (tmp_path / "x.tar.gz").exists()


def test_loopback_is_refused_off_the_dev_chain_and_names_resolve_before_the_check(tmp_path: Path) -> None:
    with pytest.raises(BundleFetchRefusedError, match="loopback only on the local dev chain"):
        fetch_bundle("http://127.0.0.1:9/x", tmp_path / "x.tar.gz")
    with pytest.raises(BundleFetchRefusedError, match=r"'bundles\.example' resolves to 10\.0\.0\.7"):
        check_bundle_uri("https://bundles.example/m.tgz?sig=1", resolver=lambda host, port: ["93.184.215.14", "10.0.0.7"])
    endpoint, target = check_bundle_uri("https://bundles.example/m.tgz?sig=1", resolver=lambda host, port: ["93.184.215.14"])
    assert endpoint.addresses == ("93.184.215.14",) and target == "/m.tgz?sig=1", "the connection dials the checked address"


def test_a_redirect_is_refused_and_its_target_never_asked(site: Site, tmp_path: Path) -> None:
    with pytest.raises(
        BundleFetchRefusedError, match=r"answered 302, a redirect to 'http://127\.0\.0\.1:.*redirects are not followed"
    ):
        fetch_bundle(f"{site.url}/redirect", tmp_path / "x.tar.gz", loopback=True)
    assert [h for h in site.hits if h.endswith("/bundle.tar.gz")] == []


@pytest.mark.parametrize(
    ("path", "problem"), [("declared-huge", "1,000,000,000,000 bytes, above"), ("streamed-huge", "larger than")]
)
def test_an_oversize_body_is_refused(site: Site, tmp_path: Path, path: str, problem: str) -> None:
    with pytest.raises(BundleFetchRefusedError, match=f"{problem} the 100,000-byte limit"):
        fetch_bundle(f"{site.url}/{path}", tmp_path / "x.tar.gz", loopback=True, max_bytes=100_000)


def test_an_unreachable_host_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"cannot download the bundle from http://127\.0\.0\.1:9/x") as failed:
        fetch_bundle("http://127.0.0.1:9/x", tmp_path / "x.tar.gz", loopback=True, timeout_s=5)
    assert "\n" not in str(failed.value)
