"""Named classes (warm, cold, …) and known accounts in decisions, and routes reading them."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from deploy.local.kafka_broker import REPO_ROOT
from services.router.decide import decide
from services.router.golden_record import merge_captured, new_record, record_decision
from services.router.rules.loader import load_rules, parse_rules
from tests.builders import a_captured_lead

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SHIPPED = load_rules(REPO_ROOT / "rules" / "leads.yaml")
RULES = parse_rules("""\
version: "1"
accounts:
  - {name: Globex Corporation, domains: [globex.example], owner: tom@accord.example}
scoring:
  - {name: big, when: lead.employees >= 1000, points: 60}
  - {name: known_account, when: account != '', points: 5}
stages:
  - {stage: mql, when: score >= 60}
classification:
  - {name: hot, when: stage == 'mql' && lead.country == 'US'}
  - {name: warm, when: stage == 'mql'}
  - {name: cold, default: true}
routing:
  - name: account_owner_for_warm_leads
    when: classification in ['hot', 'warm']
    assign: {account_owner: true}
  - {name: hot_to_james, when: classification == 'hot', assign: {user: james@accord.example}}
  - {name: warm_to_amara, when: classification == 'warm', assign: {user: amara@accord.example}}
  - {name: nurture, default: true, assign: {queue: nurture@accord.example}}
""")


def decision_for(rules=RULES, **lead):
    event = a_captured_lead(at=NOW, **lead)
    record = merge_captured(new_record(event.lead_key), "e1", event, "/test")
    return decide(rules, record, "e1", NOW)


def test_given_classes_when_several_hold_then_the_first_in_file_order_wins():
    decision = decision_for(email="a@x.example", employees=5000, country="US")
    assert decision.classification == "hot"
    assert decision.owner.email == "james@accord.example"
    assert decision.matched_rules[-2:] == ["classification.hot", "routing.hot_to_james"]


def test_given_no_class_condition_holds_when_decided_then_the_default_class_and_route():
    decision = decision_for(email="a@x.example", employees=10, country="US")
    assert decision.classification == "cold"
    assert decision.owner.route == "nurture"
    assert "classification.cold" in decision.matched_rules


def test_given_a_file_without_classification_when_decided_then_the_decision_has_none():
    decision = decision_for(parse_rules("""\
version: "1"
routing:
  - {name: rest, default: true, assign: {queue: q@example.com}}
"""), email="a@x.example")
    assert decision.classification is None
    assert not any(rule.startswith("classification.") for rule in decision.matched_rules)


def test_given_a_lead_of_a_known_account_when_routed_then_the_account_owner_gets_it():
    decision = decision_for(email="hank@eu.globex.example", employees=5000, country="DE")
    assert decision.account is not None
    assert (decision.account.name, decision.account.matched_by, decision.account.matched_on) == (
        "Globex Corporation", "email_domain", "globex.example")
    assert (decision.owner.kind, decision.owner.email) == ("user", "tom@accord.example")
    assert decision.owner.route == "account_owner_for_warm_leads"
    assert decision.matched_rules[0] == "accounts.Globex Corporation"
    assert "scoring.known_account" in decision.matched_rules  # `account` read in scoring


def test_given_no_account_matches_when_an_account_owner_route_holds_then_the_next_entry_wins():
    decision = decision_for(email="a@elsewhere.example", company="Elsewhere", employees=5000,
                            country="DE")
    assert decision.account is None
    assert decision.classification == "warm"
    assert decision.owner.route == "warm_to_amara"


def test_given_a_free_mail_lead_naming_a_known_company_when_decided_then_matched_by_name():
    decision = decision_for(email="hank@gmail.com", company="GLOBEX CORP.", employees=5000)
    assert decision.account is not None and decision.account.matched_by == "company_name"
    assert decision.owner.email == "tom@accord.example"


def test_given_a_routed_lead_when_decided_again_then_previous_stage_and_score_are_named():
    event = a_captured_lead(at=NOW, email="a@x.example", employees=10)
    record = merge_captured(new_record(event.lead_key), "e1", event, "/test")
    first = decide(RULES, record, "e1", NOW)
    again = decide(RULES, record_decision(record, first), "e2", NOW)
    assert (first.previous_stage, first.previous_score) == (None, None)
    assert (again.previous_stage, again.previous_score) == (first.stage, first.score)


def test_given_the_shipped_rules_when_cold_and_warm_leads_are_routed_then_nurture_and_sales():
    cold = decision_for(SHIPPED, email="cy@gmail.com", employees=None, country=None,
                        title=None, lead_source="web_form", company=None)
    warm = decision_for(SHIPPED, email="ada@siemens.example", employees=5000, country="DE")
    assert (cold.classification, cold.owner.email) == ("cold", "nurture.queue@accord.example")
    assert (warm.classification, warm.owner.email) == ("warm", "maria.garcia@accord.example")


leads = st.fixed_dictionaries({
    "email": st.one_of(st.emails(), st.sampled_from(["x@globex.example", "y@gmail.com"])),
    "company": st.one_of(st.none(), st.sampled_from(["Globex", "Globex, Inc.", "Initrode"])),
    "employees": st.one_of(st.none(), st.integers(0, 100_000)),
    "country": st.one_of(st.none(), st.sampled_from(["US", "DE", "BR"])),
})


@settings(max_examples=200, deadline=None)
@given(leads)
def test_property_every_decision_has_one_class_and_account_owner_only_with_an_account(lead):
    decision = decision_for(**lead)
    assert decision.classification in {"hot", "warm", "cold"}
    assert sum(1 for r in decision.matched_rules if r.startswith("classification.")) == 1
    if decision.owner.route == "account_owner_for_warm_leads":
        assert decision.account is not None
        assert decision.owner.email == decision.account.owner
    if decision.account is None:
        assert not any(r.startswith("accounts.") for r in decision.matched_rules)
