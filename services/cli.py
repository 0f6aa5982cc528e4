"""``accord``: the command line of Accord for RevOps engineers and operators."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from services.contracts.events import LeadRouted
from services.messaging.settings import KafkaSettings
from services.router.rule_publication import publish
from services.router.rules.examples import Difference, ExampleResult, run_examples
from services.router.rules.loader import RuleFileError, load_rules
from services.router.rules.model import RuleSet

app = typer.Typer(help="Accord: one event stream as the source of truth for leads.",
                  no_args_is_help=True)
rules_app = typer.Typer(help="Lead rules as code: check them before they go live.",
                        no_args_is_help=True)
app.add_typer(rules_app, name="rules")

RuleFile = Annotated[Path, typer.Argument(help="The rule file, e.g. rules/leads.yaml",
                                          exists=True, dir_okay=False, readable=True)]
_INDENT = " " * 7


def _load_or_exit(rule_file: Path) -> RuleSet:
    try:
        return load_rules(rule_file)
    except RuleFileError as exc:
        count = len(exc.problems)
        typer.echo(f"{rule_file}: {count} problem{'s' if count != 1 else ''}\n", err=True)
        for problem in exc.problems:
            typer.echo(f"{problem}\n", err=True)
        raise typer.Exit(1) from exc


@rules_app.command("validate")
def validate(rule_file: RuleFile) -> None:
    """Check a rule file: structure and every CEL condition, with the line to fix."""
    rules = _load_or_exit(rule_file)
    typer.echo(f"{rule_file}: valid (version {rules.version}: {len(rules.scoring)} scoring "
               f"rules, {len(rules.stages)} stage rules, {len(rules.routes)} routes)")


@rules_app.command("test")
def run_tests(rule_file: RuleFile) -> None:
    """Validate a rule file, then run its examples: each lead must get the expected decision."""
    rules = _load_or_exit(rule_file)
    if not rules.examples:
        typer.echo(f"{rule_file}: no examples to run\n    hint: add an `examples:` list, e.g.\n"
                   "      - name: demo request goes to sales\n"
                   "        lead: {email: ada@siemens.example, lead_source: demo_request}\n"
                   "        expect: {stage: mql}", err=True)
        raise typer.Exit(1)
    results = run_examples(rules)
    for result in results:
        _echo_result(result, rules.source)
    failed = sum(1 for result in results if not result.passed)
    typer.echo(f"{len(results) - failed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)


def _echo_result(result: ExampleResult, source: str) -> None:
    example = result.example
    if result.passed:
        typer.echo(f"PASS {example.name}")
        return
    typer.echo(f"FAIL {example.name}   ({source}:{example.line})")
    if result.decision is None:
        typer.echo(f"{_INDENT}error: {result.error}")
        return
    for difference in result.differences:
        typer.echo(_INDENT + _difference_line(difference, result.decision))
    if all(difference.field != "matched" for difference in result.differences):
        typer.echo(f"{_INDENT}matched: {', '.join(result.decision.matched_rules)}")


def _difference_line(difference: Difference, decision: LeadRouted) -> str:
    expected, actual = difference.expected, ", ".join(decision.matched_rules)
    if isinstance(expected, tuple):
        missing = [name for name in expected if name not in decision.matched_rules]
        return f"matched: expected {', '.join(missing)} among the matched rules, got {actual}"
    line = f"{difference.field}: expected {expected}, got {difference.actual}"
    if difference.field == "score":
        breakdown = ", ".join(f"{s.rule} {s.points:+d}" for s in decision.score_breakdown)
        line += f"  ({breakdown or 'no scoring rule matched'})"
    return line


@rules_app.command("publish")
def publish_rules(rule_file: RuleFile) -> None:
    """Publish a rule file to every running router (validated, examples passing first).

    Routers switch between two events; each decision names the version it used. To roll
    back, publish the previous file again. Kafka is reached with the ACCORD_KAFKA_* settings.
    """
    rules = _load_or_exit(rule_file)
    failed = [r for r in run_examples(rules) if not r.passed]
    if failed or not rules.examples:
        typer.echo(f"{rule_file}: not published: run `accord rules test {rule_file}` "
                   f"({len(failed)} example(s) failing, {len(rules.examples)} in the file)",
                   err=True)
        raise typer.Exit(1)
    published = asyncio.run(publish(KafkaSettings(), rule_file.read_text(), str(rule_file)))
    typer.echo(f"{rule_file}: published version {published.version} "
               f"(rules topic offset {published.offset})")


def main() -> None:
    """Console entry point."""
    app()
