"""The marketplace client: one :class:`Marketplace` over one :class:`~ngx_zk.chain.tx.Chain` and its deployment.

It joins the clients of each concern, read in this order: :mod:`.contracts` (the deployed contracts, the
token, events as typed records), :mod:`.registry` (models and what judges their proofs), :mod:`.staking`
(providers: stake, profile, reputation) and :mod:`.jobs` (post, claim, submit, decline, settle). The words
they speak (statuses, jobs, terms, events) live in :mod:`.types`, free of web3.
"""

from __future__ import annotations

from .contracts import LOG_CHUNK, decode_struct
from .jobs import PERMIT_TTL_S, Jobs
from .registry import Registry
from .staking import Providers
from .types import (
    ZERO,
    DeclineReason,
    Job,
    JobExtras,
    JobStatus,
    JobTerms,
    ModelEntry,
    ModelStatus,
    ProviderProfile,
    VerifierKind,
    outputs_hash,
)


class Marketplace(Jobs, Providers, Registry):
    """The deployed contracts on one chain, with one method per protocol action."""


__all__ = [
    "LOG_CHUNK",
    "PERMIT_TTL_S",
    "ZERO",
    "DeclineReason",
    "Job",
    "JobExtras",
    "JobStatus",
    "JobTerms",
    "Marketplace",
    "ModelEntry",
    "ModelStatus",
    "ProviderProfile",
    "VerifierKind",
    "decode_struct",
    "outputs_hash",
]
"""The vocabulary lives in :mod:`ngx_zk.chain.types`; these names stay importable from here for old callers."""
