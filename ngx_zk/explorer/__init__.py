"""The explorer: the market's events in a database, a JSON API over them, and web pages.

Read in this order: :mod:`.db` (one schema for SQLite and PostgreSQL), :mod:`.indexer` (chain logs ->
rows, decoded by ABI at run time; resumes, rewinds on a reorg), :mod:`.views` (jobs, providers,
models, consumers and stats derived from event and field names, every list paged), :mod:`.live`
(live figures from the chain, cached with a time-to-live), :mod:`.openapi` (the answers as typed
models), :mod:`.app` (the state the routes read: database, chain, the bounded re-verify queue),
:mod:`.api` (the FastAPI routes: ``/api/v1/``, the pages under ``static/``, the OpenAPI document built
from the typed models) and :mod:`.server` (the HTTP server and its bounds on :mod:`ngx_zk.serving`:
uvicorn in a background thread, the connection guard both servers share).
Only the ``explorer`` command imports these modules (inside its body): ``ngx-zk --help`` loads no server stack.
"""

from __future__ import annotations

from ..errors import NgxZkError


class ExplorerError(NgxZkError):
    """The explorer cannot start or serve: a bad database URL, a missing driver, a foreign database."""


__all__ = ["ExplorerError"]
