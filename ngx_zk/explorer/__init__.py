"""The explorer: the market's events in a database, a JSON API over them, and web pages.

Read in this order: :mod:`.db` (one schema for SQLite and PostgreSQL), :mod:`.indexer` (chain logs ->
rows, decoded by ABI at run time; resumes, rewinds on a reorg), :mod:`.views` (jobs, providers,
models, consumers and stats derived from event and field names), :mod:`.openapi` (the API's
description), :mod:`.server` (``/api/v1/`` and the pages under ``static/``).
"""

from __future__ import annotations

from ..errors import NgxZkError


class ExplorerError(NgxZkError):
    """The explorer cannot start or serve: a bad database URL, a missing driver, a foreign database."""


__all__ = ["ExplorerError"]
