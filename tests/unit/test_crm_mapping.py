"""The mapping file's sync rules and its reverse lookup (CRM field -> golden field)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from deploy.local.kafka_broker import REPO_ROOT
from services.mapping.crm_mapping import CrmMapping, load_mapping

MAPPING = load_mapping(REPO_ROOT / "mappings" / "crm.yaml")


def test_given_the_shipped_file_when_asking_rules_then_named_fields_and_default_apply():
    assert MAPPING.field_rules.rule_for("lead_source") == "always_salesforce"
    assert MAPPING.field_rules.rule_for("company") == "prefer_salesforce_unless_blank"
    assert MAPPING.field_rules.rule_for("title") == "two_way"


@pytest.mark.parametrize(("crm", "name", "golden"), [
    ("salesforce", "Title", "title"), ("salesforce", "numberofemployees", "employees"),
    ("hubspot", "jobtitle", "title"), ("hubspot", "numemployees", None),
    ("salesforce", "Accord_Score__c", None), ("hubspot", "hs_lead_status", None)])
def test_given_a_crm_field_when_looked_up_then_its_golden_field_or_none(crm, name, golden):
    assert MAPPING.golden_field(crm, name) == golden


def test_given_a_rule_for_an_unmapped_field_when_loaded_then_the_error_names_it():
    raw = MAPPING.model_dump()
    raw["field_rules"] = {"default": "two_way", "fields": {"shoe_size": "two_way"}}
    with pytest.raises(ValidationError, match="shoe_size"):
        CrmMapping.model_validate(raw)


def test_given_an_unknown_rule_when_loaded_then_the_allowed_rules_are_named():
    raw = MAPPING.model_dump()
    raw["field_rules"] = {"default": "hubspot_wins"}
    with pytest.raises(ValidationError, match="prefer_salesforce_unless_blank"):
        CrmMapping.model_validate(raw)
