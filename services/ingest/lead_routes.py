"""``POST /v1/leads`` and ``POST /v1/leads/batch``: leads from web forms and any system."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, TypeAdapter, ValidationError

from services.contracts.envelope import KafkaRecord, encode
from services.contracts.events import LEAD_CAPTURED, LeadCaptured, LeadFields
from services.contracts.lead_key import lead_key_for
from services.ingest.acceptance import EventIds, Outcome, accept
from services.ingest.incoming import json_route_docs, read_json
from services.ingest.openapi_docs import problem_responses
from services.ingest.settings import IngestSettings
from services.messaging.topics import LEAD_EVENTS

SOURCE = "/accord/ingest/v1/leads"
MAX_BATCH = 100

router = APIRouter(tags=["leads"])


class LeadSubmission(LeadFields):
    """A lead as a form or system submits it: the email is checked for deliverability here,
    once, where it enters Accord."""

    email: EmailStr = Field(description=(
        "A deliverable address; special-use domains (.arpa, .invalid, .local, .localhost, "
        ".onion, .test) are refused with 422"))


class LeadAccepted(BaseModel):
    """The lead is on Kafka: downstream will route it."""

    event_id: str
    lead_key: str


class LeadBatch(BaseModel):
    """Up to 100 leads; each is validated on its own."""

    model_config = ConfigDict(extra="forbid")

    leads: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class ItemResult(BaseModel):
    """The answer for one lead of a batch."""

    index: int
    status: int = Field(description="202 accepted, or 422 with the fields at fault")
    event_id: str | None = None
    lead_key: str | None = None
    errors: list[dict[str, str]] | None = None


class BatchAnswer(BaseModel):
    """Every lead of a batch, answered on its own, in order."""

    accepted: int
    rejected: int
    results: list[ItemResult]


_LEAD = TypeAdapter(LeadSubmission)
_BATCH = TypeAdapter(LeadBatch)
# The document describes each batch item as a lead (they are validated one by one).
_BATCH_SCHEMA = {**LeadBatch.model_json_schema(), "properties": {"leads": {
    "type": "array", "minItems": 1, "maxItems": MAX_BATCH,
    "items": LeadSubmission.model_json_schema()}}}


def capture(submitted: LeadFields, now: datetime) -> LeadCaptured:
    """The event that records a submitted lead."""
    fields = LeadFields.model_validate(submitted.model_dump())
    return LeadCaptured(lead_key=lead_key_for(fields.email), fields=fields, captured_at=now)


def _record(event: LeadCaptured, event_id: str) -> KafkaRecord:
    return encode(LEAD_CAPTURED, SOURCE, event.lead_key, event, event_id=event_id)


@router.post("/v1/leads", status_code=202, response_model=LeadAccepted,
             openapi_extra=json_route_docs(LeadSubmission.model_json_schema()),
             responses=problem_responses(400, 401, 409, 413, 415, 422, 503))
async def post_lead(request: Request) -> Response:
    """Accept one lead; answers 202 only after Kafka acknowledged it (acks=all)."""
    settings: IngestSettings = request.app.state.settings
    incoming = await read_json(request, _LEAD)

    def build(ids: EventIds) -> Outcome:
        event = capture(incoming.body, datetime.now(UTC))
        event_id = ids.for_index(0)
        body = {"event_id": event_id, "lead_key": event.lead_key}
        return Outcome(settings.kafka.topic(LEAD_EVENTS), [_record(event, event_id)], 202, body)

    return await accept(request, incoming.sender, incoming.idempotency_key, build)


def _errors(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()]


@router.post("/v1/leads/batch", status_code=202, response_model=BatchAnswer,
             openapi_extra=json_route_docs(_BATCH_SCHEMA),
             responses={207: {"description": "Some or all leads were rejected; each result "
                                             "says why", "model": BatchAnswer},
                        **problem_responses(400, 401, 409, 413, 415, 422, 503)})
async def post_leads(request: Request) -> Response:
    """Accept up to 100 leads; each is validated and answered on its own.

    202 when all were accepted; 207 when some or all were rejected (the accepted ones are
    on Kafka, each rejected one lists its fields at fault).
    """
    settings: IngestSettings = request.app.state.settings
    incoming = await read_json(request, _BATCH)

    def build(ids: EventIds) -> Outcome:
        now = datetime.now(UTC)
        results: list[ItemResult] = []
        records: list[KafkaRecord] = []
        for index, raw in enumerate(incoming.body.leads):
            try:
                event = capture(_LEAD.validate_python(raw), now)
            except ValidationError as exc:
                results.append(ItemResult(index=index, status=422, errors=_errors(exc)))
                continue
            event_id = ids.for_index(index)
            records.append(_record(event, event_id))
            results.append(ItemResult(index=index, status=202, event_id=event_id,
                                      lead_key=event.lead_key))
        accepted = len(records)
        status = 202 if accepted == len(incoming.body.leads) else 207
        answer = BatchAnswer(accepted=accepted, rejected=len(results) - accepted,
                             results=results)
        return Outcome(settings.kafka.topic(LEAD_EVENTS), records, status,
                       answer.model_dump(exclude_none=True))

    return await accept(request, incoming.sender, incoming.idempotency_key, build)
