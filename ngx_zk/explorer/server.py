"""The explorer's HTTP server (standard library only): ``/api/v1/`` as JSON, the pages from ``static/``.

Every API answer is JSON; a bad parameter is a 400, an unknown id or path a 404, each as
``{"error": {"status": ..., "message": ...}}``. The pages are one HTML shell and one script that
render whatever path they were opened on, so every page URL can be bookmarked and reloaded.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ..errors import NgxZkError
from . import openapi, views
from .db import Database
from .indexer import Indexer

if TYPE_CHECKING:
    from ..auditor import Verdict
    from ..chain.market import Marketplace
    from ..config import Settings

log = logging.getLogger(__name__)

STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
PAGES = re.compile(
    r"^/(?:|jobs|jobs/\d+|providers|providers/0x[0-9a-fA-F]{40}|models|models/\d+|consumers|consumers/0x[0-9a-fA-F]{40})$"
)
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Explorer:
    """What the handlers read: the database, and (optionally) the chain for live figures and re-verification."""

    db: Database
    indexer: Indexer | None = None
    market: Marketplace | None = None
    settings: Settings | None = None
    head: int | None = None
    verify_lock: threading.Lock = field(default_factory=threading.Lock)

    def model_names(self) -> dict[int, str]:
        """Registry id -> the local circuit name this machine published or pulled it as."""
        if self.market is None:
            return {}
        return {int(r["model_id"]): name for name, r in self.market.deployment.models.items() if "model_id" in r}

    def local_circuits(self) -> dict[int, dict[str, Any]]:
        """Registry id -> name, logrows and batch size of the local circuit (name only if it is not built here)."""
        from ..circuit import load_circuit

        found: dict[int, dict[str, Any]] = {}
        for model_id, name in self.model_names().items():
            found[model_id] = {"name": name}
            if self.settings is not None:
                try:
                    manifest = load_circuit(name, self.settings).manifest
                    found[model_id].update(logrows=manifest.logrows, batch=manifest.batch)
                except NgxZkError:
                    pass
        return found

    def decoded_outputs(self, job: dict[str, Any]) -> list[list[float]] | None:
        """A settled job's public outputs as numbers, one list per inference, decoded with the local circuit's
        output scales; None when they are hashed or this server has no circuit for the model."""
        from ..circuit import load_circuit
        from ..prover import outputs_from_felts

        name = self.model_names().get(int(job["model_id"]))
        if not job.get("outputs") or name is None or self.settings is None:
            return None
        try:
            m = load_circuit(name, self.settings).manifest
        except NgxZkError:
            return None
        felts = [int(v) for v in job["outputs"]]
        if m.visibility.output != "public" or len(felts) != m.output_instance_count:
            return None
        return m.per_inference(list(outputs_from_felts(m, felts)))

    def reverify(self, job_id: int) -> Verdict:
        from ..auditor import audit_job
        from ..circuit import load_circuit

        if self.market is None or self.settings is None:
            raise ApiError(409, "this explorer runs without a chain connection: start it with --rpc to re-verify")
        job = views.get_job(self.db, job_id)
        if job is None:
            raise ApiError(404, f"job {job_id} is not indexed")
        if job["status"] != "Settled":
            raise ApiError(409, f"job {job_id} is {job['status']}: only a settled job carries a proof to verify")
        name = self.model_names().get(int(job["model_id"]))
        if name is None:
            raise ApiError(
                409,
                f"model {job['model_id']} has no local circuit on this server: `ngx-zk model pull {job['model_id']}` installs it",
            )
        try:
            circuit = load_circuit(name, self.settings)
            with self.verify_lock:  # proving-system work is CPU-bound: one at a time
                return audit_job(self.settings, self.market, circuit, job_id)
        except NgxZkError as exc:
            raise ApiError(409, str(exc)) from None


def _int(query: dict[str, list[str]], name: str, default: int | None, low: int, high: int | None = None) -> int | None:
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise ApiError(400, f"{name}={values[-1]!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        raise ApiError(400, f"{name}={value} is out of range ({low}..{high if high is not None else ''})")
    return value


def _choice(query: dict[str, list[str]], name: str, choices: tuple[str, ...]) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if values[-1] not in choices:
        raise ApiError(400, f"{name}={values[-1]!r} is not one of {', '.join(choices)}")
    return values[-1]


def _address(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not ADDRESS.match(value):
        raise ApiError(400, f"{name}={value!r} is not an address (0x and 40 hex digits)")
    return value.lower()


KNOWN_PARAMS = {
    "jobs": {"status", "outcome", "provider", "consumer", "model", "limit", "offset"},
    "providers/": {"bucket"},
    "stats": {"bucket"},
}


def route(app: Explorer, method: str, path: str, query: dict[str, list[str]]) -> Any:
    """The JSON answer for an API request (raises :class:`ApiError`)."""
    parts = path.removeprefix("/api/v1/").strip("/").split("/")
    head = parts[0]
    allowed = KNOWN_PARAMS.get(head + ("/" if len(parts) > 1 else ""), set())
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise ApiError(400, f"unknown query parameter(s): {', '.join(unknown)}")
    if method == "POST":
        if len(parts) == 3 and head == "jobs" and parts[2] == "verify" and parts[1].isdigit():
            verdict = app.reverify(int(parts[1]))
            return {
                "job_id": verdict.job_id,
                "model": verdict.model,
                "valid": verdict.valid,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks],
                "outputs": list(verdict.outputs),
            }
        raise ApiError(405 if _known_get(parts) else 404, f"POST {path} is not an API action")
    if parts == ["openapi.json"]:
        return openapi.document()
    if parts == ["status"]:
        return status(app)
    if parts == ["jobs"]:
        where = views.JobFilter(
            status=_choice(query, "status", views.STATUSES),
            outcome=_choice(query, "outcome", views.OUTCOMES),
            provider=_address(query.get("provider", [None])[-1], "provider"),
            consumer=_address(query.get("consumer", [None])[-1], "consumer"),
            model_id=_int(query, "model", None, 1),
        )
        return views.list_jobs(app.db, where, _int(query, "limit", 50, 1, 500) or 50, _int(query, "offset", 0, 0) or 0)
    if head == "jobs" and len(parts) == 2:
        job = views.get_job(app.db, _path_int(parts[1], "job id"))
        if job is not None:
            job["output_values"] = app.decoded_outputs(job)
        return _found(job, f"job {parts[1]} is not indexed")
    if parts == ["providers"]:
        return views.list_providers(app.db, app.market)
    if head == "providers" and len(parts) == 2:
        address = _address(parts[1], "address")
        assert address is not None
        bucket = _int(query, "bucket", 3600, 60, 2_592_000) or 3600
        return _found(views.provider_detail(app.db, address, app.market, bucket), f"provider {address} is not indexed")
    if parts == ["models"]:
        return views.list_models(app.db, app.market, app.local_circuits())
    if head == "models" and len(parts) == 2:
        model_id = _path_int(parts[1], "model id")
        return _found(views.model_summary(app.db, model_id, app.market, app.local_circuits()), f"model {model_id} is not indexed")
    if parts == ["consumers"]:
        return views.list_consumers(app.db)
    if head == "consumers" and len(parts) == 2:
        address = _address(parts[1], "address")
        assert address is not None
        return _found(views.consumer_detail(app.db, address, app.market), f"consumer {address} has no indexed jobs")
    if parts == ["stats"]:
        return views.stats(app.db, _int(query, "bucket", None, 60, 2_592_000))
    raise ApiError(404, f"no API endpoint {path} (see /api/v1/openapi.json)")


def _known_get(parts: list[str]) -> bool:
    return parts[0] in ("jobs", "providers", "models", "consumers", "stats", "status", "openapi.json")


def _path_int(text: str, what: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ApiError(400, f"{what} {text!r} is not a positive integer")
    return int(text)


def _found(value: dict[str, Any] | None, message: str) -> dict[str, Any]:
    if value is None:
        raise ApiError(404, message)
    return value


def status(app: Explorer) -> dict[str, Any]:
    indexed = int(app.db.get_meta("cursor") or 0)
    head = app.head
    if app.indexer is not None:
        contracts = app.indexer.events.contracts
        chain_id, confirmations = app.indexer.chain.chain_id, app.indexer.confirmations
    else:
        contracts, chain_id, confirmations = {}, int((app.db.get_meta("deployment") or "0:").split(":")[0]), 0
    return {
        "chain_id": chain_id,
        "indexed_block": indexed,
        "head": head,
        "lag_blocks": None if head is None else max(0, head - indexed),
        "confirmations": confirmations,
        "contracts": contracts,
    }


def make_handler(app: Explorer) -> type[BaseHTTPRequestHandler]:
    static = resources.files("ngx_zk.explorer").joinpath("static")

    class Handler(BaseHTTPRequestHandler):
        server_version = "ngx-zk-explorer"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            try:
                self._answer(method)
            finally:
                app.db.release()

        def _answer(self, method: str) -> None:
            url = urlsplit(self.path)
            if url.path.startswith("/api/"):
                try:
                    if not url.path.startswith("/api/v1/"):
                        raise ApiError(404, f"no API at {url.path}: the API lives under /api/v1/")
                    if method == "POST":
                        length = int(self.headers.get("Content-Length") or 0)
                        if length > 1024:
                            raise ApiError(413, "request body too large (the actions take no body)")
                        self.rfile.read(length)
                    query = parse_qs(url.query, keep_blank_values=True)
                    self._json(200, route(app, method, url.path, query))
                except ApiError as exc:
                    self._json(exc.status, {"error": {"status": exc.status, "message": exc.message}})
                except Exception as exc:  # a bug or a database fault: still a JSON answer
                    log.exception("explorer: %s %s", method, url.path)
                    self._json(500, {"error": {"status": 500, "message": f"internal error: {type(exc).__name__}"}})
                return
            if method != "GET":
                self._send(405, b"method not allowed", "text/plain")
                return
            if url.path.startswith("/static/"):
                name = url.path.removeprefix("/static/")
                suffix = "." + name.rpartition(".")[2]
                if "/" not in name and suffix in STATIC_TYPES and static.joinpath(name).is_file():
                    self._send(200, static.joinpath(name).read_bytes(), STATIC_TYPES[suffix])
                    return
            elif PAGES.match(url.path):
                self._send(200, static.joinpath("index.html").read_bytes(), STATIC_TYPES[".html"])
                return
            self._send(
                404, b"<!doctype html><title>not found</title><p>Not found. <a href='/'>Overview</a>", STATIC_TYPES[".html"]
            )

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

    return Handler


class ExplorerServer:
    """The HTTP server and, when there is a chain, the indexer following it in a background thread."""

    def __init__(self, app: Explorer, host: str = "127.0.0.1", port: int = 8080, *, poll_s: float = 1.0) -> None:
        self.app = app
        self.httpd = ThreadingHTTPServer((host, port), make_handler(app))
        self.httpd.daemon_threads = True
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, on_sync: Callable[[Any], None] | None = None) -> None:
        indexer = self.app.indexer
        if indexer is not None:

            def synced(result: Any) -> None:
                self.app.head = result.head
                if on_sync is not None:
                    on_sync(result)

            self._threads.append(
                threading.Thread(
                    target=indexer.follow,
                    args=(self._stop,),
                    kwargs={"poll_s": self.poll_s, "on_sync": synced},
                    name="indexer",
                    daemon=True,
                )
            )
        self._threads.append(threading.Thread(target=self.httpd.serve_forever, name="http", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=10)


__all__ = ["ApiError", "Explorer", "ExplorerServer", "route"]
