"""Builders for leads and events: sensible defaults, override what the test is about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.contracts.envelope import Envelope, decode, encode
from services.contracts.events import LEAD_CAPTURED, LeadCaptured, LeadFields
from services.contracts.lead_key import lead_key_for


def a_lead(**overrides: Any) -> dict[str, Any]:
    """A web-form lead body as a sender posts it."""
    body: dict[str, Any] = {
        "email": "ada.lovelace@analytical.example", "first_name": "Ada",
        "last_name": "Lovelace", "company": "Analytical Engines", "title": "VP Engineering",
        "country": "GB", "employees": 4200, "lead_source": "demo_request",
        "campaign": "2026-q4-webinar",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def a_captured_lead(at: datetime | None = None, **overrides: Any) -> LeadCaptured:
    """The ``lead.captured`` event for ``a_lead(**overrides)``."""
    fields = LeadFields(**a_lead(**overrides))
    return LeadCaptured(lead_key=lead_key_for(fields.email), fields=fields,
                        captured_at=at or datetime.now(UTC))


def an_envelope(event: LeadCaptured, event_id: str = "evt-1",
                source: str = "/accord/ingest/v1/leads") -> Envelope:
    """A received CloudEvent carrying ``event``, as the router sees it."""
    record = encode(LEAD_CAPTURED, source, event.lead_key, event, event_id=event_id)
    return decode(record.key, record.value, record.headers)
