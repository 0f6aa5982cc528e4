"""``accord rules validate``: what a RevOps engineer sees."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from deploy.local.kafka_broker import REPO_ROOT
from services.cli import app

runner = CliRunner()


def test_given_the_shipped_rules_when_validated_then_exit_0_and_a_summary():
    result = runner.invoke(app, ["rules", "validate", str(REPO_ROOT / "rules" / "leads.yaml")])
    assert result.exit_code == 0, result.output
    assert "valid (version 2026.11.23-1" in result.output


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
