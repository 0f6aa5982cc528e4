"""``POST /v1/events``: engagement from marketing tools and revenue from billing systems."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, TypeAdapter

from services.contracts.envelope import encode
from services.contracts.events import (
    ENGAGEMENT_RECORDED,
    REVENUE_RECORDED,
    Attribution,
    Engagement,
    EngagementRecorded,
    RevenueRecorded,
)
from services.contracts.lead_key import lead_key_for
from services.ingest.acceptance import EventIds, Outcome, accept
from services.ingest.incoming import json_route_docs, read_json
from services.ingest.openapi_docs import problem_responses
from services.ingest.settings import IngestSettings
from services.messaging.topics import LEAD_EVENTS

SOURCE = "/accord/ingest/v1/events"
router = APIRouter(tags=["events"])


class EngagementIn(Attribution):
    """A lead engaged: downloaded content, signed up for a webinar, asked for a demo, ..."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["engagement"]
    email: EmailStr
    action: Engagement
    occurred_at: datetime | None = Field(default=None, description="Defaults to now")
    asset: str | None = Field(default=None, max_length=255)
    url: str | None = Field(default=None, max_length=2048)


class RevenueIn(BaseModel):
    """A billing system booked revenue for a customer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["revenue"]
    email: EmailStr
    amount: str = Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$",
                        description="A decimal string, e.g. \"48000.00\"", examples=["48000.00"])
    currency: str = Field(min_length=3, max_length=3, pattern="^[A-Z]{3}$")
    occurred_at: datetime
    reference: str = Field(min_length=1, max_length=120)
    system: str = Field(min_length=1, max_length=80)


class EventAccepted(BaseModel):
    """The event is on Kafka."""

    event_id: str
    lead_key: str


def record_engagement(body: EngagementIn, now: datetime) -> EngagementRecorded:
    """The event for an engagement post."""
    attribution = Attribution(**body.model_dump(include=set(Attribution.model_fields)))
    return EngagementRecorded(
        lead_key=lead_key_for(body.email), email=body.email, action=body.action,
        occurred_at=body.occurred_at or now, attribution=attribution, asset=body.asset,
        url=body.url)


def record_revenue(body: RevenueIn) -> RevenueRecorded:
    """The event for a revenue post."""
    return RevenueRecorded(
        lead_key=lead_key_for(body.email), email=body.email, amount=Decimal(body.amount),
        currency=body.currency, occurred_at=body.occurred_at, reference=body.reference,
        system=body.system)


_EVENT: TypeAdapter[EngagementIn | RevenueIn] = TypeAdapter(
    Annotated[EngagementIn | RevenueIn, Field(discriminator="type")])


@router.post("/v1/events", status_code=202, response_model=EventAccepted,
             openapi_extra=json_route_docs(_EVENT.json_schema()),
             responses=problem_responses(400, 401, 409, 413, 415, 422, 503))
async def post_event(request: Request) -> Response:
    """Accept one engagement or revenue event; 202 only after Kafka acknowledged it."""
    settings: IngestSettings = request.app.state.settings
    incoming = await read_json(request, _EVENT)
    event = incoming.body

    def build(ids: EventIds) -> Outcome:
        event_id = ids.for_index(0)
        if isinstance(event, EngagementIn):
            engaged = record_engagement(event, datetime.now(UTC))
            record = encode(ENGAGEMENT_RECORDED, SOURCE, engaged.lead_key, engaged,
                            event_id=event_id)
            lead_key = engaged.lead_key
        else:
            revenue = record_revenue(event)
            record = encode(REVENUE_RECORDED, SOURCE, revenue.lead_key, revenue,
                            event_id=event_id)
            lead_key = revenue.lead_key
        body = EventAccepted(event_id=event_id, lead_key=lead_key).model_dump()
        return Outcome(settings.kafka.topic(LEAD_EVENTS), [record], 202, body)

    return await accept(request, incoming.sender, incoming.idempotency_key, build)
