"""Event contracts: the data of each CloudEvent type Accord publishes.

Each model has a JSON Schema under ``schemas/<type>/v<N>.schema.json``; a unit test fails
when the model and its published schema drift apart (``make schemas`` rewrites them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

LEAD_CAPTURED = "dev.accord.lead.captured"
LEAD_ROUTED = "dev.accord.lead.routed"

Stage = Literal[
    "subscriber", "lead", "mql", "sql", "opportunity", "customer",
    "nurture", "disqualified", "recycled",
]


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeadFields(_Contract):
    """What is known about a person and their company; every field but email is optional."""

    email: EmailStr
    first_name: str | None = Field(default=None, max_length=80)
    last_name: str | None = Field(default=None, max_length=80)
    company: str | None = Field(default=None, max_length=255)
    title: str | None = Field(default=None, max_length=128)
    phone: str | None = Field(default=None, max_length=40)
    country: str | None = Field(
        default=None, min_length=2, max_length=2, pattern="^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 country code, upper case",
    )
    industry: str | None = Field(default=None, max_length=80)
    employees: int | None = Field(default=None, ge=0, le=10_000_000)
    website: str | None = Field(default=None, max_length=255)
    lead_source: str | None = Field(
        default=None, max_length=80, description="Channel, e.g. web_form, demo_request"
    )
    campaign: str | None = Field(default=None, max_length=120)


class LeadCaptured(_Contract):
    """``dev.accord.lead.captured`` v1: a lead arrived from a form or another system."""

    lead_key: str = Field(description="Normalised email; also the Kafka message key")
    fields: LeadFields
    captured_at: datetime
    channel: Literal["api", "web_form"] = "api"


class ScoreLine(_Contract):
    """One scoring rule that matched, and the points it gave."""

    rule: str
    points: int


class OwnerAssignment(_Contract):
    """Who owns the lead after routing: a user, or a queue user, named by email."""

    kind: Literal["user", "queue"]
    email: EmailStr
    route: str = Field(description="Name of the routing entry that matched")


class LeadRouted(_Contract):
    """``dev.accord.lead.routed`` v1: the router's decision for one lead, with its reasons."""

    decision_id: str
    lead_key: str
    caused_by: str = Field(description="Id of the event that led to this decision")
    ruleset_version: str
    decided_at: datetime
    score: int
    score_breakdown: list[ScoreLine]
    stage: Stage
    owner: OwnerAssignment
    matched_rules: list[str] = Field(description="Every rule that matched, in order")
    lead: LeadFields = Field(description="The golden record fields the decision used")


CONTRACTS: dict[str, tuple[type[BaseModel], int]] = {
    LEAD_CAPTURED: (LeadCaptured, 1),
    LEAD_ROUTED: (LeadRouted, 1),
}


def dataschema_uri(event_type: str) -> str:
    """The CloudEvents ``dataschema`` of a type: names the schema file and its version."""
    _, version = CONTRACTS[event_type]
    short = event_type.removeprefix("dev.accord.")
    return f"urn:accord:schema:{short}:v{version}"
