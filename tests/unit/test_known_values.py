"""The write a record needs given what the CRM is known to hold: create, diff or skip."""

from __future__ import annotations

from datetime import date

from services.sync.known_values import as_json, decode_known, encode_known, plan, state_key

WANTED = {"Email": "ann@a.example", "Accord_Score__c": 50, "OwnerId": "005X"}


def test_given_nothing_known_when_planned_then_a_create_with_every_field():
    calls = []

    planned = plan(None, {}, lambda creating: calls.append(creating) or WANTED)

    assert calls == [True]
    assert planned.creating and not planned.skipped and not planned.learned
    assert planned.send == WANTED
    assert planned.after_write() == WANTED


def test_given_the_crm_holds_every_value_when_planned_then_the_record_is_skipped():
    planned = plan(dict(WANTED), {}, lambda creating: WANTED)

    assert planned.skipped and not planned.creating and not planned.learned


def test_given_one_changed_value_when_planned_then_only_that_field_is_sent():
    planned = plan(dict(WANTED), {}, lambda creating: {**WANTED, "Accord_Score__c": 70})

    assert planned.send == {"Accord_Score__c": 70}
    assert planned.after_write() == {**WANTED, "Accord_Score__c": 70}


def test_given_a_field_the_crm_never_got_when_planned_then_it_is_sent():
    planned = plan({"Email": "ann@a.example"}, {}, lambda creating: WANTED)

    assert planned.send == {"Accord_Score__c": 50, "OwnerId": "005X"}


def test_given_the_crm_changed_a_value_when_accord_writes_the_old_one_again_then_it_is_sent():
    # Accord wrote Phone A; a rep set B in the CRM (the decision says so); a form now says A.
    kept = {"Phone": "A"}
    learned = plan(kept, {"Phone": "B"}, lambda creating: {})
    assert learned.learned and learned.held == {"Phone": "B"} and learned.skipped

    again = plan(learned.held, {}, lambda creating: {"Phone": "A"})

    assert again.send == {"Phone": "A"}


def test_given_only_values_from_the_crm_when_planned_then_the_record_exists_and_is_diffed():
    calls = []

    planned = plan(None, {"Status": "Working - Contacted"},
                   lambda creating: calls.append(creating) or {"Status": "Working - Contacted",
                                                               "OwnerId": "005X"})

    assert calls == [False] and not planned.creating
    assert planned.send == {"OwnerId": "005X"}
    assert planned.learned


def test_given_values_that_json_changes_when_compared_after_a_restart_then_equal():
    kept = decode_known(encode_known(as_json({"closedate": date(2026, 11, 23), "n": (1, 2)})))

    planned = plan(kept, {}, lambda creating: {"closedate": date(2026, 11, 23), "n": (1, 2)})

    assert planned.skipped


def test_given_a_record_not_understood_when_decoded_then_unknown_so_written_again():
    assert decode_known(b"{not json") is None
    assert decode_known(b'{"other": 1}') is None
    assert decode_known(None) is None
    assert decode_known(encode_known({"a": 1})) == {"a": 1}


def test_given_a_crm_and_a_lead_key_when_keyed_then_crm_colon_key():
    assert state_key("hubspot", "ann@a.example") == "hubspot:ann@a.example"
