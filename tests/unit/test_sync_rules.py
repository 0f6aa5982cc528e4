"""Which golden fields go to which CRM, by each field's sync rule (HubSpot's rules for its
Salesforce integration, seen from Accord)."""

from __future__ import annotations

import pytest

from services.mapping.crm_mapping import FieldRules
from services.sync.sync_rules import fields_held_by, fields_to_write, writes_field

FORM = "/accord/ingest/v1/leads"


@pytest.mark.parametrize(("rule", "source", "to_salesforce", "to_hubspot"), [
    ("two_way", FORM, True, True),
    ("two_way", "salesforce", False, True),
    ("two_way", "hubspot", True, False),
    ("prefer_salesforce_unless_blank", FORM, True, True),  # fills Salesforce's blank
    ("prefer_salesforce_unless_blank", "hubspot", True, False),
    ("prefer_salesforce_unless_blank", "salesforce", False, True),
    ("always_salesforce", FORM, False, True),  # Salesforce owns it once the record exists
    ("always_salesforce", "salesforce", False, True),
    ("dont_sync", FORM, False, False),
    ("dont_sync", "salesforce", False, False),
])
def test_given_an_existing_record_when_a_rule_applies_then_each_crm_gets_what_it_says(
        rule, source, to_salesforce, to_hubspot):
    assert writes_field("salesforce", rule, source, exists=True) is to_salesforce
    assert writes_field("hubspot", rule, source, exists=True) is to_hubspot


@pytest.mark.parametrize("rule", ["two_way", "prefer_salesforce_unless_blank",
                                  "always_salesforce", "dont_sync"])
def test_given_accord_creates_the_record_when_any_rule_then_the_field_is_written(rule):
    assert writes_field("salesforce", rule, FORM, exists=False)
    assert writes_field("hubspot", rule, None, exists=False)


@pytest.mark.parametrize("rule", ["two_way", "dont_sync", "always_salesforce"])
def test_given_a_value_from_a_crm_when_creating_then_it_is_not_written_back_to_it(rule):
    assert not writes_field("hubspot", rule, "hubspot", exists=False)
    assert writes_field("salesforce", rule, "hubspot", exists=False)


def test_given_the_shipped_rules_when_an_existing_record_then_fields_follow_their_rules():
    rules = FieldRules(default="two_way", fields={
        "email": "prefer_salesforce_unless_blank", "lead_source": "always_salesforce",
        "phone": "dont_sync"})
    sources = {"email": FORM, "lead_source": FORM, "phone": FORM, "title": "hubspot",
               "company": "salesforce"}
    fields = ["email", "lead_source", "phone", "title", "company", "country"]

    assert fields_to_write("salesforce", fields, rules, sources, exists=True) == {
        "email", "title", "country"}
    assert fields_to_write("hubspot", fields, rules, sources, exists=True) == {
        "email", "lead_source", "company", "country"}
    assert fields_to_write("salesforce", fields, rules, sources, exists=False) == {
        "email", "lead_source", "phone", "title", "country"}


def test_given_sources_when_asking_what_a_crm_holds_then_the_fields_it_set():
    assert fields_held_by("salesforce", {"a": "salesforce", "b": "hubspot", "c": FORM}) == {"a"}
