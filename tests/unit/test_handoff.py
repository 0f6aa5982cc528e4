"""Pools and SLAs wired into the router's pure steps: lead partition -> pool partition ->
lead partition, and the SLA timer, without Kafka (one in-memory state for every partition)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.contracts.envelope import Envelope, decode, encode
from services.contracts.events import (
    LEAD_CAPTURED,
    LEAD_ROUTED,
    LEAD_SLA_BREACHED,
    SALESFORCE_CHANGE_RECEIVED,
)
from services.messaging.dead_letters import PREFIX
from services.router.crm_fields import NO_CRM
from services.router.golden_record import GoldenRecord
from services.router.handoff import load_clock
from services.router.handoff_messages import POOL_PICK_MADE, POOL_PICK_REQUESTED
from services.router.pool_stage import POOL_PREFIX, pick_from_pool
from services.router.record_processing import (
    Incoming,
    Outgoing,
    StepResult,
    process_record,
    record_key,
)
from services.router.rules.loader import load_rules
from services.router.sla_escalation import breach_due_clocks
from tests.builders import a_captured_lead, an_example_of

RULES = load_rules(Path("rules/leads.yaml"))
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 10:00 in London, working hours


class Router:
    """Every partition of one router, in memory: runs a record and what it leads to."""

    def __init__(self) -> None:
        self.state: dict[str, bytes] = {}
        self.published: list[Envelope] = []
        self.by_kind: dict[str, list[Outgoing]] = {}

    def lookup(self, key: str) -> bytes | None:
        return self.state.get(key)

    def _apply(self, result: StepResult) -> list[Outgoing]:
        self.state.update(result.changes)
        for out in result.outputs:
            self.by_kind.setdefault(out.kind, []).append(out)
            if out.kind == "decisions":
                self.published.append(decode(out.key, out.value, out.headers))
        return result.outputs

    def feed(self, incoming: Incoming, now: datetime, follow: bool = True) -> None:
        result = StepResult()
        if incoming.topic == "pool-requests":
            pick_from_pool(RULES, self.lookup, incoming, now, result)
        else:
            process_record(RULES, self.lookup, incoming, now, NO_CRM, result)
        for out in self._apply(result):
            if follow and out.kind in ("pool_requests", "crm_changes_by_lead"):
                topic = "pool-requests" if out.kind == "pool_requests" else "by-lead"
                self.feed(Incoming(topic, 0, 0, out.key, out.value, out.headers), now)

    def tick(self, now: datetime) -> None:
        result = StepResult()
        leads = [k.removeprefix("sla:") for k in self.state if k.startswith("sla:")]
        breach_due_clocks(RULES, self.lookup, leads, now, result)
        for out in self._apply(result):
            if out.kind == "pool_requests":
                self.feed(Incoming("pool-requests", 0, 0, out.key, out.value, out.headers),
                          now)

    def record(self, lead_key: str) -> GoldenRecord:
        return GoldenRecord.model_validate_json(self.state[record_key(lead_key)])

    def routed(self, lead_key: str) -> list[Envelope]:
        return [e for e in self.published
                if e.type == LEAD_ROUTED and e.data["lead_key"] == lead_key]


def a_lead_event(email: str, event_id: str, **fields: object) -> Incoming:
    captured = a_captured_lead(at=MONDAY_10, email=email, **fields)
    record = encode(LEAD_CAPTURED, "/test", captured.lead_key, captured, event_id=event_id)
    return Incoming("lead-events", 0, 0, record.key, record.value, list(record.headers))


def mid_market_demo(email: str, event_id: str) -> Incoming:
    return a_lead_event(email, event_id, company="Boutique Digitale", employees=350,
                        country="FR", lead_source="demo_request", title="Sales Manager")


def a_status_change(lead_key: str, status: str, event_id: str) -> Incoming:
    change = an_example_of(SALESFORCE_CHANGE_RECEIVED).model_copy(update={
        "fields": {"Status": status, "Accord_Lead_Key__c": lead_key},
        "notification_id": event_id})
    record = encode(SALESFORCE_CHANGE_RECEIVED, "/sf", lead_key, change, event_id=event_id)
    return Incoming("by-lead", 0, 0, record.key, record.value, list(record.headers))


def test_given_a_pool_route_when_the_lead_is_decided_then_the_pool_is_asked_not_the_world():
    router = Router()
    router.feed(mid_market_demo("luc@boutique.example", "e1"), MONDAY_10, follow=False)
    assert router.published == []  # nothing is published before the pool picks
    [request] = router.by_kind["pool_requests"]
    assert request.key == b"commercial"
    assert decode(request.key, request.value, request.headers).type == POOL_PICK_REQUESTED
    assert router.record("luc@boutique.example").awaiting_pool == "commercial"


def test_given_a_pool_request_when_picked_then_routed_with_the_owner_and_why_and_clock_runs():
    router = Router()
    router.feed(mid_market_demo("luc@boutique.example", "e1"), MONDAY_10)
    [routed] = router.routed("luc@boutique.example")
    owner = routed.data["owner"]
    assert (owner["email"], owner["pool"], owner["kind"]) == (
        "amara.okafor@accord.example", "commercial", "user")
    assert "weighted round robin" in owner["explanation"]
    assert POOL_PREFIX + "commercial" in router.state
    record = router.record("luc@boutique.example")
    assert record.awaiting_pool is None
    assert record.last_decision is not None
    assert record.last_decision.owner.email == "amara.okafor@accord.example"
    clock = load_clock(router.lookup, "luc@boutique.example")
    assert clock is not None and clock.state == "running"
    assert clock.due_at == MONDAY_10 + timedelta(hours=1)  # hot_mql: 1 working hour


def test_given_three_leads_when_picked_then_the_pool_follows_the_weights():
    router = Router()
    for n in range(3):
        router.feed(mid_market_demo(f"lead{n}@boutique.example", f"e{n}"), MONDAY_10)
    owners = [router.routed(f"lead{n}@boutique.example")[0].data["owner"]["email"]
              for n in range(3)]
    assert owners == ["amara.okafor@accord.example", "diego.ramos@accord.example",
                      "amara.okafor@accord.example"]


def test_given_a_redelivered_lead_event_when_processed_then_the_same_member_and_no_capacity():
    router = Router()
    router.feed(mid_market_demo("luc@boutique.example", "e1"), MONDAY_10)
    router.feed(mid_market_demo("luc@boutique.example", "e1"), MONDAY_10)
    routed = router.routed("luc@boutique.example")
    assert len(routed) == 2 and routed[0].id == routed[1].id
    assert routed[0].data == routed[1].data
    router.feed(mid_market_demo("next@boutique.example", "e2"), MONDAY_10)
    # The redelivery did not count as a pick: the rotation goes on to Diego.
    assert router.routed("next@boutique.example")[0].data["owner"]["email"] == \
        "diego.ramos@accord.example"


def test_given_an_owned_lead_when_decided_again_into_its_pool_then_the_owner_is_kept():
    router = Router()
    router.feed(mid_market_demo("luc@boutique.example", "e1"), MONDAY_10)
    router.feed(mid_market_demo("luc@boutique.example", "e2"), MONDAY_10)
    second = router.routed("luc@boutique.example")[-1].data["owner"]
    assert second["email"] == "amara.okafor@accord.example"
    assert second["explanation"].startswith("kept")


# Working it, or turning it down (Unqualified hands it back to marketing), is a touch.
@pytest.mark.parametrize(("status", "stage"), [("Working - Contacted", "sql"),
                                               ("Unqualified", "recycled")])
def test_given_a_touch_in_time_when_the_deadline_passes_then_the_sla_is_met_and_nothing_fires(
        status: str, stage: str):
    router = Router()
    router.feed(mid_market_demo("luc@boutique.example", "e1"), MONDAY_10)
    router.feed(a_status_change("luc@boutique.example", status, "n1"),
                MONDAY_10 + timedelta(minutes=20))
    clock = load_clock(router.lookup, "luc@boutique.example")
    assert clock is not None and clock.state == "met"
    router.tick(MONDAY_10 + timedelta(hours=2))
    assert [e for e in router.published if e.type == LEAD_SLA_BREACHED] == []
    assert router.routed("luc@boutique.example")[-1].data["stage"] == stage


def test_given_no_touch_when_the_deadline_passes_then_escalated_to_the_next_member():
    router = Router()
    router.feed(mid_market_demo("luc@boutique.example", "e1"), MONDAY_10)
    late = MONDAY_10 + timedelta(hours=1, minutes=1)
    router.tick(late)
    [breached] = [e for e in router.published if e.type == LEAD_SLA_BREACHED]
    assert breached.data["sla"]["owner"] == "amara.okafor@accord.example"
    assert breached.data["sla"]["escalated_to"] == "diego.ramos@accord.example"
    assert "did not touch" in breached.data["sla"]["explanation"]
    routed = router.routed("luc@boutique.example")
    assert routed[-1].data["owner"]["email"] == "diego.ramos@accord.example"
    assert "slas.hot_mql" in routed[-1].data["matched_rules"]
    clock = load_clock(router.lookup, "luc@boutique.example")
    assert clock is not None
    assert (clock.owner, clock.state, clock.escalations) == (
        "diego.ramos@accord.example", "running", 1)
    # A second tick at the same moment changes nothing: the clock was replaced.
    router.tick(late)
    assert len([e for e in router.published if e.type == LEAD_SLA_BREACHED]) == 1


def test_given_an_enterprise_lead_untouched_when_due_then_its_manager_gets_it():
    router = Router()
    router.feed(a_lead_event("ada@siemens.example", "e1", employees=5000, country="DE",
                             lead_source="demo_request", title="VP Engineering"), MONDAY_10)
    assert router.routed("ada@siemens.example")[0].data["owner"]["email"] == \
        "maria.garcia@accord.example"
    router.tick(MONDAY_10 + timedelta(hours=4, minutes=1))
    [breached] = [e for e in router.published if e.type == LEAD_SLA_BREACHED]
    assert breached.data["sla"]["escalated_to"] == "sales.manager@accord.example"
    assert router.record("ada@siemens.example").last_decision.owner.email == (  # type: ignore[union-attr]
        "sales.manager@accord.example")


def test_given_the_pick_answer_when_redelivered_then_nothing_changes():
    router = Router()
    router.feed(mid_market_demo("luc@boutique.example", "e1"), MONDAY_10)
    [made] = [o for o in router.by_kind["crm_changes_by_lead"]
              if decode(o.key, o.value, o.headers).type == POOL_PICK_MADE]
    before = dict(router.state)
    router.feed(Incoming("by-lead", 0, 0, made.key, made.value, made.headers), MONDAY_10)
    assert router.state == before


def test_given_a_record_that_is_no_pick_request_when_on_the_pool_topic_then_dead_lettered():
    lead = a_lead_event("luc@boutique.example", "e1")
    result = StepResult()
    pick_from_pool(RULES, lambda key: None,
                   Incoming("pool-requests", 2, 7, lead.key, lead.value, lead.headers),
                   MONDAY_10, result)
    [out] = result.outputs
    assert out.kind == "dead_letters" and result.changes == {}
    reason = dict(out.headers)[PREFIX + "reason"].decode()
    assert reason == f"unsupported event type {LEAD_CAPTURED!r} on the pool topic"


def test_given_an_sla_removed_from_the_rules_when_its_clock_is_due_then_cancelled_quietly():
    router = Router()
    router.feed(mid_market_demo("luc@boutique.example", "e1"), MONDAY_10)
    without = replace(RULES, slas=())
    result = StepResult()
    breach_due_clocks(without, router.lookup, ["luc@boutique.example"],
                      MONDAY_10 + timedelta(hours=2), result)
    assert result.outputs == []
    clock = load_clock(lambda key: result.changes.get(key), "luc@boutique.example")
    assert clock is not None and clock.state == "cancelled"
