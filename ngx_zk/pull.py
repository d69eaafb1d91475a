"""``model pull``: install a published model by its registry id, after checking it against the entry.

A model is addressed by (chain id, model id), never found by scanning for matching hashes: a copy
with the same hashes can name an always-true verifier or pay its royalty to someone else. Pulling:

1. reads entry ``model_id`` and fetches its bundle (:func:`fetch_bundle`: http(s) to a public host
   only, no redirects, bounded in size and time; or a bundle file the user already has), unpacking it
   safely (:mod:`ngx_zk.bundle`). The URI is the registrant's choice, so every puller would otherwise
   fetch whatever it names: ``file://`` paths, the cloud metadata address, hosts on the puller's LAN;
2. checks every hash against the entry: sha256 of ``manifest.json`` (``artifactsHash``, which pins
   every file), ONNX, settings, vk digest, instance counts, SRS flag; refuses circuits above the
   logrows cap and ONNX files the build would refuse;
3. re-renders the verifier from the bundle's key and compares code hashes (:mod:`ngx_zk.provenance`);
4. checks the publisher binding (:mod:`ngx_zk.catalog`): an entry registered by anyone but the
   publisher its manifest binds is an impostor, refused, naming the publisher's own entries;
5. reports every other entry of the model (impostors by id and registrant); registration order is not
   taken for authenticity. A manifest that binds no publisher (published before binding existed)
   with entries by other registrants is refused unless ``accept_copy`` (a person decides);
6. installs the circuit under ``circuits/<name>/`` in one rename and records the id for this chain.
"""

from __future__ import annotations

import http.client
import ipaddress
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from . import bundle as bundles
from . import onnx_model, srs
from .catalog import (
    AmbiguousModelError,
    Copy,
    Relation,
    binds_once_published,
    check_binding,
    copies_report,
    mismatches,
    record_model,
    recorded_id,
)
from .chain.market import Marketplace
from .chain.types import ModelStatus
from .config import Settings
from .endpoint import Endpoint, Resolver, public_address, resolve
from .errors import ChainError, CircuitError, LogrowsCapError
from .provenance import artifacts_hash, require_verifier

Progress = Callable[[str], None]
FETCH_DEADLINE_S = 600.0
"""Longest a whole bundle download may take (a byte a minute would otherwise hold a puller for ever)."""
MAX_URI_CHARS = 2048
_CHUNK = 1 << 20


class BundleMismatchError(CircuitError):
    """A bundle is not the model the registry entry pins."""

    def __init__(self, model_id: int, problems: list[str], hint: str | None = None) -> None:
        super().__init__(
            f"the bundle is not registry model {model_id}: {', '.join(problems)} differ",
            hint or "get the bundle its publisher announced for this id; nothing was installed",
        )
        self.model_id = model_id
        self.problems = problems


class BundleFetchRefusedError(bundles.BundleError):
    """A bundle URI ``model pull`` will not fetch: another scheme, a non-public host, a redirect, too large."""

    def __init__(self, uri: str, problem: str) -> None:
        super().__init__(
            f"bundle URI {uri[:120]!r} refused: {problem}; nothing was installed",
            "get the bundle from the model's publisher and pass --bundle FILE",
        )
        self.uri, self.problem = uri, problem


@dataclass(frozen=True)
class PulledModel:
    name: str
    model_id: int
    chain_id: int
    path: str
    kind: str
    verifier: str
    verifier_code_hash: str
    verifier_allowed: bool
    """Whether the verifier's code is on governance's allow-list (only then do jobs earn rewards and NRS)."""
    owner: str
    royalty_bps: int
    status: ModelStatus
    artifacts_hash: str
    source: str
    publisher: str | None = None
    """The publisher the manifest binds (the entry's registrant; None for a manifest that binds none)."""
    replaced_circuit: bool = False
    previous_id: int | None = None
    """The id recorded for this name before (replaced by this pull), if another."""
    copies: tuple[Copy, ...] = field(default_factory=tuple)
    """Every other entry of this model, each with its relation (impostor, publisher, unbound, other build)."""

    @property
    def impostors(self) -> tuple[Copy, ...]:
        """Entries of this manifest registered by someone other than its bound publisher."""
        return tuple(c for c in self.copies if c.relation is Relation.IMPOSTOR)

    def to_json(self) -> dict[str, object]:
        return {
            **{k: v for k, v in self.__dict__.items() if k != "copies"},
            "status": self.status.value,
            "copies": [c.to_json() for c in self.copies],
            "impostors": [{"model_id": c.model_id, "registrant": c.registrant} for c in self.impostors],
        }


