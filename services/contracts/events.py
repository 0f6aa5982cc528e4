"""Event contracts: the data of each CloudEvent type Accord publishes.

Each model has a JSON Schema under ``schemas/<type>/v<N>.schema.json``; a unit test fails
when the model and its published schema drift apart (``make schemas`` rewrites them).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# An address already validated where it entered Accord (ingest runs email-validator on every
# submission). Contracts state the format for consumers but do not re-run the validator:
# the router would otherwise pay for it several times per event.
Email = Annotated[str, Field(min_length=3, max_length=254, json_schema_extra={"format": "email"})]

LEAD_CAPTURED = "dev.accord.lead.captured"
LEAD_ROUTED = "dev.accord.lead.routed"
LEAD_SCORED = "dev.accord.lead.scored"
LEAD_QUALIFIED = "dev.accord.lead.qualified"
LEAD_RECYCLED = "dev.accord.lead.recycled"
LEAD_SLA_BREACHED = "dev.accord.lead.sla_breached"
HUBSPOT_CHANGE_RECEIVED = "dev.accord.hubspot.change_received"
SALESFORCE_CHANGE_RECEIVED = "dev.accord.salesforce.change_received"
ENGAGEMENT_RECORDED = "dev.accord.engagement.recorded"
REVENUE_RECORDED = "dev.accord.revenue.recorded"
OPPORTUNITY_WON = "dev.accord.opportunity.won"

Stage = Literal[
    "subscriber", "lead", "mql", "sql", "opportunity", "customer",
    "nurture", "disqualified", "recycled",
]


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeadFields(_Contract):
    """What is known about a person and their company; every field but email is optional."""

    email: Email
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
    email: Email
    route: str = Field(description="Name of the routing entry that matched")
    pool: str | None = Field(
        default=None, description="The round-robin pool the owner was picked from, if any")
    explanation: str | None = Field(
        default=None, description="How the owner was picked (pool rotation, who was skipped "
                                  "and why, SLA escalation); null for a fixed owner")


class MatchedAccount(_Contract):
    """The known account a lead belongs to, and how the router matched it."""

    name: str = Field(description="The account's name as the rule file lists it")
    owner: Email = Field(description="The account owner (CRM user email)")
    matched_by: Literal["email_domain", "company_name"]
    matched_on: str = Field(
        description="The account domain the lead's email domain is (or is a subdomain of), "
                    "or the normalised company name both share")


class _Decided(_Contract):
    """What every decision event says: which decision, the inputs it used and its reasons."""

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
    classification: str | None = Field(
        default=None, description="The class the rule file's `classification` gave the lead "
                                  "(e.g. warm, cold); null when the file has none")
    account: MatchedAccount | None = Field(
        default=None, description="The known account the lead matched, if any")
    previous_stage: Stage | None = Field(
        default=None, description="The lead's stage before this decision; null for a new lead")
    previous_score: int | None = Field(
        default=None, description="The score of the lead's previous decision; null for its first")
    salesforce_status: str | None = Field(
        default=None, description="The Lead Status a rep set in Salesforce, if any")
    salesforce_status_reason: str | None = Field(
        default=None, description="The reason the rep gave with that status (the org's "
                                  "Unqualified Reason picklist), if any")
    field_sources: dict[str, str] = Field(
        default_factory=dict,
        description="Per field of `lead`, who set its current value: `salesforce`, `hubspot`, "
                    "or the CloudEvents source of the event that brought it (e.g. "
                    "/accord/ingest/v1/leads). Sync skips writing a value back to the CRM it "
                    "came from.")


class LeadRouted(_Decided):
    """``dev.accord.lead.routed`` v1: the router's decision for one lead, with its reasons."""


class LeadScored(_Decided):
    """``dev.accord.lead.scored`` v1: a decision gave the lead a new score (or its first)."""


class LeadQualified(_Decided):
    """``dev.accord.lead.qualified`` v1: a decision moved the lead into ``mql`` or ``sql``."""


class LeadRecycled(_Decided):
    """``dev.accord.lead.recycled`` v1: a recycle rule moved the lead back to ``recycled``."""

    recycle_rule: str = Field(description="Name of the recycle rule that moved the lead")


class SlaBreachFacts(_Contract):
    """Which first-touch SLA lapsed, for whom, and where the lead went."""

    policy: str = Field(description="Name of the SLA in the rule file's `slas`")
    owner: Email = Field(description="The owner who did not touch the lead in time")
    started_at: datetime
    due_at: datetime
    breached_at: datetime
    escalations_before: int = Field(ge=0, description="Escalations of this lead before this one")
    escalated_to: Email | None = Field(
        default=None, description="Who gets the lead now; null when it stays with the owner")
    explanation: str


class LeadSlaBreached(_Decided):
    """``dev.accord.lead.sla_breached`` v1: an owner did not touch the lead by the SLA's due
    time. The decision fields describe the lead after the escalation (its new owner)."""

    sla: SlaBreachFacts


