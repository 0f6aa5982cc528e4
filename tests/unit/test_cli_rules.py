"""``accord rules validate`` and ``accord rules test``: what a RevOps engineer sees."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from deploy.local.kafka_broker import REPO_ROOT
from services.cli import app
from services.router.rules.loader import load_rules

runner = CliRunner()


def test_given_the_shipped_rules_when_validated_then_exit_0_and_a_summary():
    result = runner.invoke(app, ["rules", "validate", str(REPO_ROOT / "rules" / "leads.yaml")])
    assert result.exit_code == 0, result.output
    assert "valid (version 2026.11.23-5" in result.output


def test_given_a_broken_rule_file_when_validated_then_exit_1_naming_file_line_and_fix(
        tmp_path: Path):
    broken = tmp_path / "rules.yaml"
    text = (REPO_ROOT / "rules" / "leads.yaml").read_text()
    broken.write_text(text.replace("score >= 60", "score >= 60.0"))
    result = runner.invoke(app, ["rules", "validate", str(broken)])
    assert result.exit_code == 1
    line = text.splitlines().index("    when: score >= 60") + 1
    assert f"{broken}:{line}:" in result.output
    assert "write 50, not 50.0" in result.output


SHIPPED = REPO_ROOT / "rules" / "leads.yaml"


def test_given_the_shipped_rules_when_tested_then_every_example_passes_and_exit_0():
    result = runner.invoke(app, ["rules", "test", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    count = len(load_rules(SHIPPED).examples)
    assert count >= 6
    assert f"{count} passed, 0 failed" in result.output
    assert "PASS enterprise demo request in Germany goes to Maria" in result.output


def test_given_an_example_expecting_the_wrong_owner_when_tested_then_exit_1_with_the_diff(
        tmp_path: Path):
    rule_file = tmp_path / "rules.yaml"
    text = SHIPPED.read_text()
    rule_file.write_text(text.replace("employees: 5000, country: DE",
                                      "employees: 300, country: DE"))
    result = runner.invoke(app, ["rules", "test", str(rule_file)])
    assert result.exit_code == 1
    line = text.splitlines().index(
        "  - name: enterprise demo request in Germany goes to Maria") + 1
    assert (f"FAIL enterprise demo request in Germany goes to Maria   ({rule_file}:{line})\n"
            "       owner: expected maria.garcia@accord.example, got amara.okafor@accord.example\n"
            "       score: expected 100, got 85  (demo_request +40, mid_market_size +15, "
            "senior_title +20, target_country +10)\n"
            "       matched: scoring.demo_request, scoring.mid_market_size, scoring.senior_title, "
            "scoring.target_country, stages.mql, classification.warm, "
            "routing.commercial_mql\n") in result.output
    assert "PASS mid-market demo request in France goes to the commercial rep" in result.output
    assert result.output.rstrip().endswith("passed, 1 failed")


def test_given_an_example_missing_an_expected_rule_when_tested_then_diff_names_it(
        tmp_path: Path):
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(SHIPPED.read_text().replace(
        "matched: [scoring.free_email_domain]",
        "matched: [scoring.free_email_domain, scoring.senior_title]"))
    result = runner.invoke(app, ["rules", "test", str(rule_file)])
    assert result.exit_code == 1
    assert ("       matched: expected scoring.senior_title among the matched rules, "
            "got scoring.demo_request,") in result.output


def test_given_a_rule_file_without_examples_when_tested_then_exit_1_saying_so(tmp_path: Path):
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(SHIPPED.read_text().split("\nexamples:")[0])
    result = runner.invoke(app, ["rules", "test", str(rule_file)])
    assert result.exit_code == 1
    assert f"{rule_file}: no examples to run" in result.output


def test_given_an_invalid_example_when_tested_then_exit_1_with_validate_output(tmp_path: Path):
    rule_file = tmp_path / "rules.yaml"
    text = SHIPPED.read_text()
    rule_file.write_text(text.replace("employees: 5000, country: DE",
                                      "employees: 5000, country: de"))
    result = runner.invoke(app, ["rules", "test", str(rule_file)])
    assert result.exit_code == 1
    line = text.splitlines().index(
        "  - name: enterprise demo request in Germany goes to Maria") + 2
    assert f"{rule_file}: 1 problem\n" in result.output
    assert f"{rule_file}:{line}: lead field `country`" in result.output
    assert "PASS" not in result.output


def test_given_a_missing_file_when_tested_then_usage_error_exit_2(tmp_path: Path):
    result = runner.invoke(app, ["rules", "test", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
