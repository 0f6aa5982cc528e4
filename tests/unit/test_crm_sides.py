"""Per field sync rules through the shipped mapping, and no call when a CRM holds it all."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiokafka import ConsumerRecord

from deploy.local.kafka_broker import REPO_ROOT
from services.contracts.envelope import encode
from services.contracts.events import LEAD_ROUTED, OPPORTUNITY_WON, LeadRouted, OpportunityWon
from services.mapping.crm_mapping import load_mapping
from services.sync.batch_plan import Decided, Won, to_keep
from services.sync.crm_sides import CrmSides
from services.sync.crm_writes import BatchOutcome
from services.sync.known_values import state_key
from services.sync.outcome_mapping import load_outcome_mapping
from tests.builders import an_example_of

MAPPING = load_mapping(REPO_ROOT / "mappings" / "crm.yaml")
OUTCOMES = load_outcome_mapping(REPO_ROOT / "mappings" / "crm_outcomes.yaml")
FORM = "/accord/ingest/v1/leads"


class FakeCrm:
    """Owners known; every upsert accepted and remembered."""

    def __init__(self) -> None:
        self.sent: list[list[Any]] = []

    def owner_id(self, email: str) -> str:
        return "OWNER"

    def _accept(self, records: list[Any]) -> BatchOutcome:
        self.sent.append(list(records))
        return BatchOutcome(written={r.key: f"id-{r.key}" for r in records})

    def upsert_leads(self, external_id_field: str, records: list[Any]) -> BatchOutcome:
        return self._accept(records)

    def upsert_contacts(self, id_property: str, records: list[Any]) -> BatchOutcome:
        return self._accept(records)

    def upsert_deals(self, records: list[Any]) -> BatchOutcome:
        return self._accept(records)


def sides() -> tuple[CrmSides, FakeCrm, FakeCrm]:
    salesforce, hubspot = FakeCrm(), FakeCrm()
    return CrmSides(MAPPING, OUTCOMES, salesforce, hubspot), salesforce, hubspot  # type: ignore[arg-type]


def a_decision(sources: dict[str, str] | None = None, **lead: Any) -> LeadRouted:
    example: LeadRouted = an_example_of(LEAD_ROUTED)
    return example.model_copy(update={
        "field_sources": sources or {},
        "lead": example.lead.model_copy(update={"phone": "+44 20 7946 0000", **lead})})


def a_record(event: Any, event_type: str = LEAD_ROUTED) -> ConsumerRecord:
    encoded = encode(event_type, "/test", event.lead_key, event)
    return ConsumerRecord("decisions", 0, 1, 0, 0, encoded.key, encoded.value, None,
                          len(encoded.key), len(encoded.value), encoded.headers)


def test_given_an_existing_lead_when_fields_planned_then_each_rule_is_honoured():
    crm, _, _ = sides()
    decision = a_decision({"email": FORM, "company": "salesforce", "lead_source": FORM,
                           "phone": FORM, "title": "hubspot", "first_name": FORM})

    salesforce = crm.salesforce_fields(decision, "005X", creating=False)
    hubspot = crm.hubspot_fields(decision, "41", creating=False)

    assert salesforce["Email"] == decision.lead.email  # prefer_sf_unless_blank: fills a blank
    assert "Company" not in salesforce  # came from Salesforce
    assert "LeadSource" not in salesforce  # always_salesforce: Salesforce owns it
    assert "Phone" not in salesforce and "phone" not in hubspot  # dont_sync after the create
    assert salesforce["Title"] == "VP Engineering"  # two_way, from HubSpot
    assert "jobtitle" not in hubspot  # not written back to where it came from
    assert hubspot["company"] == "Analytical Engines"  # Salesforce's value reaches HubSpot
    assert salesforce["FirstName"] == hubspot["firstname"] == "Ada"


def test_given_a_create_when_fields_planned_then_dont_sync_and_always_salesforce_go_too():
    crm, _, _ = sides()
    decision = a_decision({"lead_source": FORM, "phone": FORM})

    salesforce = crm.salesforce_fields(decision, "005X", creating=True)
    hubspot = crm.hubspot_fields(decision, "41", creating=True)

    assert salesforce["Phone"] == hubspot["phone"] == "+44 20 7946 0000"
    assert salesforce["LeadSource"] == "demo_request"


def test_given_a_decision_written_when_the_same_comes_again_then_no_crm_is_called():
    crm, salesforce, hubspot = sides()
    decided = [Decided(a_record(a_decision()), a_decision())]

    first_sf = crm.write_salesforce(decided, {})
    first_hs = crm.write_contacts(decided, {})
    known = {**to_keep(*first_sf), **to_keep(*first_hs)}
    again_sf = crm.write_salesforce(decided, known)
    again_hs = crm.write_contacts(decided, known)

    assert len(salesforce.sent) == len(hubspot.sent) == 1
    assert again_sf[0].skipped == (decided[0].lead_key,)
    assert again_hs[0].skipped == (str(decided[0].decision.lead.email),)
    assert state_key("salesforce", decided[0].lead_key) in known


def test_given_a_new_score_when_written_again_then_only_the_changed_fields_are_sent():
    crm, salesforce, _ = sides()
    before = a_decision()
    known = to_keep(*crm.write_salesforce([Decided(a_record(before), before)], {}))
    after = before.model_copy(update={"score": before.score + 5})

    crm.write_salesforce([Decided(a_record(after), after)], known)

    assert dict(salesforce.sent[-1][0].fields) == {"Accord_Score__c": before.score + 5}


def test_given_a_win_when_written_twice_then_one_deal_call_with_the_amount_and_contact():
    crm, _, hubspot = sides()
    won: OpportunityWon = an_example_of(OPPORTUNITY_WON)
    won = won.model_copy(update={"amount": Decimal("48000.00")})
    item = Won(a_record(won, OPPORTUNITY_WON), won)

    known = to_keep(*crm.write_deals([item], {}))
    crm.write_deals([item], known)

    [[deal]] = hubspot.sent
    assert deal.key == won.opportunity_id
    assert deal.contact_email == won.lead.email
    assert deal.properties["amount"] == "48000.00"
    assert deal.properties["dealstage"] == "closedwon"
    assert state_key("hubspot", f"deal:{won.opportunity_id}") in known
