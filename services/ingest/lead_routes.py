"""``POST /v1/leads``: one lead from a web form or any system."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from services.contracts.envelope import encode
from services.contracts.events import LEAD_CAPTURED, LeadCaptured, LeadFields
from services.contracts.lead_key import lead_key_for
from services.ingest.api_key import API_KEY_HEADER, check_api_key
from services.ingest.problems import ProblemError
from services.ingest.publisher import BrokerUnavailableError, EventPublisher
from services.ingest.settings import IngestSettings
from services.messaging.topics import LEAD_EVENTS

SOURCE = "/accord/ingest/v1/leads"

router = APIRouter()


class LeadAccepted(BaseModel):
    """The lead is on Kafka: downstream will route it."""

    event_id: str
    lead_key: str


def capture(fields: LeadFields, now: datetime) -> LeadCaptured:
    """The event that records a submitted lead."""
    return LeadCaptured(lead_key=lead_key_for(fields.email), fields=fields, captured_at=now)


_ERRORS = {
    401: {"description": "Missing or invalid API key", "content": {"application/problem+json": {}}},
    422: {"description": "A field is invalid; the body names it",
          "content": {"application/problem+json": {}}},
    503: {"description": "Kafka is unavailable; retry after Retry-After seconds",
          "content": {"application/problem+json": {}}},
}


@router.post("/v1/leads", status_code=202, response_model=LeadAccepted, responses=_ERRORS)  # type: ignore[arg-type]
async def post_lead(
    lead: LeadFields,
    request: Request,
    x_api_key: Annotated[str | None, Header(alias=API_KEY_HEADER)] = None,
) -> LeadAccepted:
    """Accept one lead; answers 202 only after Kafka acknowledged it (acks=all)."""
    settings: IngestSettings = request.app.state.settings
    publisher: EventPublisher = request.app.state.publisher
    check_api_key(x_api_key, settings.api_keys)
    event = capture(lead, datetime.now(UTC))
    record = encode(LEAD_CAPTURED, SOURCE, event.lead_key, event)
    event_id = dict(record.headers)["ce_id"].decode()
    try:
        await publisher.publish(settings.kafka.topic(LEAD_EVENTS), record)
    except BrokerUnavailableError as exc:
        raise ProblemError(503, "Kafka unavailable", f"{exc}; nothing was accepted, retry",
                           headers={"Retry-After": str(settings.retry_after_seconds)}) from exc
    return LeadAccepted(event_id=event_id, lead_key=event.lead_key)
