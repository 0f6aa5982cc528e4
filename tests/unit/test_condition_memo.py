"""Condition results remembered by the values a condition reads (``condition_memo``)."""

from __future__ import annotations

import pytest

from services.router.rules import condition_memo
from services.router.rules.cel_conditions import (
    LEAD_FIELD_DEFAULTS,
    VARIABLES,
    Bindings,
    ConditionError,
    compile_condition,
    condition_group,
    first_holding,
    which_hold,
)
from services.router.rules.condition_memo import (
    NOT_REMEMBERED,
    ConditionMemo,
    Reads,
    flat_view,
    reads_of,
)


def a_lead(**fields: object) -> dict[str, object]:
    return {**LEAD_FIELD_DEFAULTS, **fields}


def test_given_field_reads_when_analysed_then_the_fields_and_variables_read_are_named():
    reads = reads_of("lead.employees >= 1000 && lead.country in ['DE'] || score > stage.size()",
                     VARIABLES)
    assert reads == Reads(("country", "employees"), ("score", "stage"))


def test_given_a_field_named_like_a_variable_when_analysed_then_only_the_field_is_read():
    assert reads_of("lead.lead_source == 'x'", VARIABLES) == Reads(("lead_source",), ())


@pytest.mark.parametrize("source", [
    "lead['title'] == 'x'", "lead.size() > 3", "[lead].exists(l, l.title == 'x')",
    "'title' in lead", "lead . title.startsWith('x') && has(lead.x) && lead.all(k, k != '')",
])
def test_given_lead_read_other_than_field_by_field_when_analysed_then_not_remembered(
        source: str) -> None:
    assert reads_of(source, VARIABLES) is None


def test_given_a_method_call_on_a_field_when_analysed_then_the_field_is_read():
    assert reads_of("lead.title.startsWith('VP')", VARIABLES) == Reads(("title",), ())


def test_given_values_of_another_type_when_keyed_then_not_remembered():
    memo = ConditionMemo(Reads(("employees",), ("score",)))
    lead = a_lead(employees=5)
    flat = flat_view({"lead": lead, "score": 1})
    assert flat is not None and memo.key(flat) == (5, 1)
    # True == 1 in Python but not in CEL: such values must not find the int's result.
    assert flat_view({"lead": lead, "score": True}) is None
    assert flat_view({"lead": a_lead(employees=5.0), "score": 1}) is None
    with pytest.raises(KeyError):  # a missing field: the caller evaluates instead
        memo.key({("var", "score"): 1})


def test_given_one_value_read_when_keyed_then_the_value_itself_is_the_key():
    flat = flat_view({"lead": a_lead(country="DE"), "stage": "mql"})
    assert flat is not None
    assert ConditionMemo(Reads(("country",), ())).key(flat) == "DE"
    assert ConditionMemo(Reads((), ("stage",))).key(flat) == "mql"
    assert ConditionMemo(Reads((), ())).key(flat) == ()
    assert ConditionMemo(None).key(flat) is NOT_REMEMBERED


def test_given_a_full_memo_when_more_is_remembered_then_the_oldest_is_forgotten(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(condition_memo, "MEMO_SIZE", 3)
    memo = ConditionMemo(Reads(("employees",), ()))
    for n in range(5):
        memo.remember(n, n % 2 == 0)
    memo.remember(NOT_REMEMBERED, True)
    assert memo.results == {2: True, 3: False, 4: True}


def test_given_remembered_values_when_evaluated_again_then_no_cel_call_and_same_results():
    group = condition_group([compile_condition("lead.employees >= 1000"),
                             compile_condition("lead.country == 'DE' && score > 10")])
    first = Bindings(a_lead(employees=2000, country="DE"), score=11)
    assert which_hold(group, first) == [True, True]
    again = Bindings(a_lead(employees=2000, country="DE", title="other"), score=11)
    assert which_hold(group, again) == [True, True]
    assert again._activation is None  # answered from the memo
    changed = Bindings(a_lead(employees=2000, country="DE"), score=10)
    assert which_hold(group, changed) == [True, False]
    assert first_holding(group, Bindings(a_lead(employees=10, country="DE"), score=10)) is None
    assert first_holding(group, changed) == 0


def test_given_a_condition_failing_for_some_values_when_evaluated_then_never_remembered():
    failing = compile_condition("lead.employees > 0 && 10 / (lead.employees - 5) > 1")
    group = condition_group([compile_condition("lead.employees > 1"), failing])
    for _ in range(2):
        with pytest.raises(ConditionError):
            which_hold(group, Bindings(a_lead(employees=5)))
    assert failing.memo.results == {}
    assert which_hold(group, Bindings(a_lead(employees=6))) == [True, True]
    assert failing.memo.results == {6: True}


def test_given_an_error_after_the_first_holding_when_remembered_then_the_first_still_wins():
    failing = compile_condition("lead.employees > 0 && 10 / (lead.employees - 5) > 1")
    group = condition_group([compile_condition("lead.employees == 5"), failing])
    lead = a_lead(employees=5)
    assert first_holding(group, Bindings(lead)) == 0
    assert first_holding(group, Bindings(lead)) == 0
