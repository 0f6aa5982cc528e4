"""`accounts`, `classification`, `recycle` and `account_owner` in a rule file: each mistake
names its line and what to write instead."""

from __future__ import annotations

import pytest

from services.router.rules.cel_conditions import compared_names
from services.router.rules.examples import Difference, run_examples
from services.router.rules.loader import RuleFileError, parse_rules

VALID = """\
version: "1"
accounts:
  - name: Globex Corporation
    domains: [globex.example]
    owner: tom@example.com
scoring:
  - {name: big, when: lead.employees >= 1000, points: 60}
recycle:
  - {name: handed_back, when: lead.salesforce_status == 'Recycled'}
stages:
  - {stage: mql, when: score >= 60}
classification:
  - name: warm
    when: stage == 'mql' || account != ''
  - name: cold
    default: true
routing:
  - name: accounts
    when: account == 'Globex Corporation'
    assign: {account_owner: true}
  - name: warm_to_sales
    when: classification == 'warm'
    assign: {user: rep@example.com}
  - name: rest
    default: true
    assign: {queue: nurture@example.com}
"""


def problems_of(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(RuleFileError) as caught:
        parse_rules(text, "rules.yaml")
    return [(p.line, p.message, p.hint) for p in caught.value.problems]


def test_given_a_valid_file_when_parsed_then_sections_keep_their_order_and_names():
    rules = parse_rules(VALID)
    assert [c.name for c in rules.classification] == ["warm", "cold"]
    assert rules.classification[-1].when is None
    assert [r.name for r in rules.recycle] == ["handed_back"]
    assert [a.name for a in rules.accounts.accounts] == ["Globex Corporation"]
    assert rules.routes[0].assign.kind == "account_owner"


def test_given_classes_without_a_default_when_parsed_then_problem_asks_for_one():
    [(line, message, hint)] = problems_of(VALID.replace("  - name: cold\n    default: true",
                                                        "  - name: cold\n    when: score < 0"))
    assert (line, message) == (15, "classification has no default class")
    assert "default: true" in hint


def test_given_a_default_class_before_others_when_parsed_then_problem_says_move_it():
    text = VALID.replace("classification:\n", "classification:\n  - {name: meh, default: true}\n")
    found = problems_of(text)
    assert (13, "the default class must be the last entry") in [
        (line, message) for line, message, _ in found]


def test_given_a_bad_or_repeated_class_name_when_parsed_then_both_are_named():
    text = VALID.replace("  - name: cold\n", "  - name: warm\n    when: score > 1\n"
                         "  - name: Cold Leads\n")
    found = [(line, message) for line, message, _ in problems_of(text)]
    assert found == [(15, "a second class named `warm`"),
                     (17, "class name `Cold Leads` is not a lower-case word")]


def test_given_classification_read_before_routing_when_parsed_then_hint_says_routing_only():
    [(line, message, hint)] = problems_of(VALID.replace(
        "lead.employees >= 1000", "classification == 'warm'"))
    assert line == 7
    assert "`classification` cannot be read here" in message
    assert "only `routing` conditions can read `classification`" in hint


def test_given_a_misspelt_class_in_routing_when_parsed_then_problem_lists_the_classes():
    [(line, message, hint)] = problems_of(VALID.replace("classification == 'warm'",
                                                        "classification == 'wram'"))
    assert line == 22
    assert message.endswith("no class `wram` in this file")
    assert hint == "class names: warm, cold"


def test_given_routing_reads_classification_without_a_section_when_parsed_then_it_says_so():
    text = VALID.replace("classification:\n  - name: warm\n    when: stage == 'mql' || account "
                         "!= ''\n  - name: cold\n    default: true\n", "")
    [(_, message, hint)] = problems_of(text)
    assert "`classification` cannot be read here" in message
    assert "no `classification:` section" in hint


def test_given_account_read_without_accounts_when_parsed_then_the_hint_says_add_them():
    text = VALID.replace("accounts:\n  - name: Globex Corporation\n    domains: [globex.example]"
                         "\n    owner: tom@example.com\n", "")
    found = problems_of(text)
    messages = {message: hint for _, message, hint in found}
    assert any("`account` cannot be read here" in m for m in messages)
    assert ("`account_owner` needs known accounts, and this file lists none") in messages


def test_given_a_misspelt_account_in_a_condition_when_parsed_then_problem_lists_accounts():
    [(line, message, hint)] = problems_of(VALID.replace("'Globex Corporation'", "'Globex'"))
    assert line == 19 and message.endswith("no account `Globex` in this file")
    assert hint == "account names: Globex Corporation"


@pytest.mark.parametrize(("domains", "message", "hint"), [
    ("[gmail.com]", "`gmail.com` is a free-mail domain: it never matches an account",
     "company name"),
    ("[https://globex.example/]", "`https://globex.example/` is not a domain", "no @"),
    ("[globex.example, '@globex.example']", "`@globex.example` is not a domain", "no @"),
])
def test_given_a_bad_account_domain_when_parsed_then_the_problem_says_what_to_write(
        domains, message, hint):
    [(line, found, found_hint)] = problems_of(VALID.replace("[globex.example]", domains))
    assert (line, found) == (4, message)
    assert hint in found_hint


def test_given_two_accounts_sharing_a_domain_or_name_when_parsed_then_both_are_named():
    text = VALID.replace("    owner: tom@example.com\n", "    owner: tom@example.com\n"
                         "  - {name: 'GLOBEX Corp.', domains: [globex.example], "
                         "owner: eva@example.com}\n")
    found = problems_of(text)
    assert [(line, message) for line, message, _ in found] == [
        (6, "account `GLOBEX Corp.` has the same company name as `Globex Corporation` (both "
            "are `globex` once case, punctuation and legal forms are dropped)"),
        (6, "domain `globex.example` is already listed for account `Globex Corporation`")]


def test_given_accounts_in_another_file_when_parsed_then_hint_says_list_them_here():
    text = VALID.replace("accounts:\n  - name: Globex Corporation\n    domains: [globex.example]"
                         "\n    owner: tom@example.com\n", "accounts: accounts.yaml\n")
    found = problems_of(text)
    assert (2, "`accounts` must list the accounts in this file") in [
        (line, message) for line, message, _ in found]


def test_given_account_owner_on_the_default_route_when_parsed_then_refused():
    text = VALID.replace("    default: true\n    assign: {queue: nurture@example.com}",
                         "    default: true\n    assign: {account_owner: true}")
    [(line, message, hint)] = problems_of(text)
    assert (line, message) == (26, "the default route must name an owner")
    assert "not every lead matches an account" in hint


def test_given_recycled_as_a_stage_rule_when_parsed_then_hint_points_to_recycle():
    [(line, message, hint)] = problems_of(VALID.replace("{stage: mql,", "{stage: recycled,"))
    assert (line, message) == (11, "`recycled` is set by `recycle:` rules, not stages")
    assert "recycle:" in hint


def test_given_two_recycle_rules_with_one_name_when_parsed_then_problem_names_it():
    text = VALID.replace("recycle:\n", "recycle:\n  - {name: handed_back, when: score < 0}\n")
    [(line, message, _)] = problems_of(text)
    assert (line, message) == (10, "a second recycle rule named `handed_back`")


EXAMPLES = """\
examples:
  - name: globex contact goes to its owner
    lead: {email: hank@eu.globex.example}
    expect: {owner: tom@example.com, account: Globex Corporation, classification: warm,
             matched: [accounts.Globex Corporation, classification.warm]}
  - name: handed back
    lead: {email: ada@siemens.example, employees: 5000}
    salesforce_status: Recycled
    expect: {stage: recycled, classification: cold, matched: [recycle.handed_back]}
"""


def test_given_examples_for_accounts_and_recycling_when_run_then_they_pass():
    results = run_examples(parse_rules(VALID + EXAMPLES))
    assert [(r.example.name, r.passed) for r in results] == [
        ("globex contact goes to its owner", True), ("handed back", True)]


def test_given_an_example_expecting_an_unknown_class_or_account_when_parsed_then_named():
    found = problems_of(VALID + EXAMPLES.replace("classification: warm,", "classification: hot,")
                        .replace("account: Globex Corporation,", "account: Globex,"))
    assert [(message, hint) for _, message, hint in found] == [
        ("no class `hot` in this file", "class names: warm, cold"),
        ("no account `Globex` in this file", "account names: Globex Corporation")]


def test_given_an_example_expecting_the_wrong_class_when_run_then_the_difference_says_so():
    [result, _] = run_examples(parse_rules(VALID + EXAMPLES.replace(
        "account: Globex Corporation, classification: warm",
        "account: Globex Corporation, classification: cold")))
    assert result.differences == (Difference("classification", "cold", "warm"),)


def test_given_conditions_naming_classes_when_scanned_then_every_compared_name_is_found():
    source = ("classification == 'warm' || 'cold' != classification || classification in "
              "['a', \"b\"] || lead.classification == 'x' || classifications == 'y'")
    assert compared_names(source, "classification") == ["warm", "cold", "a", "b"]
