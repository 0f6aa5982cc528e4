"""The error answers every route documents: RFC 9457 problem details."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DESCRIPTIONS = {
    400: "The body is unreadable (not JSON, or not the expected XML)",
    401: "Missing or invalid credentials or signature; `header` names which",
    403: "The sender (portal or org) is not one this ingest accepts",
    409: "Idempotency-Key reused for another body, or its first request is still running",
    413: "The body is larger than the limit",
    415: "Wrong Content-Type",
    422: "Invalid fields; `errors` names each field and what is wrong",
    503: "Kafka did not acknowledge in time: nothing was accepted; retry after Retry-After",
}


class FieldProblem(BaseModel):
    """One field at fault."""

    field: str
    message: str
    type: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, with the header or fields at fault."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    header: str | None = None
    errors: list[FieldProblem] | None = None


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Resolve local ``$defs`` refs: the schema is embedded in the OpenAPI document."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


PROBLEM_SCHEMA = inline_schema(Problem.model_json_schema())


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
        if status == 503:
            entry["headers"] = {"Retry-After": {"description": "Seconds to wait",
                                                "schema": {"type": "integer"}}}
        responses[status] = entry
    return responses
