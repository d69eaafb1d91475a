"""The explorer's routes on FastAPI: ``/api/v1/`` as JSON, the pages from ``static/``.

Every API answer is JSON; a bad parameter is a 400, an unknown id or path a 404, each as
``{"error": {"status": ..., "message": ...}}``. The pages are one HTML shell and one script that
render whatever path they were opened on, so every page URL can be bookmarked and reloaded; any other
path gets the styled not-found page. The only action, re-verify, is refused to other sites (403) and
queued with a bound (429 beyond it).
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from . import openapi as o
from . import views
from .app import ApiError, Explorer
from .proofs import served_proof

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

MAX_BODY_BYTES = 1024
"""The largest request body accepted: the API's one action takes none."""
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
PAGES = re.compile(
    r"^/(?:|jobs|jobs/\d+|providers|providers/0x[0-9a-fA-F]{40}|models|models/\d+|consumers|consumers/0x[0-9a-fA-F]{40}|anomalies)$"
)
ANY_CASE_ADDRESS = r"^0x[0-9a-fA-F]{40}$"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
"""Content types a cross-site HTML form can send without asking the server first (no CORS preflight)."""
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def error(status: int, message: str, *, close: bool = False) -> JSONResponse:
    headers = {**HEADERS, "Connection": "close"} if close else HEADERS
    return JSONResponse({"error": {"status": status, "message": message}}, status, headers=headers)


class BoundedBody:
    """Refuses a declared body over ``max_bytes`` before reading a byte of it (413), and stops reading
    a body sent without a declared length once it passes the bound."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and int(declared) > self.max_bytes:  # h11 has already refused non-digits
            await error(
                413, f"request body too large ({int(declared)} bytes; the API takes at most {self.max_bytes})", close=True
            )(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                return {"type": "http.disconnect"}  # the endpoint sees a client that went away
            return message

        await self.app(scope, bounded, send)


def _only(*names: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency refusing query parameters other than ``names`` (async: no thread hop for a set difference)."""
    allowed = set(names)

    async def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise ApiError(400, f"unknown query parameter(s): {', '.join(unknown)}")

    return check


