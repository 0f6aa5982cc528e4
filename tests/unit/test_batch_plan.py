"""What a batch of decisions comes to: the last decision per lead, the records for each CRM,
and the dead letters for what is refused."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord

from deploy.local.kafka_broker import REPO_ROOT
from services.contracts.envelope import encode
from services.contracts.events import (
    LEAD_ROUTED,
    LEAD_SCORED,
    OPPORTUNITY_WON,
    LeadRouted,
    LeadScored,
)
from services.mapping.crm_mapping import load_mapping
from services.sync.batch_plan import (
    UNKNOWN_OWNER,
    Decided,
    build_deal_writes,
    build_writes,
    dead_letters,
    kept_by_partition,
    known_keys,
    merge_batches,
    read_batch,
    to_keep,
)
from services.sync.crm_writes import BatchOutcome, RecordRejected
from services.sync.field_mapping import hubspot_contact, salesforce_lead
from tests.builders import an_example_of

MAPPING = load_mapping(REPO_ROOT / "mappings" / "crm.yaml")
MARIA = "maria.garcia@accord.example"


def a_decision(email: str, score: int = 50, owner: str = MARIA) -> LeadRouted:
    example: LeadRouted = an_example_of(LEAD_ROUTED)
    return example.model_copy(update={
        "lead_key": email, "score": score, "decision_id": f"d-{email}-{score}",
        "lead": example.lead.model_copy(update={"email": email}),
        "owner": example.owner.model_copy(update={"email": owner})})


def a_record(offset: int, event: Any, event_type: str = LEAD_ROUTED,
             partition: int = 0) -> ConsumerRecord:
    encoded = encode(event_type, "/test", event.lead_key, event)
    return ConsumerRecord("decisions", partition, offset, 0, 0, encoded.key, encoded.value,
                          None, len(encoded.key), len(encoded.value), encoded.headers)


def a_raw_record(offset: int, value: bytes) -> ConsumerRecord:
    return ConsumerRecord("decisions", 0, offset, 0, 0, b"k", value, None, 1, len(value),
                          [("ce_type", LEAD_ROUTED.encode())])


def test_given_two_decisions_for_one_lead_when_read_then_only_the_last_is_kept():
    records = [a_record(10, a_decision("ann@a.example", score=10)),
               a_record(11, a_decision("bo@b.example", score=20)),
               a_record(12, a_decision("ann@a.example", score=30))]

    batch = read_batch(records)

    assert [(d.decision.lead_key, d.decision.score, d.record.offset) for d in batch.latest] == [
        ("bo@b.example", 20, 11), ("ann@a.example", 30, 12)]
    assert batch.unreadable == ()


def test_given_records_out_of_offset_order_when_read_then_the_highest_offset_wins():
    records = [a_record(12, a_decision("ann@a.example", score=30)),
               a_record(10, a_decision("ann@a.example", score=10))]

    batch = read_batch(records)

    assert [d.decision.score for d in batch.latest] == [30]


def test_given_other_decision_types_when_read_then_they_are_skipped_not_dead_lettered():
    scored = LeadScored(**dict(a_decision("ann@a.example")))

    batch = read_batch([a_record(1, scored, LEAD_SCORED)])

    assert batch.latest == () and batch.unreadable == ()


def test_given_an_undecodable_record_when_read_then_it_is_a_dead_letter_with_the_reason():
    broken = a_raw_record(7, b"{not json")

    batch = read_batch([broken, a_record(8, a_decision("ann@a.example"))])

    assert len(batch.latest) == 1
    [letter] = batch.unreadable
    assert letter.record is broken
    assert letter.reason.startswith("unreadable decision:")
    assert letter.extra == {"crm": "none"}


def test_given_decisions_and_known_owners_when_built_then_one_record_per_lead_with_mapping():
    decided = list(read_batch([a_record(1, a_decision("ann@a.example")),
                               a_record(2, a_decision("bo@b.example"))]).latest)
    lead = MAPPING.salesforce.lead

    writes = build_writes("salesforce", decided, {MARIA: "005X"}, lambda d: d.lead_key,
                          lambda d, owner, creating: salesforce_lead(d, lead, owner))

    assert [r.key for r in writes.records] == ["ann@a.example", "bo@b.example"]
    assert writes.records[0].fields == salesforce_lead(decided[0].decision, lead, "005X")
    assert writes.records[0].fields["OwnerId"] == "005X"
    assert writes.refused == ()
    assert writes.sources["bo@b.example"] is decided[1]


def test_given_an_owner_the_crm_lacks_when_built_then_that_record_alone_is_refused():
    decided = list(read_batch([
        a_record(1, a_decision("ann@a.example")),
        a_record(2, a_decision("bo@b.example", owner="ghost@accord.example"))]).latest)
    contact = MAPPING.hubspot.contact

    writes = build_writes("hubspot", decided, {MARIA: "41000001", "ghost@accord.example": None},
                          lambda d: str(d.lead.email),
                          lambda d, owner, creating: hubspot_contact(d, contact, owner))

    assert [r.key for r in writes.records] == ["ann@a.example"]
    [refused] = writes.refused
    assert (refused.key, refused.crm, refused.code) == ("bo@b.example", "hubspot", UNKNOWN_OWNER)
    assert "ghost@accord.example" in refused.message


def test_given_refusals_when_dead_lettered_then_one_per_record_with_crm_code_and_fields():
    decided = list(read_batch([
        a_record(1, a_decision("ann@a.example", score=1)),
        a_record(2, a_decision("bo@b.example", owner="ghost@accord.example")),
        a_record(3, a_decision("ann@a.example", score=2))]).latest)
    writes = build_writes("salesforce", decided, {MARIA: "005X", "ghost@accord.example": None},
                          lambda d: d.lead_key, lambda d, owner, creating: {"OwnerId": owner})
    outcome = BatchOutcome(rejected=(RecordRejected(
        key="ANN@a.example", crm="salesforce", code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
        message="Title is too long", fields=("Title", "Company"), correlation_id="c-1"),))

    letters = dead_letters(writes, outcome)

    by_code = {letter.extra["code"]: letter for letter in letters}
    assert set(by_code) == {UNKNOWN_OWNER, "FIELD_CUSTOM_VALIDATION_EXCEPTION"}
    rejected = by_code["FIELD_CUSTOM_VALIDATION_EXCEPTION"]
    assert rejected.record.offset == 3  # the decision that was written for that lead
    assert rejected.extra == {
        "crm": "salesforce", "code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "message": "Title is too long", "fields": "Title,Company", "correlation_id": "c-1",
        "lead_key": "ann@a.example"}
    assert "Title is too long" in rejected.reason
    assert by_code[UNKNOWN_OWNER].record.offset == 2
    assert by_code[UNKNOWN_OWNER].extra["crm"] == "salesforce"


def test_given_everything_written_when_dead_lettered_then_nothing_is_sent():
    decided = [Decided(a_record(1, a_decision("ann@a.example")), a_decision("ann@a.example"))]
    writes = build_writes("hubspot", decided, {MARIA: "1"}, lambda d: d.lead_key,
                          lambda d, owner, creating: {"x": "1"})

    assert dead_letters(writes, BatchOutcome(written={"ann@a.example": "9"})) == []


def test_given_a_win_among_decisions_when_read_then_kept_last_per_opportunity():
    won = an_example_of(OPPORTUNITY_WON)
    later = won.model_copy(update={"amount": won.amount + 1})
    records = [a_record(1, won, OPPORTUNITY_WON), a_record(2, a_decision("ann@a.example")),
               a_record(3, later, OPPORTUNITY_WON)]

    batch = read_batch(records)

    assert [(w.won.amount, w.record.offset) for w in batch.won] == [(later.amount, 3)]
    assert [d.lead_key for d in batch.latest] == ["ann@a.example"]


def test_given_known_values_when_built_then_held_records_skipped_changed_ones_trimmed():
    decided = list(read_batch([a_record(1, a_decision("ann@a.example", score=10)),
                               a_record(2, a_decision("bo@b.example", score=20))]).latest)
    known = {"salesforce:ann@a.example": {"OwnerId": "005X", "Score": 10},
             "salesforce:bo@b.example": {"OwnerId": "005X", "Score": 19}}

    writes = build_writes("salesforce", decided, {MARIA: "005X"}, lambda d: d.lead_key,
                          lambda d, owner, creating: {"OwnerId": owner, "Score": d.score},
                          known)

    assert writes.skipped == ("ann@a.example",)
    assert [(r.key, dict(r.fields)) for r in writes.records] == [("bo@b.example",
                                                                  {"Score": 20})]


def test_given_an_answer_when_kept_then_accepted_values_and_learned_ones_only():
    decided = list(read_batch([a_record(1, a_decision("ann@a.example")),
                               a_record(2, a_decision("bo@b.example")),
                               a_record(3, a_decision("cy@c.example"))]).latest)
    known = {"hubspot:cy@c.example": {"x": "old"}}
    writes = build_writes("hubspot", decided, {MARIA: "1"}, lambda d: d.lead_key,
                          lambda d, owner, creating: {"x": "new"}, known,
                          lambda d: {"y": "rep"} if d.lead_key == "bo@b.example" else {})
    outcome = BatchOutcome(written={"ann@a.example": "1"}, rejected=(RecordRejected(
        key="bo@b.example", crm="hubspot", code="VALIDATION_ERROR", message="no"),))

    kept = to_keep(writes, outcome)

    # Not kept for cy: HubSpot did not answer for it (e.g. the call failed), so it is
    # written again next time.
    assert kept == {"hubspot:ann@a.example": {"x": "new"},
                    "hubspot:bo@b.example": {"y": "rep"}}


def test_given_a_refused_deal_when_dead_lettered_then_the_win_record_and_its_lead():
    won = an_example_of(OPPORTUNITY_WON)
    batch = read_batch([a_record(4, won, OPPORTUNITY_WON)])
    writes = build_deal_writes(batch.won, {}, lambda w: {"amount": str(w.amount)})
    outcome = BatchOutcome(rejected=(RecordRejected(
        key=won.opportunity_id, crm="hubspot", code="OBJECT_NOT_FOUND",
        message="no HubSpot contact has the email"),))

    [letter] = dead_letters(writes, outcome)

    assert letter.record.offset == 4
    assert letter.extra["lead_key"] == won.lead_key and letter.extra["code"] == "OBJECT_NOT_FOUND"


def test_given_records_of_several_partitions_when_read_then_each_leads_last_in_its_partition_wins():
    # Offsets of different partitions say nothing about each other: partition 1's offset 5
    # is not "before" partition 0's offset 9. A lead's decisions are all in one partition.
    records = [a_record(9, a_decision("ann@a.example", score=10), partition=0),
               a_record(5, a_decision("bo@b.example", score=20), partition=1),
               a_record(10, a_decision("ann@a.example", score=11), partition=0),
               a_record(4, a_decision("bo@b.example", score=19), partition=1)]

    batch = read_batch(records)

    assert sorted((d.lead_key, d.decision.score, d.record.partition) for d in batch.latest) == [
        ("ann@a.example", 11, 0), ("bo@b.example", 20, 1)]


def test_given_batches_of_consecutive_polls_when_merged_then_the_later_poll_supersedes():
    won = an_example_of(OPPORTUNITY_WON)
    first = read_batch([a_record(1, a_decision("ann@a.example", score=10)),
                        a_record(2, a_decision("bo@b.example", score=20)),
                        a_record(3, won, OPPORTUNITY_WON), a_raw_record(4, b"{")])
    second = read_batch([a_record(5, a_decision("ann@a.example", score=30)),
                         a_record(6, won.model_copy(update={"amount": won.amount + 1}),
                                  OPPORTUNITY_WON)])

    merged = merge_batches([first, second])

    assert [(d.lead_key, d.decision.score) for d in merged.latest] == [
        ("bo@b.example", 20), ("ann@a.example", 30)]
    assert [(w.won.amount, w.record.offset) for w in merged.won] == [(won.amount + 1, 6)]
    assert [u.record.offset for u in merged.unreadable] == [4]


def test_given_records_of_several_partitions_when_keys_asked_then_grouped_by_partition():
    won = an_example_of(OPPORTUNITY_WON)
    batch = read_batch([a_record(1, a_decision("ann@a.example"), partition=0),
                        a_record(1, a_decision("bo@b.example"), partition=3),
                        a_record(2, won, OPPORTUNITY_WON, partition=3)])

    assert known_keys("salesforce", batch.latest) == {
        0: ["salesforce:ann@a.example"], 3: ["salesforce:bo@b.example"]}
    assert known_keys("hubspot", batch.latest, batch.won) == {
        0: ["hubspot:ann@a.example"],
        3: ["hubspot:bo@b.example", f"hubspot:deal:{won.opportunity_id}"]}


def test_given_an_answer_for_several_partitions_when_kept_then_each_in_its_decisions_partition():
    decided = list(read_batch([a_record(1, a_decision("ann@a.example"), partition=2),
                               a_record(1, a_decision("bo@b.example"), partition=5),
                               a_record(2, a_decision("cy@c.example"), partition=5)]).latest)
    writes = build_writes("hubspot", decided, {MARIA: "1"}, lambda d: d.lead_key,
                          lambda d, owner, creating: {"x": d.lead_key})
    outcome = BatchOutcome(written={"ann@a.example": "1", "bo@b.example": "2"},
                           rejected=(RecordRejected(key="cy@c.example", crm="hubspot",
                                                    code="VALIDATION_ERROR", message="no"),))

    kept = kept_by_partition(writes, outcome)

    assert kept == {2: {"hubspot:ann@a.example": {"x": "ann@a.example"}},
                    5: {"hubspot:bo@b.example": {"x": "bo@b.example"}}}
    assert {k: v for part in kept.values() for k, v in part.items()} == to_keep(writes, outcome)
