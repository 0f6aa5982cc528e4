"""Engagement scoring with decay, revenue, first touch, and customers keeping their owner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from deploy.local.kafka_broker import REPO_ROOT
from services.contracts.envelope import decode, encode
from services.contracts.events import (
    ENGAGEMENT_RECORDED,
    REVENUE_RECORDED,
    Attribution,
    EngagementRecorded,
    RevenueRecorded,
)
from services.router.handle_event import handle_event
from services.router.rules.loader import RuleFileError, load_rules, parse_rules
from tests.builders import a_captured_lead, an_envelope

RULES = load_rules(REPO_ROOT / "rules" / "leads.yaml")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EMAIL = "eve@buyer.example"


def engaged(action: str, days_ago: float, campaign: str | None = None, event_id: str = "g1"):
    event = EngagementRecorded(lead_key=EMAIL, email=EMAIL, action=action,
                               occurred_at=NOW - timedelta(days=days_ago),
                               attribution=Attribution(campaign=campaign))
    record = encode(ENGAGEMENT_RECORDED, "/test", EMAIL, event, event_id=event_id)
    return decode(record.key, record.value, record.headers)


def paid(amount: str, reference: str, event_id: str):
    event = RevenueRecorded(lead_key=EMAIL, email=EMAIL, amount=Decimal(amount), currency="EUR",
                            occurred_at=NOW, reference=reference, system="billing")
    record = encode(REVENUE_RECORDED, "/test", EMAIL, event, event_id=event_id)
    return decode(record.key, record.value, record.headers)


def test_given_an_unknown_lead_when_it_engages_then_a_record_and_a_decision_are_made():
    outcome = handle_event(RULES, None, engaged("webinar_signup", 0), NOW)
    assert outcome.record.fields["email"].value == EMAIL
    assert outcome.decision is not None
    assert "engagement.webinar_signup" in outcome.decision.matched_rules


def test_given_a_webinar_sixty_days_ago_when_scored_then_its_points_halved_twice():
    outcome = handle_event(RULES, None, engaged("webinar_signup", 60), NOW)
    [line] = [x for x in outcome.decision.score_breakdown if x.rule.startswith("engagement.")]
    assert (line.rule, line.points) == ("engagement.webinar_signup", 4)  # 15 / 4 = 3.75


def test_given_two_campaigns_when_merged_then_the_earliest_is_the_first_touch():
    first = handle_event(RULES, None, engaged("page_view", 2, "spring", "a"), NOW)
    second = handle_event(RULES, first.record, engaged("content_download", 9, "autumn", "b"),
                          NOW)
    assert second.record.first_touch is not None
    assert second.record.first_touch.campaign == "autumn"


def test_given_an_mql_when_revenue_is_booked_twice_then_counted_once_customer_same_owner():
    captured = a_captured_lead(at=NOW, email=EMAIL, employees=8000, country="US")
    routed = handle_event(RULES, None, an_envelope(captured, "c1"), NOW)
    assert routed.decision is not None
    owner = routed.decision.owner.email
    won = handle_event(RULES, routed.record, paid("48000.00", "INV-1", "r1"), NOW)
    again = handle_event(RULES, won.record, paid("48000.00", "INV-1", "r2"), NOW)
    assert again.record.revenue == Decimal("48000.00")
    assert won.decision is not None and won.decision.stage == "customer"
    assert won.decision.owner.email == owner
    assert won.decision.owner.route == "sales_accepted_stays_with_owner"


def test_given_an_unknown_engagement_action_when_parsed_then_the_line_is_named():
    text = (REPO_ROOT / "rules" / "leads.yaml").read_text().replace(
        "    page_view: 1", "    page_veiw: 1")
    with pytest.raises(RuleFileError) as caught:
        parse_rules(text, "rules.yaml")
    [problem] = caught.value.problems
    assert "unknown engagement action `page_veiw`" in problem.message
    assert "page_view" in problem.hint


def test_given_keep_on_the_default_route_when_parsed_then_refused():
    text = (REPO_ROOT / "rules" / "leads.yaml").read_text().replace(
        "    assign: {queue: nurture.queue@accord.example}", "    assign: {keep: owner}")
    with pytest.raises(RuleFileError, match="default route must name an owner"):
        parse_rules(text, "rules.yaml")