def _cross_site(request: Request) -> str | None:
    """Why this POST may come from another site's page (None when it comes from ours or from no browser)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site not in (None, "same-origin", "none"):
        return f"Sec-Fetch-Site: {fetch_site}"
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc.lower() != (request.headers.get("host") or "").lower():
        return f"Origin {origin}"
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        return f"a form's content type ({content_type})"
    return None


# FastAPI binds a parameter object to the first parameter it is used for: each route gets fresh ones
def _limit() -> Any:
    return Query(50, ge=1, le=500, description="page size")


def _offset() -> Any:
    return Query(0, ge=0, description="rows to skip")


def _id(what: str) -> Any:
    return Path(ge=1, description=what)


def _address() -> Any:
    return Path(pattern=ANY_CASE_ADDRESS, description="an address (any letter case)")


STATUS = Query(None, description="the job's status on chain")
OUTCOME = Query(None, description="like status, but a provider's decline is `declined`")
BUCKET = Query(3600, ge=60, le=2_592_000, description="seconds per time bucket")
ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": o.Error, "description": "a bad parameter"}}
FOUND: dict[int | str, dict[str, Any]] = {**ERRORS, 404: {"model": o.Error, "description": "not indexed"}}


def create_app(explorer: Explorer | None) -> FastAPI:
    """The ASGI app over ``explorer`` (None: routes only, for the OpenAPI document)."""
    api = FastAPI(
        title="ngx-zk explorer API",
        version=__version__,
        description="The NeuroGrid market's indexed events. Amounts are wei as decimal strings; addresses lower case.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    static = resources.files("ngx_zk.explorer").joinpath("static")

    def ex() -> Explorer:
        if explorer is None:
            raise ApiError(503, "no explorer behind this app")
        return explorer

    @api.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error(exc.status, exc.message)

    @api.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        problems = [f"{e['loc'][-1]}={e.get('input')!r}: {e['msg']}" if e.get("loc") else str(e["msg"]) for e in exc.errors()]
        return error(400, "; ".join(problems))

    @api.exception_handler(StarletteHTTPException)
    async def not_routed(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        if path.startswith("/api/"):
            if not path.startswith("/api/v1/"):
                return error(404, f"no API at {path}: the API lives under /api/v1/")
            if exc.status_code == 405:
                return error(405, f"{request.method} {path} is not an API action")
            return error(exc.status_code, f"no API endpoint {path} (see /api/v1/openapi.json)")
        if exc.status_code == 405:
            return Response("method not allowed", 405, media_type="text/plain", headers=HEADERS)
        return HTMLResponse(static.joinpath("404.html").read_bytes(), exc.status_code, headers=HEADERS)

    @api.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:  # a bug or a database fault: still JSON
        return error(500, f"internal error: {type(exc).__name__}")

    @api.get("/api/v1/status", response_model=o.IndexStatus, summary="The indexer's progress against the chain")
    def status(_: None = Depends(_only())) -> dict[str, Any]:
        return ex().status()

    @api.get("/api/v1/jobs", response_model=o.JobList, responses=ERRORS, summary="Jobs, newest first, filtered and paged")
    def jobs(
        status: o.Status | None = STATUS,
        outcome: o.Outcome | None = OUTCOME,
        provider: str | None = Query(None, pattern=ANY_CASE_ADDRESS, description="jobs claimed by this provider"),
        consumer: str | None = Query(None, pattern=ANY_CASE_ADDRESS, description="jobs posted by this consumer"),
        model: int | None = Query(None, ge=1, description="jobs for this registry model id"),
        limit: int = _limit(),
        offset: int = _offset(),
        _: None = Depends(_only("status", "outcome", "provider", "consumer", "model", "limit", "offset")),
    ) -> dict[str, Any]:
        where = views.JobFilter(status, outcome, provider and provider.lower(), consumer and consumer.lower(), model)
        return views.list_jobs(ex().db, where, limit, offset, ex().model_names())

    @api.get(
        "/api/v1/jobs/{job_id}",
        response_model=o.JobDetail,
        responses=FOUND,
        summary="One job: timeline, price split, commitments, outputs, proof size, verifier",
    )
    def job(job_id: int = _id("the job id"), _: None = Depends(_only())) -> dict[str, Any]:
        return ex().job(job_id)

    def proof(job_id: int = _id("the job id"), _: None = Depends(_only())) -> dict[str, Any]:
        return _found(
            served_proof(ex().db, job_id),
            f"no mirrored proof of job {job_id}: only optimistic jobs' proofs are mirrored, once their provider served them",
        )

    for path in ("/api/jobs/{job_id}/proof", "/api/v1/jobs/{job_id}/proof"):  # the first is the provider's own shape of URL
        api.get(
            path,
            response_model=o.ServedProof,
            responses=FOUND,
            summary="An optimistic job's committed proof, mirrored from its provider (what `ngx-zk watch --explorer` asks)",
        )(proof)

    @api.post(
        "/api/v1/jobs/{job_id}/verify",
        response_model=o.Verdict,
        responses={
            403: {"model": o.Error, "description": "sent from another site's page"},
            404: {"model": o.Error, "description": "no such job"},
            409: {"model": o.Error, "description": "not settled, or its circuit is not built on this server"},
            429: {"model": o.Error, "description": "the re-verify queue is full: try again later"},
        },
        summary="Re-verify a settled job on the server (the auditor: `ngx-zk verify --job`), check by check",
    )
    async def verify(request: Request, job_id: int = _id("the job id"), _: None = Depends(_only())) -> dict[str, Any]:
        why = _cross_site(request)
        if why is not None:
            raise ApiError(403, f"re-verify is refused to other sites' pages ({why})")
        app = ex()
        with app.queue.slot():  # raises 429 when full; taken and given back on the event loop
            return await run_in_threadpool(app.reverify, job_id)

    @api.get(
        "/api/v1/providers",
        response_model=o.ProviderList,
        responses=ERRORS,
        summary="Providers, paged: jobs, earnings, live stake and NRS",
    )
    def providers(limit: int = _limit(), offset: int = _offset(), _: None = Depends(_only("limit", "offset"))) -> dict[str, Any]:
        return views.list_providers(ex().db, ex().live, limit, offset)

    @api.get(
        "/api/v1/providers/{address}",
        response_model=o.ProviderDetail,
        responses=FOUND,
        summary="One provider, with earnings over time",
    )
    def provider(address: str = _address(), bucket: int = BUCKET, _: None = Depends(_only("bucket"))) -> dict[str, Any]:
        app = ex()
        found = views.provider_detail(app.db, address, app.live, bucket, app.model_names())
        return _found(found, f"provider {address.lower()} is not indexed")

    @api.get("/api/v1/models", response_model=o.ModelList, responses=ERRORS, summary="Registry entries, paged")
    def models(limit: int = _limit(), offset: int = _offset(), _: None = Depends(_only("limit", "offset"))) -> dict[str, Any]:
        return views.list_models(ex().db, ex().live, ex().local_circuits(), limit, offset)

    @api.get("/api/v1/models/{model_id}", response_model=o.RegistryModel, responses=FOUND, summary="One registry entry")
    def model(model_id: int = _id("the registry model id"), _: None = Depends(_only())) -> dict[str, Any]:
        found = views.model_summary(ex().db, model_id, ex().live, ex().local_circuits())
        return _found(found, f"model {model_id} is not indexed")

    @api.get("/api/v1/consumers", response_model=o.ConsumerList, responses=ERRORS, summary="Consumers and their records, paged")
    def consumers(limit: int = _limit(), offset: int = _offset(), _: None = Depends(_only("limit", "offset"))) -> dict[str, Any]:
        return views.list_consumers(ex().db, limit, offset)

    @api.get("/api/v1/consumers/{address}", response_model=o.ConsumerDetail, responses=FOUND, summary="One consumer and its jobs")
    def consumer(address: str = _address(), _: None = Depends(_only())) -> dict[str, Any]:
        app = ex()
        found = views.consumer_detail(app.db, address, app.live, app.model_names())
        return _found(found, f"consumer {address.lower()} has no indexed jobs")

    @api.get(
        "/api/v1/anomalies",
        response_model=o.Anomalies,
        summary="Actors flagged by anomaly detection (wash rings, junk inputs, self-dealing, decline harvesting), with evidence",
        responses={404: {"model": o.Error, "description": "this explorer runs no anomaly detection"}},
    )
    def anomalies(_: None = Depends(_only())) -> dict[str, Any]:
        return ex().anomalies()

    @api.get("/api/v1/stats", response_model=o.Stats, responses=ERRORS, summary="Market stats over time")
    def stats(
        bucket: int | None = Query(
            None,
            ge=60,
            le=2_592_000,
            description="seconds per time bucket (default: the smallest of 1 min, 5 min, 15 min, 1 h, 6 h, 1 d, 7 d, "
            "30 d giving at most 40)",
        ),
        _: None = Depends(_only("bucket")),
    ) -> dict[str, Any]:
        return views.stats(ex().db, bucket)

    @api.get("/{path:path}", include_in_schema=False)
    def pages(path: str) -> Response:
        url = "/" + path
        if url.startswith("/api/"):
            raise StarletteHTTPException(404)
        if url.startswith("/static/"):
            name = url.removeprefix("/static/")
            suffix = "." + name.rpartition(".")[2]
            if "/" not in name and suffix in STATIC_TYPES and static.joinpath(name).is_file():
                return Response(static.joinpath(name).read_bytes(), media_type=STATIC_TYPES[suffix], headers=HEADERS)
        elif PAGES.match(url):
            return Response(static.joinpath("index.html").read_bytes(), media_type=STATIC_TYPES[".html"], headers=HEADERS)
        raise StarletteHTTPException(404)

    _strip_validation_schemas(api)
    return api


def _found(value: dict[str, Any] | None, message: str) -> dict[str, Any]:
    if value is None:
        raise ApiError(404, message)
    return value


def _strip_validation_schemas(api: FastAPI) -> None:
    """FastAPI documents a 422 for every parameter; this API answers a bad parameter with a 400 :class:`Error`."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            doc = build()
            for item in doc["paths"].values():
                for operation in item.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = doc.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            api.openapi_schema = doc
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, as the server serves it (built from the routes and the models of :mod:`.openapi`)."""
    return create_app(None).openapi()


__all__ = ["MAX_BODY_BYTES", "ApiError", "BoundedBody", "create_app", "openapi_document"]