class HubSpotChangeReceived(_Contract):
    """``dev.accord.hubspot.change_received`` v1: one element of a HubSpot webhook batch.

    Field names follow HubSpot's payload in snake case; ``change_source`` and ``source_id``
    let the router tell Accord's own writes from people's.
    """

    event_id: int
    subscription_id: int
    portal_id: int
    app_id: int
    occurred_at: datetime
    subscription_type: str = Field(description="e.g. contact.propertyChange, deal.creation")
    attempt_number: int
    object_id: int
    object_type: str = Field(description="contact, company or deal (from subscriptionType)")
    change_source: str | None = None
    source_id: str | None = None
    property_name: str | None = None
    property_value: str | None = None
    primary_object_id: int | None = None
    merged_object_ids: list[int] | None = None
    new_object_id: int | None = None


class SalesforceChangeReceived(_Contract):
    """``dev.accord.salesforce.change_received`` v1: one Outbound Message notification."""

    organization_id: str
    action_id: str
    notification_id: str
    sobject_type: str = Field(description="Lead, Contact, Opportunity or Account")
    sobject_id: str
    fields: dict[str, str | None] = Field(description="The sObject fields as sent (text)")
    received_at: datetime


Engagement = Literal["content_download", "webinar_signup", "demo_request", "email_click",
                     "page_view"]


class Attribution(_Contract):
    """Where an action came from: campaign and UTM parameters."""

    campaign: str | None = Field(default=None, max_length=120)
    utm_source: str | None = Field(default=None, max_length=120)
    utm_medium: str | None = Field(default=None, max_length=120)
    utm_campaign: str | None = Field(default=None, max_length=120)
    utm_term: str | None = Field(default=None, max_length=120)
    utm_content: str | None = Field(default=None, max_length=120)


class EngagementRecorded(_Contract):
    """``dev.accord.engagement.recorded`` v1: a lead did something marketing counts."""

    lead_key: str
    email: Email
    action: Engagement
    occurred_at: datetime
    attribution: Attribution = Attribution()
    asset: str | None = Field(default=None, max_length=255,
                              description="What was downloaded, attended or clicked")
    url: str | None = Field(default=None, max_length=2048)


class RevenueRecorded(_Contract):
    """``dev.accord.revenue.recorded`` v1: a billing system booked revenue for a customer."""

    lead_key: str
    email: Email
    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(min_length=3, max_length=3, pattern="^[A-Z]{3}$")
    occurred_at: datetime
    reference: str = Field(max_length=120, description="Invoice or order id in that system")
    system: str = Field(max_length=80, description="The billing system, e.g. stripe")


class OpportunityWon(_Contract):
    """``dev.accord.opportunity.won`` v1: sales won an opportunity for a lead; its amount is
    booked on the golden record and attributed to where the lead first came from."""

    decision_id: str
    lead_key: str
    caused_by: str = Field(description="Id of the Salesforce change that reported the win")
    decided_at: datetime
    opportunity_id: str = Field(description="The Salesforce Opportunity id (18 characters)")
    name: str | None = Field(default=None, description="The opportunity's name")
    amount: Decimal = Field(ge=0, max_digits=16, decimal_places=2)
    close_date: date | None = None
    salesforce_owner_id: str | None = Field(
        default=None, description="The Salesforce User who owns the opportunity")
    owner_email: str | None = Field(
        default=None, description="The email of the lead's owner in Accord when it was won "
                                  "(the rep who worked it): the deal's owner in HubSpot")
    first_channel: str | None = Field(
        default=None, description="The channel of the lead's earliest known event")
    first_campaign: str | None = Field(
        default=None, description="The campaign of the lead's earliest known event: the "
                                  "campaign this revenue is attributed to")
    lead_revenue: Decimal = Field(
        description="All revenue booked for the lead so far, this opportunity included")
    lead: LeadFields = Field(description="The golden record fields (the email names the "
                                         "HubSpot contact the deal is associated with)")


CONTRACTS: dict[str, tuple[type[BaseModel], int]] = {
    LEAD_CAPTURED: (LeadCaptured, 1),
    LEAD_ROUTED: (LeadRouted, 1),
    LEAD_SCORED: (LeadScored, 1),
    LEAD_QUALIFIED: (LeadQualified, 1),
    LEAD_RECYCLED: (LeadRecycled, 1),
    LEAD_SLA_BREACHED: (LeadSlaBreached, 1),
    HUBSPOT_CHANGE_RECEIVED: (HubSpotChangeReceived, 1),
    SALESFORCE_CHANGE_RECEIVED: (SalesforceChangeReceived, 1),
    ENGAGEMENT_RECORDED: (EngagementRecorded, 1),
    REVENUE_RECORDED: (RevenueRecorded, 1),
    OPPORTUNITY_WON: (OpportunityWon, 1),
}


def dataschema_uri(event_type: str) -> str:
    """The CloudEvents ``dataschema`` of a type: names the schema file and its version."""
    short = event_type.removeprefix("dev.accord.")
    if event_type not in CONTRACTS:
        # The router's messages to itself (e.g. pool picks) are not published contracts.
        return f"urn:accord:internal:{short}"
    _, version = CONTRACTS[event_type]
    return f"urn:accord:schema:{short}:v{version}"