def pull_model(
    settings: Settings,
    market: Marketplace,
    model_id: int,
    *,
    bundle: Path | None = None,
    accept_copy: bool = False,
    replace: bool = False,
    srs_file: Path | None = None,
    progress: Progress = lambda _: None,
) -> PulledModel:
    """Fetch, check and install registry model ``model_id``; record its id for this chain. Installs nothing on any failure."""
    entry = market.model(model_id)
    if entry.insecure_test_srs and not market.dev_chain:
        raise ChainError(
            f"registry model {model_id} was built on a TEST SRS: its proofs are forgeable",
            "test-SRS models are for a local dev chain only",
        )
    source = str(bundle) if bundle is not None else entry.metadata_uri
    staging = bundles.staging_dir(settings)
    try:
        with tempfile.TemporaryDirectory(prefix="ngx-pull-") as tmp:
            if bundle is None:
                progress(f"fetching the bundle from {source}")
                bundle = fetch_bundle(source, Path(tmp) / "bundle.tar.gz", loopback=market.dev_chain)
            progress("unpacking the bundle")
            staged = bundles.unpack(bundle, staging)
        progress("checking the bundle against the registry entry")
        problems = mismatches(settings, entry, staged)
        if problems:
            hint = None
            if binds_once_published(staged, entry):
                hint = (
                    "the bundle was made before `model publish` bound the publisher into manifest.json: ask the "
                    "publisher for one made after (ngx-zk model bundle NAME); nothing was installed"
                )
            raise BundleMismatchError(model_id, problems, hint)
        m = staged.manifest
        if m.logrows > settings.max_logrows:
            raise LogrowsCapError(m.logrows, settings.max_logrows)
        if staged.has_weights:  # a hashed-weights model's ONNX comes with its licence (checked there)
            onnx_model.load_checked(staged.circuit_onnx)  # what the worker will run: refused if a build would refuse it
        if srs_file is not None:
            srs.public_srs(settings, srs_file, m.logrows)
        progress("re-rendering the verifier and comparing code hashes")
        require_verifier(settings, market, entry, staged)
        progress("checking the publisher binding and looking for other entries of this model")
        report = copies_report(market, staged, entry)
        if report.model.impostor:
            check_binding(entry, staged, tuple(c.model_id for c in report.of(Relation.PUBLISHER)))
        unbound_others = report.other_registrants
        if report.model.publisher is None and unbound_others and not accept_copy:
            raise AmbiguousModelError(
                f"registry model {model_id} (registrant {entry.owner}) carries the same artifacts as "
                f"{', '.join(str(c) for c in unbound_others)}, and its manifest binds no publisher: the chain cannot "
                "tell which entry is the publisher's",
                f"confirm the id and its owner with the model's publisher, then pass --accept-copy to use model {model_id}",
                [entry],
            )
        installed, replaced = bundles.install(staged, settings, replace=replace)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = recorded_id(market, installed.name)
    record_model(settings, market, installed, entry)
    return PulledModel(
        installed.name,
        model_id,
        market.chain.chain_id,
        str(installed.path),
        entry.kind.name.lower(),
        entry.verifier,
        "0x" + entry.verifier_code_hash.hex(),
        market.verifier_code_allowed(entry.verifier_code_hash),
        entry.owner,
        entry.royalty_bps,
        entry.status,
        "0x" + artifacts_hash(installed).hex(),
        source,
        report.model.publisher,
        replaced,
        previous if previous != model_id else None,
        report.copies,
    )


