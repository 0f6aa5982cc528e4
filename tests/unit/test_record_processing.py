"""The router's per-record step, without Kafka: state changes and records to publish."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.contracts.envelope import decode, encode
from services.contracts.events import (
    HUBSPOT_CHANGE_RECEIVED,
    LEAD_CAPTURED,
    LEAD_ROUTED,
    LEAD_SCORED,
    HubSpotChangeReceived,
)
from services.messaging.dead_letters import PREFIX
from services.router.crm_fields import NO_CRM
from services.router.golden_record import GoldenRecord
from services.router.record_processing import (
    Incoming,
    StepResult,
    link_crm_change,
    process_record,
    record_key,
)
from services.router.rules.loader import load_rules
from tests.builders import a_captured_lead

RULES = load_rules(Path("rules/leads.yaml"))
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def an_incoming(event_id: str = "evt-1", offset: int = 0, **lead: object) -> Incoming:
    captured = a_captured_lead(**lead)
    record = encode(LEAD_CAPTURED, "/test", captured.lead_key, captured, event_id=event_id)
    return Incoming("lead-events", 0, offset, record.key, record.value, list(record.headers))


def run(*records: Incoming, state: dict[str, bytes] | None = None) -> StepResult:
    result = StepResult()
    committed = state or {}

    def lookup(key: str) -> bytes | None:
        return result.changes.get(key, committed.get(key))

    for incoming in records:
        process_record(RULES, lookup, incoming, NOW, NO_CRM, result)
    return result


def test_given_a_new_lead_when_processed_then_its_record_is_stored_and_a_decision_published():
    result = run(an_incoming(email="ada@siemens.example", employees=5000, country="DE"))
    # The record, and the first-touch SLA clock its route (enterprise_emea) starts.
    assert list(result.changes) == [record_key("ada@siemens.example"),
                                    "sla:ada@siemens.example"]
    published = [decode(o.key, o.value, o.headers) for o in result.outputs]
    assert {o.kind for o in result.outputs} == {"decisions"}
    # The decision first, then what it announces, all under the lead's key.
    assert published[0].type == LEAD_ROUTED
    assert published[0].data["lead_key"] == "ada@siemens.example"
    assert LEAD_SCORED in [e.type for e in published[1:]]
    assert {o.key for o in result.outputs} == {b"ada@siemens.example"}
    assert result.decided == 1 and result.dead_lettered == 0


def test_given_a_redelivery_when_processed_then_state_unchanged_and_same_decision_repeats():
    first = run(an_incoming(email="ada@siemens.example"))
    again = run(an_incoming(email="ada@siemens.example"), state=first.changes)
    assert again.changes == {}
    assert [o.value for o in again.outputs] == [o.value for o in first.outputs]


def test_given_two_events_of_one_lead_in_a_batch_when_processed_then_the_second_sees_the_first():
    result = run(an_incoming("e1", email="ada@siemens.example", employees=5000, country="DE"),
                 an_incoming("e2", 1, email="ada@siemens.example", employees=None,
                             country="DE", lead_source="demo_request"))
    decisions = [decode(o.key, o.value, o.headers).data for o in result.outputs
                 if dict(o.headers)["ce_type"] == LEAD_ROUTED.encode()]
    assert len(decisions) == 2
    assert decisions[1]["lead"]["employees"] == 5000  # kept from the first event


def test_given_a_poison_record_when_processed_then_it_is_dead_lettered_with_its_reason():
    poison = Incoming("lead-events", 4, 17, b"x@y.example", b"{not json", [])
    result = run(poison)
    [out] = result.outputs
    headers = dict(out.headers)
    assert out.kind == "dead_letters" and result.changes == {}
    assert headers[PREFIX + "offset"] == b"17" and headers[PREFIX + "partition"] == b"4"
    assert headers[PREFIX + "reason"]


def test_given_a_record_without_key_when_processed_then_the_reason_names_the_key():
    result = run(Incoming("lead-events", 0, 0, None, b"{}", []))
    assert b"no key" in dict(result.outputs[0].headers)[PREFIX + "reason"]


def a_hubspot_change(event_id: int, prop: str, value: str, object_id: int = 901) -> Incoming:
    change = HubSpotChangeReceived(
        event_id=event_id, subscription_id=1, portal_id=62515, app_id=7,
        occurred_at=NOW, subscription_type="contact.propertyChange", attempt_number=0,
        object_id=object_id, object_type="contact", change_source="CRM_UI",
        property_name=prop, property_value=value)
    key = f"hubspot:62515:contact:{object_id}"
    record = encode(HUBSPOT_CHANGE_RECEIVED, "/test", key, change, event_id=f"hs-{event_id}")
    return Incoming("crm-changes", 0, event_id, record.key, record.value, list(record.headers))


def link(*records: Incoming) -> StepResult:
    result = StepResult()
    for incoming in records:
        link_crm_change(lambda k: result.changes.get(k), incoming, result)
    return result


def test_given_a_change_naming_the_email_when_linked_then_later_changes_of_that_contact_follow():
    result = link(a_hubspot_change(1, "email", "Ada@Siemens.example"),
                  a_hubspot_change(2, "lifecyclestage", "salesqualifiedlead"))
    assert [o.kind for o in result.outputs] == ["crm_changes_by_lead"] * 2
    assert {o.key for o in result.outputs} == {b"ada@siemens.example"}
    assert result.changes == {"link:hubspot:62515:contact:901": b"ada@siemens.example"}


def test_given_a_contact_never_linked_when_it_changes_then_dead_lettered_saying_why():
    result = link(a_hubspot_change(3, "lifecyclestage", "lead", object_id=999))
    [out] = result.outputs
    assert out.kind == "dead_letters"
    reason = dict(out.headers)[PREFIX + "reason"].decode()
    assert "hubspot:62515:contact:999" in reason and "names no lead" in reason


def a_hubspot_merge(event_id: int, primary: int, merged: list[int], new: int) -> Incoming:
    change = HubSpotChangeReceived(
        event_id=event_id, subscription_id=1, portal_id=62515, app_id=7,
        occurred_at=NOW, subscription_type="contact.merge", attempt_number=0,
        object_id=primary, object_type="contact", change_source="CRM_UI",
        primary_object_id=primary, merged_object_ids=merged, new_object_id=new)
    key = f"hubspot:62515:contact:{primary}"
    record = encode(HUBSPOT_CHANGE_RECEIVED, "/test", key, change, event_id=f"hs-{event_id}")
    return Incoming("crm-changes", 0, event_id, record.key, record.value, list(record.headers))


def test_given_a_merge_into_a_new_id_when_linked_then_changes_of_the_new_id_find_the_lead():
    # 901 is Ada's contact; it is merged with 902 into a new record 950.
    result = link(a_hubspot_change(1, "email", "ada@siemens.example", object_id=901),
                  a_hubspot_merge(2, primary=901, merged=[902], new=950),
                  a_hubspot_change(3, "lifecyclestage", "opportunity", object_id=950))
    assert [o.kind for o in result.outputs] == ["crm_changes_by_lead"] * 3
    assert {o.key for o in result.outputs} == {b"ada@siemens.example"}
    assert result.changes == {f"link:hubspot:62515:contact:{i}": b"ada@siemens.example"
                              for i in (901, 902, 950)}


def test_given_a_merge_when_applied_to_the_record_then_it_links_the_resulting_contact():
    linked = link(a_hubspot_change(1, "email", "ada@siemens.example", object_id=901),
                  a_hubspot_merge(2, primary=901, merged=[902], new=950))
    state = run(*(Incoming("by-lead", 0, n, o.key, o.value, o.headers)
                  for n, o in enumerate(linked.outputs))).changes
    record = GoldenRecord.model_validate_json(state[record_key("ada@siemens.example")])
    assert record.crm_ids["hubspot.contact"] == "950"
