"""The OpenAPI 3.1 description of ``/api/v1/``, served at ``/api/v1/openapi.json``.

The tests check every endpoint's answers against these schemas, so a renamed field fails there first.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from .views import OUTCOMES, STATUSES


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": sorted(required), "properties": {**required, **(optional or {})}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
BOOL: dict[str, Any] = {"type": "boolean"}
WEI: dict[str, Any] = {
    "type": "string",
    "pattern": "^[0-9]+$",
    "description": "an amount in wei (1 NGX = 10^18), as a decimal string",
}
ADDRESS: dict[str, Any] = {"type": "string", "pattern": "^0x[0-9a-f]{40}$"}

SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _obj({"status": INT, "message": STR})}),
    "Status": _obj(
        {
            "chain_id": INT,
            "indexed_block": INT,
            "head": _nullable(INT),
            "lag_blocks": _nullable(INT),
            "confirmations": INT,
            "contracts": {"type": "object", "additionalProperties": STR},
        }
    ),
    "Job": _obj(
        {
            "job_id": INT,
            "consumer": ADDRESS,
            "provider": _nullable(ADDRESS),
            "model_id": INT,
            "status": {"enum": list(STATUSES)},
            "outcome": {"enum": list(OUTCOMES)},
            "price": WEI,
            "posted_block": INT,
            "posted_time": INT,
            "ended_time": _nullable(INT),
            "provider_pay": _nullable(WEI),
            "royalty": _nullable(WEI),
            "fee": _nullable(WEI),
            "reward": _nullable(WEI),
            "gas_used": INT,
            "proof_bytes": _nullable(INT),
            "latency_s": _nullable(INT),
            "inferences": INT,
        }
    ),
    "JobList": _obj({"total": INT, "limit": INT, "offset": INT, "jobs": {"type": "array", "items": _ref("Job")}}),
    "TimelineEvent": _obj(
        {
            "event": STR,
            "block": INT,
            "time": INT,
            "tx_hash": STR,
            "method": _nullable(STR),
            "gas_used": _nullable(INT),
            "args": {"type": "object"},
        }
    ),
    "JobDetail": {
        "allOf": [
            _ref("Job"),
            _obj(
                {
                    "timeline": {"type": "array", "items": _ref("TimelineEvent")},
                    "commitments": {"type": "array", "items": STR},
                    "outputs": _nullable({"type": "array", "items": STR}),
                    "output_values": _nullable({"type": "array", "items": {"type": "array", "items": {"type": "number"}}}),
                    "split": _obj(
                        {"provider_pay": WEI, "royalty": WEI, "fee": WEI, "reward": WEI, "price": WEI, "adds_up": BOOL}
                    ),
                    "verifier": _nullable(STR),
                    "verifier_kind": _nullable(STR),
                }
            ),
        ]
    },
    "Check": _obj({"name": STR, "ok": BOOL, "detail": STR}),
    "Verdict": _obj(
        {
            "job_id": INT,
            "model": STR,
            "valid": BOOL,
            "checks": {"type": "array", "items": _ref("Check")},
            "outputs": {"type": "array", "items": {"type": "number"}},
        }
    ),
    "ProviderLive": _nullable(
        _obj(
            {
                "nrs": INT,
                "components": _obj({"performance": INT, "reliability": INT, "longevity": INT, "peer": INT}),
                "staked": WEI,
                "locked": WEI,
                "unbonding": WEI,
                "collateral_per_10_ngx": _nullable(WEI),
            }
        )
    ),
    "Provider": _obj(
        {
            "address": ADDRESS,
            "registered_at": _nullable(INT),
            "endpoint": _nullable(STR),
            "jobs": _obj({"settled": INT, "expired": INT, "declined": INT, "claimed": INT, "total": INT}),
            "earnings": WEI,
            "rewards": WEI,
            "credited": WEI,
            "withdrawn": WEI,
            "claimable": WEI,
            "slashed": WEI,
            "live": _ref("ProviderLive"),
        }
    ),
    "ProviderList": _obj({"providers": {"type": "array", "items": _ref("Provider")}}),
    "ProviderDetail": {
        "allOf": [
            _ref("Provider"),
            _obj(
                {
                    "earnings_over_time": {"type": "array", "items": _obj({"t": INT, "earnings": WEI})},
                    "recent_jobs": {"type": "array", "items": _ref("Job")},
                }
            ),
        ]
    },
    "Model": _obj(
        {
            "model_id": INT,
            "name": _nullable(STR),
            "circuit": _nullable(_obj({"logrows": INT, "batch": INT})),
            "owner": ADDRESS,
            "verifier": STR,
            "kind": {"enum": ["dedicated", "reusable", "unknown"]},
            "onnx_hash": _nullable(STR),
            "settings_hash": _nullable(STR),
            "vk_digest": _nullable(STR),
            "insecure_test_srs": BOOL,
            "registered_at": INT,
            "jobs": INT,
            "settled": INT,
            "royalties": WEI,
            "live": _nullable(
                _obj(
                    {
                        "status": STR,
                        "royalty_bps": INT,
                        "metadata_uri": STR,
                        "input_commitments": INT,
                        "outputs": INT,
                        "verifier_code_hash": STR,
                        "provenance": _obj({"code_matches_pin": BOOL, "allow_listed": BOOL}),
                    }
                )
            ),
        }
    ),
    "ModelList": _obj({"models": {"type": "array", "items": _ref("Model")}}),
    "Consumer": _obj({"address": ADDRESS, "jobs": INT, **{o: INT for o in OUTCOMES}, "spent": WEI}),
    "ConsumerList": _obj({"consumers": {"type": "array", "items": _ref("Consumer")}}),
    "ConsumerDetail": {
        "allOf": [
            _ref("Consumer"),
            _obj(
                {
                    "recent_jobs": {"type": "array", "items": _ref("Job")},
                    "live": _nullable(_obj({"score": INT, "facts": {"type": "object", "additionalProperties": INT}})),
                }
            ),
        ]
    },
    "StatsBucket": _obj(
        {
            "t": INT,
            "posted": INT,
            **{o: INT for o in OUTCOMES},
            "volume": WEI,
            "fees": WEI,
            "royalties": WEI,
            "rewards": WEI,
            "proofs_verified": INT,
            "median_latency_s": _nullable({"type": "number"}),
            "gas_per_job": _nullable(INT),
            "gas_per_inference": _nullable(INT),
        }
    ),
    "Stats": _obj(
        {
            "bucket_s": INT,
            "totals": _obj({"jobs": INT, **{o: INT for o in OUTCOMES}, "volume": WEI, "fees": WEI, "royalties": WEI}),
            "series": {"type": "array", "items": _ref("StatsBucket")},
        }
    ),
}


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema, "description": description}


PAGING = [
    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "page size"),
    _param("offset", "query", {"type": "integer", "minimum": 0, "default": 0}, "rows to skip"),
]
BUCKET = _param(
    "bucket", "query", {"type": "integer", "minimum": 60, "maximum": 2_592_000, "default": 3600}, "seconds per time bucket"
)
ADDRESS_PATH = _param("address", "path", ADDRESS, "an address (any letter case)")


def _get(summary: str, schema: str, params: list[dict[str, Any]] | None = None, found: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": _ref(schema)}}},
        "400": {"description": "a bad parameter", "content": {"application/json": {"schema": _ref("Error")}}},
    }
    if found:
        responses["404"] = {"description": "not indexed", "content": {"application/json": {"schema": _ref("Error")}}}
    return {"get": {"summary": summary, "parameters": params or [], "responses": responses}}


PATHS: dict[str, Any] = {
    "/api/v1/status": _get("The indexer's progress against the chain", "Status"),
    "/api/v1/jobs": _get(
        "Jobs, newest first, filtered and paged",
        "JobList",
        [
            _param("status", "query", {"enum": list(STATUSES)}, "the job's status on chain"),
            _param("outcome", "query", {"enum": list(OUTCOMES)}, "like status, but a provider's decline is `declined`"),
            _param("provider", "query", ADDRESS, "jobs claimed by this provider"),
            _param("consumer", "query", ADDRESS, "jobs posted by this consumer"),
            _param("model", "query", {"type": "integer", "minimum": 1}, "jobs for this registry model id"),
            *PAGING,
        ],
    ),
    "/api/v1/jobs/{job_id}": _get(
        "One job: timeline, price split, commitments, outputs, proof size, verifier",
        "JobDetail",
        [_param("job_id", "path", {"type": "integer", "minimum": 1}, "the job id")],
        found=True,
    ),
    "/api/v1/jobs/{job_id}/verify": {
        "post": {
            "summary": "Re-verify a settled job on the server (the auditor: `ngx-zk verify --job`), check by check",
            "parameters": [_param("job_id", "path", {"type": "integer", "minimum": 1}, "the job id")],
            "responses": {
                "200": {"description": "the verdict", "content": {"application/json": {"schema": _ref("Verdict")}}},
                "404": {"description": "no such job", "content": {"application/json": {"schema": _ref("Error")}}},
                "409": {
                    "description": "not settled, or its circuit is not built on this server",
                    "content": {"application/json": {"schema": _ref("Error")}},
                },
            },
        }
    },
    "/api/v1/providers": _get("Every provider: jobs, earnings, live stake and NRS", "ProviderList"),
    "/api/v1/providers/{address}": _get(
        "One provider, with earnings over time", "ProviderDetail", [ADDRESS_PATH, BUCKET], found=True
    ),
    "/api/v1/models": _get("Registry entries with jobs and royalties", "ModelList"),
    "/api/v1/models/{model_id}": _get(
        "One registry entry", "Model", [_param("model_id", "path", {"type": "integer", "minimum": 1}, "id")], found=True
    ),
    "/api/v1/consumers": _get("Every consumer and its record", "ConsumerList"),
    "/api/v1/consumers/{address}": _get("One consumer and its jobs", "ConsumerDetail", [ADDRESS_PATH], found=True),
    "/api/v1/stats": _get(
        "Market stats over time",
        "Stats",
        [
            _param(
                "bucket",
                "query",
                {"type": "integer", "minimum": 60, "maximum": 2_592_000},
                "seconds per time bucket (default: the smallest of 1 min, 5 min, 15 min, 1 h, 6 h, 1 d, 7 d, 30 d giving at most 40)",
            )
        ],
    ),
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ngx-zk explorer API",
            "version": __version__,
            "description": "The NeuroGrid market's indexed events. Amounts are wei as decimal strings; addresses lower case.",
        },
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }


__all__ = ["document"]