def check_bundle_uri(uri: str, *, loopback: bool = False, resolver: Resolver = resolve) -> tuple[Endpoint, str]:
    """Check a registrant-chosen bundle URI; returns where to connect (checked addresses only) and the request target.

    http(s) only, a host, no user info; every address the host resolves to must be public, except
    that ``loopback`` (the local dev chain) allows 127.0.0.0/8 and ::1 (never private, link-local or
    metadata addresses). Raises :class:`BundleFetchRefusedError` naming the problem."""
    if len(uri) > MAX_URI_CHARS or any(ord(ch) < 33 or ord(ch) == 127 for ch in uri):
        raise BundleFetchRefusedError(uri, f"longer than {MAX_URI_CHARS} characters, or spaces or control characters in it")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise BundleFetchRefusedError(uri, f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BundleFetchRefusedError(uri, f"scheme {parts.scheme or '(none)'!r} is not http or https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise BundleFetchRefusedError(uri, "it carries user info (user@host)")
    host = parts.hostname or ""
    if not host:
        raise BundleFetchRefusedError(uri, "it names no host")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = tuple(resolver(host, port))
    except (OSError, UnicodeError) as exc:
        raise BundleFetchRefusedError(uri, f"host {host!r} does not resolve ({exc})") from None
    if not addresses:
        raise BundleFetchRefusedError(uri, f"host {host!r} resolves to no address")
    for address in addresses:
        if not public_address(address) and not (loopback and ipaddress.ip_address(address).is_loopback):
            raise BundleFetchRefusedError(
                uri,
                f"host {host!r} resolves to {address}, a private, loopback, link-local, multicast or reserved address"
                + ("" if loopback else " (loopback only on the local dev chain)"),
            )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Endpoint(uri, scheme, host, port, parts.path, addresses), target


def fetch_bundle(
    uri: str,
    dest: Path,
    *,
    loopback: bool = False,
    max_bytes: int | None = None,
    timeout_s: float = bundles.FETCH_TIMEOUT_S,
    deadline_s: float = FETCH_DEADLINE_S,
    resolver: Resolver = resolve,
) -> Path:
    """Download the bundle at ``uri`` to ``dest`` under :func:`check_bundle_uri`'s rules.

    The connection dials a checked address (no second lookup), a redirect of any kind is refused,
    and the body may hold at most ``max_bytes`` (default :data:`ngx_zk.bundle.MAX_BUNDLE_BYTES`) and take
    at most ``deadline_s`` (``timeout_s`` per read)."""
    max_bytes = bundles.MAX_BUNDLE_BYTES if max_bytes is None else max_bytes
    endpoint, target = check_bundle_uri(uri, loopback=loopback, resolver=resolver)
    started = time.monotonic()
    conn = endpoint.connection(timeout_s)
    try:
        conn.request("GET", target, headers={"User-Agent": "ngx-zk", "Accept-Encoding": "identity"})
        resp = conn.getresponse()
        if 300 <= resp.status < 400:
            where = (resp.getheader("Location") or "")[:120]
            raise BundleFetchRefusedError(uri, f"it answered {resp.status}, a redirect to {where!r}: redirects are not followed")
        if resp.status != 200:
            raise bundles.BundleError(
                f"cannot download the bundle from {uri[:120]}: HTTP {resp.status} {resp.reason[:60]}",
                "try again later, or pass --bundle FILE",
            )
        declared = resp.getheader("Content-Length")
        if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
            raise BundleFetchRefusedError(uri, f"it is {int(declared):,} bytes, above the {max_bytes:,}-byte limit")
        total = 0
        with dest.open("wb") as out:
            while chunk := resp.read(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise BundleFetchRefusedError(uri, f"its body is larger than the {max_bytes:,}-byte limit")
                if time.monotonic() - started > deadline_s:
                    raise BundleFetchRefusedError(uri, f"the download took longer than {deadline_s:.0f} s")
                out.write(chunk)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, timed out, TLS, a malformed answer
        raise bundles.BundleError(
            f"cannot download the bundle from {uri[:120]}: {exc}", "try again later, or pass --bundle FILE"
        ) from None
    finally:
        conn.close()
    return dest
