"""The dead-letter view: what an operator sees of one dead letter, and how to pick some."""

from __future__ import annotations

import json

import pytest

from services.messaging.dead_letter_view import (
    REDACTED,
    REPLAYED_FROM,
    DeadLetter,
    DeadLetterFilter,
    DeadLetterIdError,
    detail,
    parse_dead_letter_id,
    replay_headers,
    select,
    selection_problem,
    shown_headers,
    summary,
    to_dead_letter,
    truncate,
)
from services.messaging.dead_letters import dead_letter_headers

DLQ = "p.accord.sync.dead-letters"
ORIGINAL = [("ce_id", b"evt-7"), ("ce_type", b"dev.accord.lead.routed"),
            ("ce_specversion", b"1.0"), ("content-type", b"application/json")]


def a_sync_dead_letter(offset: int = 3, code: str = "INVALID_EMAIL_ADDRESS",
                       crm: str = "salesforce", reason: str = "Email: invalid email address",
                       original: list[tuple[str, bytes]] | None = None) -> DeadLetter:
    headers = dead_letter_headers(ORIGINAL if original is None else original,
                                  topic="p.accord.lead-decisions", partition=2, offset=41,
                                  stage="sync", reason=reason, extra={"crm": crm, "code": code})
    return to_dead_letter(DLQ, 1, offset, b"ada@siemens.example", b'{"stage": "mql"}',
                          headers, timestamp_ms=1_700_000_000_000)


def a_router_dead_letter(offset: int = 0) -> DeadLetter:
    headers = dead_letter_headers([("ce_id", b"evt-1"), ("ce_type", b"dev.accord.lead.captured")],
                                  topic="p.accord.lead-events", partition=0, offset=9,
                                  stage="router", reason="unreadable event: no ce_source")
    return to_dead_letter("p.accord.router.dead-letters", 0, offset, b"bo@shop.example",
                          b"not json", headers)


def test_given_a_sync_dead_letter_when_viewed_then_context_comes_from_its_headers():
    letter = a_sync_dead_letter()

    assert letter.id == f"{DLQ}:1:3"
    assert (letter.stage, letter.crm, letter.code) == ("sync", "salesforce",
                                                       "INVALID_EMAIL_ADDRESS")
    assert letter.reason == "Email: invalid email address"
    assert (letter.original_topic, letter.original_partition, letter.original_offset) == (
        "p.accord.lead-decisions", 2, 41)
    assert (letter.event_type, letter.event_id) == ("dev.accord.lead.routed", "evt-7")
    assert letter.lead_key == "ada@siemens.example"
    assert letter.first_seen is not None and letter.first_seen.startswith("20")
    assert letter.replayable and not letter.replayed


def test_given_a_record_without_error_context_when_viewed_then_shown_as_unknown():
    letter = to_dead_letter(DLQ, 0, 5, None, None, [], timestamp_ms=1_700_000_000_000)

    assert (letter.stage, letter.reason, letter.crm, letter.original_topic) == (
        "unknown", "", None, None)
    assert letter.first_seen == "2023-11-14T22:13:20+00:00"
    assert not letter.replayable


def test_given_a_dead_letter_when_replayed_then_headers_are_the_original_plus_the_marker():
    letter = a_sync_dead_letter()

    assert replay_headers(letter) == [*ORIGINAL, (REPLAYED_FROM, f"{DLQ}:1:3".encode())]


def test_given_a_replayed_record_dead_lettered_again_when_replayed_then_one_marker_only():
    letter = a_sync_dead_letter(original=[*ORIGINAL, (REPLAYED_FROM, b"older:0:1")])

    assert [v for n, v in replay_headers(letter) if n == REPLAYED_FROM] == [
        f"{DLQ}:1:3".encode()]


@pytest.mark.parametrize(("criteria", "expected"), [
    (DeadLetterFilter(), [0, 3, 4]),
    (DeadLetterFilter(stage="sync"), [3, 4]),
    (DeadLetterFilter(stage="router"), [0]),
    (DeadLetterFilter(code="invalid_email_address"), [3]),
    (DeadLetterFilter(crm="hubspot"), [4]),
    (DeadLetterFilter(text="NO CE_SOURCE"), [0]),
    (DeadLetterFilter(stage="sync", crm="salesforce"), [3]),
    (DeadLetterFilter(ids=frozenset({f"{DLQ}:1:4"})), [4]),
    (DeadLetterFilter(code="NOPE"), []),
])
def test_given_dead_letters_when_filtered_then_every_criterion_holds(criteria, expected):
    letters = [a_router_dead_letter(0), a_sync_dead_letter(3),
               a_sync_dead_letter(4, code="PROPERTY_DOESNT_EXIST", crm="hubspot",
                                  reason="Property x does not exist")]

    assert [letter.offset for letter in select(letters, criteria)] == expected


@pytest.mark.parametrize("value", ["", "topic", "topic:1", "topic:x:1", ":1:2", "t:1:-2"])
def test_given_a_malformed_id_when_parsed_then_the_expected_form_is_named(value):
    with pytest.raises(DeadLetterIdError, match="<dlq topic>:<partition>:<offset>"):
        parse_dead_letter_id(value)


def test_given_a_well_formed_id_when_parsed_then_topic_partition_offset():
    assert parse_dead_letter_id("p.accord.router.dead-letters:5:120") == (
        "p.accord.router.dead-letters", 5, 120)


def test_given_headers_naming_sessions_or_tokens_when_shown_then_redacted():
    shown = dict(shown_headers([("SessionId", b"00Dxx!secret"), ("x-access-token", b"t"),
                                ("ce_id", b"evt-1")]))

    assert shown == {"SessionId": REDACTED, "x-access-token": REDACTED, "ce_id": "evt-1"}


def test_given_a_dead_letter_when_detailed_then_json_value_is_parsed_and_serialisable():
    shown = detail(a_sync_dead_letter())

    assert shown["value"] == {"stage": "mql"}
    assert {"name": "accord.errors.code", "value": "INVALID_EMAIL_ADDRESS"} in shown["headers"]
    assert json.loads(json.dumps(shown))["id"] == summary(a_sync_dead_letter())["id"]
    assert detail(a_router_dead_letter())["value"] == "not json"


def test_given_a_long_reason_when_truncated_then_one_line_within_the_width():
    assert truncate("a\nb  c", 10) == "a b c"
    assert truncate("x" * 30, 10) == "x" * 9 + "…"


@pytest.mark.parametrize(("ids", "criteria", "everything", "field"), [
    ([], DeadLetterFilter(), False, "ids"),
    ([f"{DLQ}:1:3"], DeadLetterFilter(code="X"), False, "ids"),
    ([f"{DLQ}:1:3"], DeadLetterFilter(), True, "ids"),
    (["nonsense"], DeadLetterFilter(), False, "ids"),
    ([], DeadLetterFilter(stage="ingest"), False, "stage"),
])
def test_given_an_unusable_replay_selection_when_checked_then_the_field_is_named(
        ids, criteria, everything, field):
    problem = selection_problem(ids, criteria, everything)

    assert problem is not None and problem[0] == field


@pytest.mark.parametrize(("ids", "criteria", "everything"), [
    ([f"{DLQ}:1:3"], DeadLetterFilter(), False),
    ([], DeadLetterFilter(code="X"), False),
    ([], DeadLetterFilter(stage="sync"), True),
    ([], DeadLetterFilter(), True),
])
def test_given_a_usable_replay_selection_when_checked_then_no_problem(ids, criteria,
                                                                      everything):
    assert selection_problem(ids, criteria, everything) is None
