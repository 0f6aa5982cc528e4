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


def an_example_of(event_type: str) -> Any:
    """A realistic instance of each contract type, for round-trip checks."""
    from decimal import Decimal

    from deploy.local.kafka_broker import REPO_ROOT
    from services.contracts import events as ev
    from services.router.decide import decide
    from services.router.golden_record import merge_captured, new_record
    from services.router.rules.loader import load_rules

    now = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    captured = a_captured_lead(at=now)
    if event_type == ev.LEAD_CAPTURED:
        return captured
    if event_type == ev.LEAD_ROUTED:
        rules = load_rules(REPO_ROOT / "rules" / "leads.yaml")
        record = merge_captured(new_record(captured.lead_key), "e1", captured, "/test")
        return decide(rules, record, "e1", now)
    if event_type == ev.HUBSPOT_CHANGE_RECEIVED:
        return ev.HubSpotChangeReceived(
            event_id=1, subscription_id=77, portal_id=62515, app_id=4400001, occurred_at=now,
            subscription_type="contact.propertyChange", attempt_number=0, object_id=101,
            object_type="contact", change_source="CRM_UI", property_name="lifecyclestage",
            property_value="customer")
    if event_type == ev.SALESFORCE_CHANGE_RECEIVED:
        return ev.SalesforceChangeReceived(
            organization_id="00D000000000001AAA", action_id="04k000000000001AAA",
            notification_id="04l000000000001AAA", sobject_type="Lead",
            sobject_id="00Q000000000001AAA", fields={"Status": "Working - Contacted",
                                                     "Email": None}, received_at=now)
    if event_type == ev.ENGAGEMENT_RECORDED:
        return ev.EngagementRecorded(
            lead_key="eve@buyer.example", email="eve@buyer.example", action="webinar_signup",
            occurred_at=now, attribution=ev.Attribution(campaign="q4", utm_source="linkedin"))
    if event_type == ev.REVENUE_RECORDED:
        return ev.RevenueRecorded(
            lead_key="eve@buyer.example", email="eve@buyer.example", amount=Decimal("48000.00"),
            currency="EUR", occurred_at=now, reference="INV-1", system="billing")
    if event_type == ev.LEAD_SLA_BREACHED:
        from datetime import timedelta

        routed = an_example_of(ev.LEAD_ROUTED)
        facts = ev.SlaBreachFacts(
            policy="hot_mql", owner="amara.okafor@accord.example", started_at=now,
            due_at=now + timedelta(hours=1), breached_at=now + timedelta(hours=1, minutes=1),
            escalations_before=0, escalated_to="diego.ramos@accord.example",
            explanation="SLA hot_mql: amara.okafor@accord.example did not touch the lead "
                        "within 1:00:00 of working time; escalated to diego.ramos@accord.example")
        return ev.LeadSlaBreached(**dict(routed), sla=facts)
    if event_type == ev.OPPORTUNITY_WON:
        from datetime import date

        return ev.OpportunityWon(
            decision_id="5f0c2a1e-6b1d-5c7e-9a0b-1c2d3e4f5a6b", lead_key=captured.lead_key,
            caused_by="04l000000000002AAA", decided_at=now,
            opportunity_id="006000000000001AAA", name="Analytical Engines-",
            amount=Decimal("48000.00"), close_date=date(2026, 11, 23),
            salesforce_owner_id="005000000000001AAA",
            owner_email="maria.garcia@accord.example", first_channel="demo_request",
            first_campaign="2026-q4-webinar", lead_revenue=Decimal("48000.00"),
            lead=captured.fields)
    raise KeyError(event_type)


# Accord's own identities in the sandboxes (deploy/local.env): the integration user and app.
INTEGRATION_USER = "005000000000009AAA"
HUBSPOT_APP_ID = 4400001


def a_crm_context() -> Any:
    """The router's view of the CRMs as a local run has it: the shipped mapping file, and
    Accord's integration user and HubSpot app (their changes are echoes)."""
    from deploy.local.kafka_broker import REPO_ROOT
    from services.mapping.crm_mapping import load_mapping
    from services.router.crm_fields import CrmContext

    return CrmContext.of([INTEGRATION_USER], [HUBSPOT_APP_ID],
                         load_mapping(REPO_ROOT / "mappings" / "crm.yaml"))


def a_signing_key_pair(directory: Any) -> tuple[str, Any]:
    """An RSA private key (PEM text) and the file of its certificate, as a connected app
    that "uses digital signatures" holds it (the JWT bearer flow signs with the key)."""
    import trustme

    leaf = trustme.CA(key_type=trustme.KeyType.RSA).issue_cert(
        "accord-sync", key_type=trustme.KeyType.RSA)
    certificate = directory / "connected-app.crt"
    leaf.cert_chain_pems[0].write_to_path(str(certificate))
    return leaf.private_key_pem.bytes().decode(), certificate
