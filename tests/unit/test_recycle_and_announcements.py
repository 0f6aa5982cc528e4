"""Recycling (the one way back) and the events a decision announces besides lead.routed."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from deploy.local.kafka_broker import REPO_ROOT
from services.contracts.envelope import decode, encode
from services.contracts.events import (
    ENGAGEMENT_RECORDED,
    LEAD_QUALIFIED,
    LEAD_RECYCLED,
    LEAD_SCORED,
    SALESFORCE_CHANGE_RECEIVED,
    LeadRecycled,
    SalesforceChangeReceived,
)
from services.router.announcements import announcement_id
from services.router.handle_event import Outcome, handle_event
from services.router.rules.loader import load_rules, parse_rules
from tests.builders import a_captured_lead, an_envelope, an_example_of

RULES = load_rules(REPO_ROOT / "rules" / "leads.yaml")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EMAIL = "joanna@chotchkies.example"
REP = "005000000000001AAA"


def status_change(status: str, event_id: str) -> object:
    change = SalesforceChangeReceived(
        organization_id="00D000000000001AAA", action_id="04k000000000001AAA",
        notification_id=event_id, sobject_type="Lead", sobject_id="00Q000000000001AAA",
        fields={"Status": status, "LastModifiedById": REP, "Accord_Lead_Key__c": EMAIL},
        received_at=NOW)
    record = encode(SALESFORCE_CHANGE_RECEIVED, "/sf", "salesforce:org:Lead:00Q", change,
                    event_id=event_id)
    return decode(record.key, record.value, record.headers)


def page_view(event_id: str, minutes: int = 1) -> object:
    event = an_example_of(ENGAGEMENT_RECORDED).model_copy(update={
        "lead_key": EMAIL, "email": EMAIL, "action": "page_view",
        "occurred_at": NOW + timedelta(minutes=minutes)})
    record = encode(ENGAGEMENT_RECORDED, "/test", EMAIL, event, event_id=event_id)
    return decode(record.key, record.value, record.headers)


def routed_mql(rules=RULES) -> Outcome:
    captured = a_captured_lead(at=NOW, email=EMAIL, employees=1200, country="US")
    outcome = handle_event(rules, None, an_envelope(captured, "c1"), NOW)
    assert outcome.decision is not None and outcome.decision.stage == "mql"
    return outcome


def types(outcome: Outcome) -> list[str]:
    return [announced.type for announced in outcome.announcements]


def test_given_an_mql_when_sales_sets_recycled_then_it_is_recycled_and_announced():
    outcome = handle_event(RULES, routed_mql().record, status_change("Recycled", "n1"), NOW)
    assert outcome.decision is not None
    assert (outcome.decision.stage, outcome.decision.previous_stage) == ("recycled", "mql")
    assert "recycle.returned_by_sales" in outcome.decision.matched_rules
    assert outcome.decision.owner.email == "nurture.queue@accord.example"
    assert types(outcome) == [LEAD_RECYCLED]
    recycled = outcome.announcements[0].data
    assert isinstance(recycled, LeadRecycled) and recycled.recycle_rule == "returned_by_sales"


def test_given_a_recycled_lead_when_it_scores_again_then_it_requalifies_and_stays_qualified():
    recycled = handle_event(RULES, routed_mql().record, status_change("Recycled", "n1"), NOW)
    # Salesforce still says "Recycled": the rule held already, so it does not act again.
    again = handle_event(RULES, recycled.record, page_view("v1"), NOW)
    later = handle_event(RULES, again.record, page_view("v2", minutes=2), NOW)
    assert again.decision is not None and again.decision.stage == "mql"
    assert LEAD_QUALIFIED in types(again)
    assert later.decision is not None and later.decision.stage == "mql"
    assert LEAD_RECYCLED not in types(later) and LEAD_QUALIFIED not in types(later)


def test_given_a_requalified_lead_when_sales_hands_it_back_again_then_it_is_recycled_again():
    recycled = handle_event(RULES, routed_mql().record, status_change("Recycled", "n1"), NOW)
    requalified = handle_event(RULES, recycled.record, page_view("v1"), NOW)
    again = handle_event(RULES, requalified.record,
                         status_change("Closed - Not Converted", "n2"), NOW)
    assert requalified.decision is not None and requalified.decision.stage == "mql"
    assert again.decision is not None and again.decision.stage == "recycled"
    assert types(again) == [LEAD_RECYCLED]


def test_given_a_recycled_lead_when_no_stage_rule_qualifies_it_then_it_stays_recycled():
    rules = parse_rules(REPO_ROOT.joinpath("rules", "leads.yaml").read_text().replace(
        "    when: score >= 60", "    when: score >= 60 && lead.engagements == 0"))
    recycled = handle_event(rules, routed_mql(rules).record, status_change("Recycled", "n1"),
                            NOW)
    again = handle_event(rules, recycled.record, page_view("v1"), NOW)
    assert again.decision is not None and again.decision.stage == "recycled"
    assert types(again) == [LEAD_SCORED]  # the page view's point


def test_given_no_recycle_rule_when_sales_sets_recycled_then_the_stage_never_moves_back():
    text = REPO_ROOT.joinpath("rules", "leads.yaml").read_text()
    without = re.sub(r"\nrecycle:\n(?: .*\n)+", "\n", text)
    rules = parse_rules(without.replace("matched: [recycle.returned_by_sales]", "matched: []"))
    assert rules.recycle == ()
    outcome = handle_event(rules, routed_mql(rules).record, status_change("Recycled", "n1"),
                           NOW)
    assert outcome.decision is not None and outcome.decision.stage == "mql"
    assert outcome.announcements == ()


def test_given_a_new_mql_when_decided_then_scored_and_qualified_are_announced_with_its_facts():
    outcome = routed_mql()
    decision = outcome.decision
    assert decision is not None
    assert types(outcome) == [LEAD_SCORED, LEAD_QUALIFIED]
    for announced in outcome.announcements:
        data = announced.data.model_dump()
        assert announced.event_id == str(uuid.UUID(announced.event_id))
        assert announced.event_id == announcement_id(decision.decision_id, announced.type)
        assert data["ruleset_version"] == RULES.version
        assert data["matched_rules"] == decision.matched_rules
        assert data["score_breakdown"] == [line.model_dump() for line in
                                           decision.score_breakdown]
        assert data["lead"] == decision.lead.model_dump()


def test_given_a_redelivered_event_when_handled_then_the_same_announcements_are_made_again():
    first = routed_mql()
    again = handle_event(RULES, first.record, an_envelope(
        a_captured_lead(at=NOW, email=EMAIL, employees=1200, country="US"), "c1"), NOW)
    assert again.duplicate
    assert again.announcements == first.announcements


def test_given_an_older_event_redelivered_when_handled_then_nothing_is_announced():
    first = routed_mql()
    second = handle_event(RULES, first.record, page_view("v1"), NOW)
    stale = handle_event(RULES, second.record, an_envelope(
        a_captured_lead(at=NOW, email=EMAIL, employees=1200, country="US"), "c1"), NOW)
    assert stale.duplicate and stale.decision is None and stale.announcements == ()


def test_given_the_score_did_not_change_when_decided_again_then_no_scored_announcement():
    first = routed_mql()
    same = handle_event(RULES, first.record, status_change("Open - Not Contacted", "n1"), NOW)
    assert same.decision is not None and same.decision.score == first.decision.score
    assert same.announcements == ()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["Recycled", "Working - Contacted", "Nurture",
                                 "Closed - Not Converted"]), min_size=1, max_size=6))
def test_property_stages_only_move_back_by_a_recycle_and_ids_never_repeat(statuses):
    outcome = routed_mql()
    ids = {a.event_id for a in outcome.announcements}
    for index, status in enumerate(statuses):
        outcome = handle_event(RULES, outcome.record, status_change(status, f"n{index}"), NOW)
        if outcome.decision is None:
            continue
        decision = outcome.decision
        backwards = decision.previous_stage in ("sql", "mql") and decision.stage not in (
            "sql", "mql", "opportunity", "customer")
        assert backwards == (LEAD_RECYCLED in types(outcome))
        new_ids = {a.event_id for a in outcome.announcements}
        assert not new_ids & ids
        ids |= new_ids
