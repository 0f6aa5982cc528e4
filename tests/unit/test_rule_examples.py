"""Examples in a rule file: parsed with their lines, run through ``decide``, diffs reported."""

from __future__ import annotations

import pytest

from deploy.local.kafka_broker import REPO_ROOT
from services.router.rules.examples import Difference, run_example, run_examples
from services.router.rules.loader import RuleFileError, load_rules, parse_rules

RULES = """\
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
examples:
"""
BIG_LEAD = """\
  - name: big company goes to Maria
    lead: {email: ada@siemens.example, employees: 5000, country: DE}
    expect: {stage: mql, owner: Maria@example.com, route: mql_to_maria, score: 30,
             matched: [scoring.big, routing.mql_to_maria]}
"""


def problems_of(examples: str) -> list[tuple[int, str, str]]:
    with pytest.raises(RuleFileError) as caught:
        parse_rules(RULES + examples, "rules.yaml")
    return [(p.line, p.message, p.hint) for p in caught.value.problems]


def test_given_an_example_when_parsed_then_lead_expectation_and_line_are_kept():
    [example] = parse_rules(RULES + BIG_LEAD).examples
    assert example.name == "big company goes to Maria"
    assert example.line == 17
    assert (example.lead.email, example.lead.employees) == ("ada@siemens.example", 5000)
    assert example.expect.owner == "maria@example.com"
    assert example.expect.score == 30
    assert example.expect.matched == ("scoring.big", "routing.mql_to_maria")


def test_given_a_rule_set_built_without_examples_when_created_then_it_has_none():
    assert parse_rules(RULES.removesuffix("examples:\n")).examples == ()


def test_given_bad_lead_fields_when_parsed_then_each_names_its_field_line_and_fix():
    found = problems_of("""\
  - name: bad lead
    lead: {email: ada@siemens.example,
           employes: 5, country: NO,
           employees: lots}
    expect: {stage: mql}
""")
    assert [(line, message.split(":")[0]) for line, message, _ in found] == [
        (19, "lead field `country`"), (19, "unknown lead field `employes`"),
        (20, "lead field `employees`")]
    assert found[0][2] == "put the value in quotes: country: 'NO'"
    assert "employees" in found[1][2]


def test_given_a_lead_without_email_when_parsed_then_problem_asks_for_one():
    [(line, message, _)] = problems_of(
        "  - name: no email\n    lead: {country: DE}\n    expect: {stage: mql}\n")
    assert (line, message) == (18, "the lead has no `email`")


def test_given_bad_expectations_when_parsed_then_all_are_reported_with_lines_and_hints():
    found = problems_of("""\
  - name: bad expectations
    lead: {email: ada@siemens.example}
    expect: {stage: hot, owner: maria, route: mql_to_mario,
             score: 1.5, matched: [scoring.huge], colour: red}
""")
    messages = {message: (line, hint) for line, message, hint in found}
    assert messages["unknown key `colour` in expect"][0] == 20
    assert messages["unknown stage `hot`"][0] == 19
    assert messages["`maria` is not an email"][0] == 19
    assert "routing.mql_to_maria" in messages["no rule `routing.mql_to_mario` in this file"][1]
    assert messages["score `1.5` is not a whole number"] == (20, "write score: 70")
    assert "no rule `scoring.huge` in this file" in messages


def test_given_an_entry_missing_parts_and_a_duplicate_name_when_parsed_then_all_named():
    found = problems_of(BIG_LEAD + "  - name: big company goes to Maria\n    expect: {}\n")
    assert [(line, message) for line, message, _ in found] == [
        (21, "a second example named `big company goes to Maria`"),
        (21, "missing `lead`"), (22, "`expect` checks nothing")]


def test_given_examples_that_are_not_a_list_when_parsed_then_problem_says_so():
    [(line, message, _)] = problems_of("  name: lonely\n")
    assert (line, message) == (17, "examples must be a list")


def test_given_an_example_matching_the_decision_when_run_then_it_passes():
    [result] = run_examples(parse_rules(RULES + BIG_LEAD))
    assert result.passed
    assert result.differences == ()
    assert result.decision is not None and result.decision.caused_by.endswith(
        "big company goes to Maria")


def test_given_wrong_expectations_when_run_then_each_difference_is_reported_with_the_reason():
    text = RULES + BIG_LEAD.replace("employees: 5000", "employees: 50")
    [result] = run_examples(parse_rules(text))
    assert not result.passed
    assert result.differences == (
        Difference("stage", "mql", "lead"),
        Difference("owner", "maria@example.com", "queue@example.com"),
        Difference("route", "mql_to_maria", "rest"),
        Difference("score", 30, 0),
        Difference("matched", ("scoring.big", "routing.mql_to_maria"), ("routing.rest",)),
    )
    assert result.decision is not None
    assert result.decision.score_breakdown == []
    assert result.decision.matched_rules == ["routing.rest"]


def test_given_the_same_example_when_run_twice_then_the_decisions_are_identical():
    rules = parse_rules(RULES + BIG_LEAD)
    assert run_example(rules, rules.examples[0]) == run_example(rules, rules.examples[0])


def test_given_the_shipped_rule_file_when_its_examples_run_then_all_pass_and_cover_every_route():
    rules = load_rules(REPO_ROOT / "rules" / "leads.yaml")
    results = run_examples(rules)
    assert len(results) >= 6
    assert [r.example.name for r in results if not r.passed] == []
    routes = {r.decision.owner.route for r in results if r.decision is not None}
    assert routes == {route.name for route in rules.routes}


def test_given_a_condition_failing_on_the_example_lead_when_run_then_result_has_the_error():
    text = RULES.replace("lead.employees >= 1000", "100 / (lead.employees - 5) > 1") + (
        "  - name: five people\n    lead: {email: ada@siemens.example, employees: 5}\n"
        "    expect: {stage: mql}\n")
    [result] = run_examples(parse_rules(text))
    assert not result.passed and result.decision is None
    assert result.error is not None and "100 / (lead.employees - 5) > 1" in result.error
