"""Rule files: a valid one loads; every mistake names its line and what to write instead."""

from __future__ import annotations

import pytest

from deploy.local.kafka_broker import REPO_ROOT
from services.router.rules.loader import RuleFileError, load_rules, parse_rules

VALID = """\
version: "1"
scoring:
  - name: big
    when: lead.employees >= 1000
    points: 30
stages:
  - stage: mql
    when: score >= 30
routing:
  - name: mql_to_maria
    when: stage == 'mql'
    assign: {user: maria@example.com}
  - name: rest
    default: true
    assign: {queue: queue@example.com}
"""


def problems_of(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(RuleFileError) as caught:
        parse_rules(text, "rules.yaml")
    return [(p.line, p.message, p.hint) for p in caught.value.problems]


def test_given_the_shipped_rule_file_when_loaded_then_it_is_valid():
    rules = load_rules(REPO_ROOT / "rules" / "leads.yaml")
    assert rules.routes[-1].is_default


def test_given_a_valid_file_when_parsed_then_rules_keep_file_order():
    rules = parse_rules(VALID)
    assert [r.name for r in rules.routes] == ["mql_to_maria", "rest"]
    assert rules.scoring[0].points == 30


def test_given_a_double_literal_compared_to_score_when_parsed_then_hint_says_whole_numbers():
    text = VALID.replace("score >= 30", "score >= 30.0")
    [(line, message, hint)] = problems_of(text)
    assert line == 8
    assert "no matching overload" in message
    assert "write 50, not 50.0" in hint


def test_given_a_misspelt_field_when_parsed_then_problem_names_field_and_line():
    [(line, message, hint)] = problems_of(VALID.replace("lead.employees", "lead.employes"))
    assert line == 4
    assert "employes" in message
    assert "there is no lead field 'employes'" in hint and "employees" in hint


def test_given_a_syntax_error_when_parsed_then_problem_has_the_column():
    [(line, message, _)] = problems_of(VALID.replace("score >= 30", "score >="))
    assert line == 8
    assert "column" in message


def test_given_no_default_route_when_parsed_then_problem_asks_for_one():
    text = VALID.replace("    default: true\n", "    when: 'true'\n")
    text = text.replace("when: 'true'", "when: lead.country == 'DE'")
    [(line, message, hint)] = problems_of(text)
    assert "no default" in message
    assert "default: true" in hint
    assert line == 13


def test_given_a_default_route_before_others_when_parsed_then_problem_says_move_it():
    text = VALID.replace(
        "routing:\n",
        "routing:\n  - name: early\n    default: true\n    assign: {queue: q@example.com}\n")
    found = problems_of(text)
    assert any("must be the last entry" in m for _, m, _ in found)


def test_given_several_mistakes_when_parsed_then_all_are_reported_in_line_order():
    text = VALID.replace("points: 30", "points: lots").replace(
        "assign: {user: maria@example.com}", "assign: {user: maria}")
    found = problems_of(text)
    assert [line for line, _, _ in found] == sorted(line for line, _, _ in found)
    assert len(found) == 2


def test_given_a_misspelt_key_when_parsed_then_unknown_and_missing_keys_are_both_named():
    found = problems_of(VALID.replace("    points: 30", "    pionts: 30"))
    messages = {message: (line, hint) for line, message, hint in found}
    assert messages["unknown key `pionts` in a scoring rule"] == (
        5, "allowed keys: name, points, when")
    assert "missing `points`" in messages


def test_given_an_empty_file_when_parsed_then_error_says_what_to_start_with():
    [(line, message, _)] = problems_of("")
    assert line == 1 and "empty" in message
