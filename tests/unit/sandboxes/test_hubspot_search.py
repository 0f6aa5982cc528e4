"""Pure evaluation of HubSpot search filters, queries and sorts."""

from __future__ import annotations

import pytest

from sandboxes.hubspot.search import (
    Criteria,
    Filter,
    SearchError,
    Sort,
    check,
    filter_matches,
    matches,
    ordered,
    parse_sort,
    query_matches,
)

TYPES = {
    "email": "string",
    "firstname": "string",
    "lastname": "string",
    "company": "string",
    "phone": "string",
    "lifecyclestage": "enumeration",
    "accord_score": "number",
    "createdate": "datetime",
}
ANN = {"email": "ann@example.com", "firstname": "Ann", "lifecyclestage": "lead",
       "accord_score": "42", "createdate": "2024-05-01T10:00:00.000Z", "company": "Acme Corp"}
BOB = {"email": "bob@other.org", "firstname": "Bob", "lifecyclestage": "customer",
       "accord_score": "7.5", "createdate": "2024-06-01T10:00:00.000Z"}


def f(name: str, operator: str, value: str | None = None, *values: str,
      high: str | None = None) -> Filter:
    return Filter(name, operator, value, tuple(values), high)


@pytest.mark.parametrize(("condition", "expected"), [
    (f("email", "EQ", "ANN@example.com"), True),
    (f("email", "EQ", "bob@other.org"), False),
    (f("email", "NEQ", "bob@other.org"), True),
    (f("accord_score", "GT", "9"), True),  # numbers compare as numbers, not text
    (f("accord_score", "LT", "42"), False),
    (f("accord_score", "LTE", "42"), True),
    (f("accord_score", "GTE", "42.1"), False),
    (f("accord_score", "BETWEEN", "40", high="50"), True),
    (f("createdate", "GT", "2024-04-30"), True),
    (f("createdate", "LT", "1714557600001"), True),  # epoch milliseconds
    (f("lifecyclestage", "IN", None, "customer", "LEAD"), True),
    (f("lifecyclestage", "NOT_IN", None, "lead"), False),
    (f("company", "HAS_PROPERTY"), True),
    (f("phone", "HAS_PROPERTY"), False),
    (f("phone", "NOT_HAS_PROPERTY"), True),
    (f("company", "CONTAINS_TOKEN", "acme"), True),
    (f("email", "CONTAINS_TOKEN", "*@example.com"), True),
    (f("company", "CONTAINS_TOKEN", "acm"), False),
    (f("company", "NOT_CONTAINS_TOKEN", "corp"), False),
])
def test_given_filter_when_evaluated_on_record_then_matches_as_hubspot(condition, expected):
    assert filter_matches(ANN, condition, TYPES) is expected


def test_given_missing_value_when_compared_then_only_negative_operators_match():
    assert filter_matches(BOB, f("company", "EQ", "acme"), TYPES) is False
    assert filter_matches(BOB, f("company", "NEQ", "acme"), TYPES) is True
    assert filter_matches(BOB, f("company", "NOT_IN", None, "acme"), TYPES) is True
    assert filter_matches(BOB, f("company", "GT", "a"), TYPES) is False


def test_given_groups_when_matched_then_groups_are_ored_and_filters_anded():
    criteria = Criteria(groups=(
        (f("firstname", "EQ", "ann"), f("accord_score", "GT", "100")),
        (f("lifecyclestage", "EQ", "customer"),),
    ))

    assert matches(ANN, criteria, TYPES) is False
    assert matches(BOB, criteria, TYPES) is True
    assert matches(ANN, Criteria(), TYPES) is True


def test_given_query_when_matched_then_every_word_prefixes_a_searchable_word():
    assert query_matches(ANN, "ann acm") is True
    assert query_matches(ANN, "example") is True
    assert query_matches(ANN, "bob") is False


@pytest.mark.parametrize(("criteria", "message"), [
    (Criteria(groups=((f("nope", "EQ", "x"),),)), 'Property "nope" does not exist'),
    (Criteria(groups=((f("email", "LIKE", "x"),),)), "Unknown operator LIKE"),
    (Criteria(groups=((f("email", "EQ"),),)), "needs a value"),
    (Criteria(groups=((f("email", "IN"),),)), "needs a list of values"),
    (Criteria(groups=((f("accord_score", "GT", "high"),),)), "not a valid value"),
    (Criteria(groups=tuple((f("email", "HAS_PROPERTY"),) for _ in range(6))),
     "Too many filter groups"),
    (Criteria(groups=((f("email", "HAS_PROPERTY"),) * 7,)), "Too many filters in a group"),
    (Criteria(sorts=(Sort("nope"),)), 'Property "nope" does not exist'),
])
def test_given_invalid_criteria_when_checked_then_search_error(criteria, message):
    with pytest.raises(SearchError, match=message):
        check(criteria, TYPES)


def test_given_sorts_when_ordered_then_typed_order_with_missing_values_last():
    carl = {"firstname": "Carl"}
    records = [ANN, carl, BOB]

    by_score = ordered(records, [Sort("accord_score")], TYPES, lambda r: r)
    by_date_desc = ordered(records, [parse_sort("-createdate")], TYPES, lambda r: r)

    assert [r["firstname"] for r in by_score] == ["Bob", "Ann", "Carl"]
    assert [r["firstname"] for r in by_date_desc] == ["Bob", "Ann", "Carl"]


def test_given_sort_object_when_parsed_then_direction_read():
    assert parse_sort({"propertyName": "email", "direction": "DESCENDING"}) == Sort("email", True)
    assert parse_sort("email") == Sort("email", False)
    with pytest.raises(SearchError):
        parse_sort({"propertyName": "email", "direction": "SIDEWAYS"})
