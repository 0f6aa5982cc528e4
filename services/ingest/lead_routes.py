"""``POST /v1/leads`` and ``POST /v1/leads/batch``: leads from web forms and any system."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from services.contracts.envelope import KafkaRecord, encode
from services.contracts.events import LEAD_CAPTURED, LeadCaptured, LeadFields
from services.contracts.lead_key import lead_key_for
from services.ingest.acceptance import IDEMPOTENCY_HEADER, EventIds, Outcome, accept
from services.ingest.json_body import require_json
from services.ingest.openapi_docs import problem_responses
from services.ingest.sender_auth import AuthenticatedSender
from services.ingest.settings import IngestSettings
from services.messaging.topics import LEAD_EVENTS

SOURCE = "/accord/ingest/v1/leads"
MAX_BATCH = 100

router = APIRouter(tags=["leads"])
IdempotencyKey = Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER, max_length=255)]
JsonBody = Annotated[None, Depends(require_json)]


class LeadAccepted(BaseModel):
    """The lead is on Kafka: downstream will route it."""

    event_id: str
    lead_key: str


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


def capture(fields: LeadFields, now: datetime) -> LeadCaptured:
    """The event that records a submitted lead."""
    return LeadCaptured(lead_key=lead_key_for(fields.email), fields=fields, captured_at=now)


def _record(event: LeadCaptured, event_id: str) -> KafkaRecord:
    return encode(LEAD_CAPTURED, SOURCE, event.lead_key, event, event_id=event_id)


@router.post("/v1/leads", status_code=202, response_model=LeadAccepted,
             responses=problem_responses(400, 401, 409, 413, 415, 422, 503))
async def post_lead(lead: LeadFields, request: Request, sender: AuthenticatedSender,
                    _: JsonBody, idempotency_key: IdempotencyKey = None) -> Response:
    """Accept one lead; answers 202 only after Kafka acknowledged it (acks=all)."""
    settings: IngestSettings = request.app.state.settings

    def build(ids: EventIds) -> Outcome:
        event = capture(lead, datetime.now(UTC))
        event_id = ids.for_index(0)
        body = LeadAccepted(event_id=event_id, lead_key=event.lead_key).model_dump()
        return Outcome(settings.kafka.topic(LEAD_EVENTS), [_record(event, event_id)], 202, body)

    return await accept(request, sender, idempotency_key, build)


def _errors(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()]


# Items are validated one by one (so one bad lead does not sink the batch); the document
# still describes each item as a lead.
_BATCH_BODY = {"requestBody": {"content": {"application/json": {"schema": {
    "type": "object", "required": ["leads"], "additionalProperties": False,
    "properties": {"leads": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                             "items": {"$ref": "#/components/schemas/LeadFields"}}},
}}}}}


@router.post("/v1/leads/batch", status_code=202, response_model=BatchAnswer,
             openapi_extra=_BATCH_BODY,
             responses={207: {"description": "Some or all leads were rejected; each result "
                                             "says why", "model": BatchAnswer},
                        **problem_responses(400, 401, 409, 413, 415, 422, 503)})
async def post_leads(
    request: Request, sender: AuthenticatedSender, _: JsonBody,
    leads: Annotated[list[dict[str, Any]], Body(min_length=1, max_length=MAX_BATCH,
                                                embed=True)],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Accept up to 100 leads; each is validated and answered on its own.

    202 when all were accepted; 207 when some or all were rejected (the accepted ones are
    on Kafka, each rejected one lists its fields at fault).
    """
    settings: IngestSettings = request.app.state.settings

    def build(ids: EventIds) -> Outcome:
        now = datetime.now(UTC)
        results: list[ItemResult] = []
        records: list[KafkaRecord] = []
        for index, raw in enumerate(leads):
            try:
                event = capture(LeadFields.model_validate(raw), now)
            except ValidationError as exc:
                results.append(ItemResult(index=index, status=422, errors=_errors(exc)))
                continue
            event_id = ids.for_index(index)
            records.append(_record(event, event_id))
            results.append(ItemResult(index=index, status=202, event_id=event_id,
                                      lead_key=event.lead_key))
        accepted = len(records)
        status = 202 if accepted == len(leads) else 207
        answer = BatchAnswer(accepted=accepted, rejected=len(leads) - accepted,
                             results=results)
        return Outcome(settings.kafka.topic(LEAD_EVENTS), records, status,
                       answer.model_dump(exclude_none=True))

    return await accept(request, sender, idempotency_key, build)
