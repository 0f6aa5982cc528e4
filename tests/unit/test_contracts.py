"""The event contracts: published schemas match the models; the envelope round-trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest

from deploy.local.kafka_broker import REPO_ROOT
from services.contracts.envelope import EnvelopeError, decode, encode
from services.contracts.events import (
    CONTRACTS,
    LEAD_CAPTURED,
    LEAD_QUALIFIED,
    LEAD_RECYCLED,
    LEAD_ROUTED,
    LEAD_SCORED,
    SALESFORCE_CHANGE_RECEIVED,
)
from services.contracts.schema_files import expected_schema, render, schema_path
from services.router.decide import decide
from services.router.golden_record import merge_captured, new_record
from services.router.handle_event import handle_event
from services.router.rules.loader import load_rules
from tests.builders import a_captured_lead, an_envelope, an_example_of


def an_instance_of(event_type):
    """``an_example_of``, and for the events a decision announces, one it announced."""
    if event_type not in (LEAD_SCORED, LEAD_QUALIFIED, LEAD_RECYCLED):
        return an_example_of(event_type)
    rules = load_rules(REPO_ROOT / "rules" / "leads.yaml")
    now = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    routed = handle_event(rules, None, an_envelope(a_captured_lead(at=now)), now)
    outcome = routed
    if event_type == LEAD_RECYCLED:
        change = an_example_of(SALESFORCE_CHANGE_RECEIVED)
        change = change.model_copy(update={"fields": {
            "Status": "Recycled", "Accord_Lead_Key__c": routed.record.lead_key}})
        record = encode(SALESFORCE_CHANGE_RECEIVED, "/sf", "sf:Lead", change, event_id="n1")
        outcome = handle_event(rules, routed.record,
                               decode(record.key, record.value, record.headers), now)
    [announced] = [a for a in outcome.announcements if a.type == event_type]
    return announced.data


@pytest.mark.parametrize("event_type", sorted(CONTRACTS))
def test_given_a_contract_model_when_compared_to_its_schema_file_then_they_match(event_type):
    published = schema_path(event_type).read_text()
    assert published == render(expected_schema(event_type)), (
        f"{schema_path(event_type)} is out of date with its model: "
        "run `python -m services.contracts.schema_files` and review the diff"
    )


def test_given_a_captured_lead_when_encoded_then_value_validates_against_schema():
    event = a_captured_lead()
    record = encode(LEAD_CAPTURED, "/test", event.lead_key, event)
    schema = json.loads(schema_path(LEAD_CAPTURED).read_text())
    jsonschema.validate(json.loads(record.value), schema,
                        format_checker=jsonschema.FormatChecker())


def test_given_a_decision_when_encoded_then_value_validates_against_schema():
    rules = load_rules(REPO_ROOT / "rules" / "leads.yaml")
    event = a_captured_lead()
    record = merge_captured(new_record(event.lead_key), "e1", event, "/test")
    decision = decide(rules, record, "e1", datetime.now(UTC))
    encoded = encode(LEAD_ROUTED, "/test", decision.lead_key, decision)
    schema = json.loads(schema_path(LEAD_ROUTED).read_text())
    jsonschema.validate(json.loads(encoded.value), schema,
                        format_checker=jsonschema.FormatChecker())


def test_given_an_event_when_encoded_then_binary_mode_headers_and_key_are_set():
    event = a_captured_lead(email="Grace.Hopper@Navy.example")
    record = encode(LEAD_CAPTURED, "/test", event.lead_key, event, event_id="id-1")
    headers = dict(record.headers)
    assert record.key == b"grace.hopper@navy.example"
    assert headers["ce_id"] == b"id-1"
    assert headers["ce_type"] == LEAD_CAPTURED.encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_dataschema"] == b"urn:accord:schema:lead.captured:v1"
    decoded = decode(record.key, record.value, record.headers)
    assert decoded.id == "id-1"
    assert decoded.data["lead_key"] == "grace.hopper@navy.example"


@pytest.mark.parametrize("missing", ["ce_id", "ce_type", "ce_source", "ce_specversion"])
def test_given_a_record_without_a_required_header_when_decoded_then_error_names_it(missing):
    event = a_captured_lead()
    record = encode(LEAD_CAPTURED, "/test", event.lead_key, event)
    headers = [(k, v) for k, v in record.headers if k != missing]
    with pytest.raises(EnvelopeError, match=missing):
        decode(record.key, record.value, headers)


def test_given_a_value_that_is_not_json_when_decoded_then_envelope_error():
    event = a_captured_lead()
    record = encode(LEAD_CAPTURED, "/test", event.lead_key, event)
    with pytest.raises(EnvelopeError):
        decode(record.key, b"{not json", record.headers)


def _sdk_encoding(record):
    """What the CloudEvents SDK itself produces for the same event."""
    from cloudevents.core.bindings import kafka as ce_kafka
    from cloudevents.core.v1.event import CloudEvent

    decoded = decode(record.key, record.value, record.headers)
    attributes = {"id": decoded.id, "type": decoded.type, "source": decoded.source,
                  "datacontenttype": "application/json", "dataschema": decoded.dataschema}
    return ce_kafka.to_binary_event(CloudEvent(attributes=attributes, data=decoded.data),
                                    key_mapper=lambda _: record.key.decode())


@pytest.mark.parametrize("event_type", sorted(CONTRACTS))
def test_given_each_contract_when_encoded_then_the_sdk_reads_it_as_it_would_write_it(
        event_type):
    instance = an_instance_of(event_type)
    record = encode(event_type, "/test", "key@example.com", instance)
    sdk = _sdk_encoding(record)
    ours = dict(record.headers)
    assert set(ours) == set(sdk.headers)
    for name in ("ce_id", "ce_type", "ce_source", "ce_specversion", "ce_dataschema",
                 "content-type"):
        assert ours[name] == sdk.headers[name]
    assert json.loads(record.value) == json.loads(sdk.value)
    assert type(instance).model_validate_json(record.value) == instance
    schema = json.loads(schema_path(event_type).read_text())
    jsonschema.validate(json.loads(record.value), schema,
                        format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("event_type", sorted(CONTRACTS))
def test_given_what_the_sdk_writes_when_decoded_then_the_same_as_the_sdk_reads_it(event_type):
    from cloudevents.core.bindings import kafka as ce_kafka

    record = encode(event_type, "/test", "key@example.com", an_instance_of(event_type))
    sdk_message = _sdk_encoding(record)
    ours = decode(record.key, sdk_message.value, list(sdk_message.headers.items()))
    theirs = ce_kafka.from_binary_event(sdk_message)
    assert (ours.id, ours.type, ours.source, ours.dataschema) == (
        theirs.get_id(), theirs.get_type(), theirs.get_source(), theirs.get_dataschema())
    assert ours.data == theirs.get_data()


def test_given_a_record_of_another_specversion_when_decoded_then_envelope_error():
    event = a_captured_lead()
    record = encode(LEAD_CAPTURED, "/test", event.lead_key, event)
    headers = [(k, b"0.3" if k == "ce_specversion" else v) for k, v in record.headers]
    with pytest.raises(EnvelopeError, match="specversion"):
        decode(record.key, record.value, headers)
