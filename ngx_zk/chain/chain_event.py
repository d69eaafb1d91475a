"""The base of every event record (:mod:`.types`, :mod:`.settlement_types`), in a module of its own so both
build on it without importing each other."""

from __future__ import annotations

from typing import ClassVar


class ChainEvent:
    """Base of the event records: ``contract`` names the artifact that emits it; the class name is the ABI's."""

    contract: ClassVar[str] = "JobMarket"
