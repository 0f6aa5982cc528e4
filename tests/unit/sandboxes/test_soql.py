"""The Salesforce sandbox's SOQL subset: parsing, checking against metadata, and running."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandboxes.salesforce.soql import SoqlError, parse
from sandboxes.salesforce.soql_ast import BoolOp, Comparison, InList, Not
from sandboxes.salesforce.soql_eval import bind, project, run

MARIA = "005000000000001AAA"
JAMES = "005000000000002AAA"

LEADS: list[dict[str, object]] = [
    {"Id": "00Q5g0000000001EAA", "LastName": "Lee", "Email": "ann@example.com",
     "Status": "Nurture", "OwnerId": MARIA, "NumberOfEmployees": 50,
     "Accord_Score__c": 87.0, "IsConverted": False,
     "CreatedDate": "2026-11-01T09:30:00.000+0000"},
    {"Id": "00Q5g0000000002EAA", "LastName": "Okafor", "Email": None,
     "Status": "Open - Not Contacted", "OwnerId": JAMES, "NumberOfEmployees": 5000,
     "Accord_Score__c": None, "IsConverted": True,
     "CreatedDate": "2026-11-20T12:00:00.000+0000"},
    {"Id": "00Q5g0000000003EAA", "LastName": "Chen_Li", "Email": "BOB@Example.com",
     "Status": "Nurture", "OwnerId": MARIA, "NumberOfEmployees": None,
     "Accord_Score__c": 12.5, "IsConverted": False,
     "CreatedDate": "2026-11-22T08:00:00.000+0000"},
]


def select(soql: str) -> list[dict[str, object]]:
    bound = bind(parse(soql))
    _, matching = run(bound, LEADS)
    return [project(bound, record) for record in matching]


def names(soql: str) -> list[object]:
    return [row["LastName"] for row in select(soql)]


def error_of(soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as raised:
        bind(parse(soql))
    return raised.value


# --- parsing ---------------------------------------------------------------------------

def test_given_plain_select_when_parsed_then_fields_and_object_in_order() -> None:
    query = parse("select Id, LastName from Lead")

    assert [f.name for f in query.fields] == ["Id", "LastName"]
    assert query.sobject == "Lead" and query.where is None and not query.count_only


def test_given_every_clause_when_parsed_then_each_is_read() -> None:
    query = parse("SELECT Id FROM Lead WHERE Email = 'a' ORDER BY LastName DESC NULLS FIRST, "
                  "Id LIMIT 10 OFFSET 5")

    assert isinstance(query.where, Comparison) and query.where.op == "="
    assert [(o.field.name, o.descending, o.nulls_last) for o in query.order_by] == [
        ("LastName", True, False), ("Id", False, False)]
    assert (query.limit, query.offset) == (10, 5)


def test_given_parenthesised_and_or_when_parsed_then_tree_follows_parentheses() -> None:
    query = parse("SELECT Id FROM Lead WHERE (Status = 'Nurture' OR Status = 'Open') "
                  "AND (NOT Email IN ('a', 'b'))")

    assert isinstance(query.where, BoolOp) and query.where.op == "AND"
    left, right = query.where.terms
    assert isinstance(left, BoolOp) and left.op == "OR"
    assert isinstance(right, Not) and isinstance(right.term, InList)


def test_given_literals_of_each_kind_when_parsed_then_values_typed() -> None:
    query = parse("SELECT Id FROM Lead WHERE Email IN ('x', 'a\\'b', -5, 2.5, true, null, "
                  "2026-11-23T09:30:00.000+0000, 2026-11-23T09:30:00Z)")

    assert isinstance(query.where, InList)
    values = [lit.value for lit in query.where.values]
    assert values[1:] == ["a'b", -5, 2.5, True, None,
                          datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
                          datetime(2026, 11, 23, 9, 30, tzinfo=UTC)]


def test_given_count_when_parsed_then_count_only() -> None:
    assert parse("SELECT COUNT() FROM Lead").count_only


def test_given_and_mixed_with_or_without_parentheses_when_parsed_then_malformed_at_or() -> None:
    with pytest.raises(SoqlError) as raised:
        parse("SELECT Id FROM Lead WHERE Email = 'a' AND Status = 'b' OR Id = null")

    assert raised.value.error_code == "MALFORMED_QUERY"
    assert raised.value.message.endswith("ERROR at Row:1:Column:56\nunexpected token: OR")


@pytest.mark.parametrize("soql", [
    "SELEC Id FROM Lead",
    "SELECT Id Lead",
    "SELECT Id FROM Lead WHERE",
    "SELECT Id FROM Lead WHERE Email = 'open",
    "SELECT Id FROM Lead WHERE Email = 'a\\qb'",
    "SELECT Id FROM Lead WHERE Email = 'a' AND NOT Status = 'b'",
    "SELECT Id FROM Lead LIMIT ten",
    "SELECT Id FROM Lead extra",
    "SELECT Id, FROM Lead",
])
def test_given_malformed_query_when_parsed_then_malformed_query(soql: str) -> None:
    with pytest.raises(SoqlError) as raised:
        parse(soql)

    assert raised.value.error_code == "MALFORMED_QUERY"


# --- checking names and types ----------------------------------------------------------

def test_given_unknown_object_when_bound_then_invalid_type() -> None:
    error = error_of("SELECT Id FROM Campaign")

    assert error.error_code == "INVALID_TYPE"
    assert "sObject type 'Campaign' is not supported" in error.message


def test_given_unknown_field_when_bound_then_invalid_field_with_position() -> None:
    error = error_of("SELECT Id, Foo__c FROM Lead")

    assert error.error_code == "INVALID_FIELD"
    assert "ERROR at Row:1:Column:12\nNo such column 'Foo__c' on entity 'Lead'" in error.message


def test_given_relationship_path_when_bound_then_invalid_field() -> None:
    assert error_of("SELECT Owner.Email FROM Lead").error_code == "INVALID_FIELD"


def test_given_number_for_text_field_when_bound_then_invalid_filter_operator() -> None:
    error = error_of("SELECT Id FROM Lead WHERE Email = 5")

    assert error.error_code == "INVALID_QUERY_FILTER_OPERATOR"
    assert error.message.endswith("value of filter criterion for field 'Email' must be of type "
                                  "string and should be enclosed in quotes")


def test_given_quoted_number_for_number_field_when_bound_then_invalid_filter_operator() -> None:
    error = error_of("SELECT Id FROM Lead WHERE NumberOfEmployees > '5'")

    assert error.error_code == "INVALID_QUERY_FILTER_OPERATOR"
    assert "must be of type integer and should not be enclosed in quotes" in error.message


def test_given_malformed_id_when_bound_then_invalid_id_field() -> None:
    error = error_of("SELECT Id FROM Lead WHERE OwnerId = 'maria'")

    assert error.error_code == "INVALID_QUERY_FILTER_OPERATOR"
    assert error.message.endswith("invalid ID field: maria")


def test_given_field_selected_twice_when_bound_then_malformed_query() -> None:
    assert error_of("SELECT Id, id FROM Lead").error_code == "MALFORMED_QUERY"


# --- running ---------------------------------------------------------------------------

def test_given_names_in_any_case_when_run_then_rows_use_api_names() -> None:
    rows = select("SELECT lastname, OWNERID FROM lead WHERE email = 'ANN@example.com'")

    assert rows == [{"LastName": "Lee", "OwnerId": MARIA}]


def test_given_not_equal_when_run_then_null_values_match_too() -> None:
    assert names("SELECT LastName FROM Lead WHERE Email != 'ann@example.com'") == [
        "Okafor", "Chen_Li"]


def test_given_equals_null_when_run_then_only_nulls_match() -> None:
    assert names("SELECT LastName FROM Lead WHERE Email = null") == ["Okafor"]
    assert names("SELECT LastName FROM Lead WHERE Email != null") == ["Lee", "Chen_Li"]


def test_given_in_and_not_in_when_run_then_case_insensitive_and_nulls_outside() -> None:
    assert names("SELECT LastName FROM Lead WHERE Email IN ('bob@example.COM', 'x')") == [
        "Chen_Li"]
    assert names("SELECT LastName FROM Lead WHERE Email NOT IN ('bob@example.com')") == [
        "Lee", "Okafor"]


@pytest.mark.parametrize(("pattern", "expected"), [
    ("'%@example.com'", ["Lee", "Chen_Li"]),
    ("'A%'", ["Lee"]),
    ("'b_b@%'", ["Chen_Li"]),
])
def test_given_like_pattern_when_run_then_wildcards_match_any_case(
        pattern: str, expected: list[str]) -> None:
    assert names(f"SELECT LastName FROM Lead WHERE Email LIKE {pattern}") == expected


def test_given_escaped_underscore_in_like_when_run_then_matches_literally() -> None:
    assert names("SELECT LastName FROM Lead WHERE LastName LIKE 'Chen\\_%'") == ["Chen_Li"]
    assert names("SELECT LastName FROM Lead WHERE LastName LIKE 'Le\\_'") == []


def test_given_number_boolean_and_datetime_filters_when_run_then_compared_by_type() -> None:
    assert names("SELECT LastName FROM Lead WHERE NumberOfEmployees >= 50") == [
        "Lee", "Okafor"]
    assert names("SELECT LastName FROM Lead WHERE Accord_Score__c < 50") == ["Chen_Li"]
    assert names("SELECT LastName FROM Lead WHERE IsConverted = true") == ["Okafor"]
    assert names("SELECT LastName FROM Lead WHERE CreatedDate > 2026-11-20T11:00:00Z") == [
        "Okafor", "Chen_Li"]


def test_given_fifteen_character_id_when_run_then_matches_its_eighteen_character_form() -> None:
    assert names("SELECT LastName FROM Lead WHERE OwnerId = '005000000000002'") == ["Okafor"]


def test_given_or_and_not_groups_when_run_then_logic_applies() -> None:
    soql = (f"SELECT LastName FROM Lead WHERE (Status = 'nurture' AND OwnerId = '{MARIA}') "
            "OR (NOT IsConverted = false)")

    assert names(soql) == ["Lee", "Okafor", "Chen_Li"]
    assert names("SELECT LastName FROM Lead WHERE NOT (Status = 'Nurture')") == ["Okafor"]


def test_given_order_by_when_run_then_nulls_first_ascending_and_last_descending() -> None:
    assert names("SELECT LastName FROM Lead ORDER BY Email") == ["Okafor", "Lee", "Chen_Li"]
    assert names("SELECT LastName FROM Lead ORDER BY Email DESC") == ["Chen_Li", "Lee", "Okafor"]
    assert names("SELECT LastName FROM Lead ORDER BY Email ASC NULLS LAST") == [
        "Lee", "Chen_Li", "Okafor"]


def test_given_two_order_keys_when_run_then_second_breaks_ties() -> None:
    assert names("SELECT LastName FROM Lead ORDER BY Status DESC, LastName") == [
        "Okafor", "Chen_Li", "Lee"]


def test_given_limit_and_offset_when_run_then_window_of_sorted_rows() -> None:
    assert names("SELECT LastName FROM Lead ORDER BY LastName LIMIT 1 OFFSET 1") == ["Lee"]


def test_given_count_when_run_then_total_without_rows() -> None:
    bound = bind(parse("SELECT COUNT() FROM Lead WHERE Status = 'Nurture'"))

    assert run(bound, LEADS) == (2, [])
