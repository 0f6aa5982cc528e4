"""``accord``: the command line of Accord for RevOps engineers and operators."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from services.contracts.envelope import EnvelopeError
from services.contracts.events import LeadRouted
from services.dlq_cli import dlq_app
from services.messaging.settings import KafkaSettings
from services.router.crm_fields import CrmContext, crm_context_of
from services.router.recorded_events import (
    MissingTopicError,
    Recorded,
    file_events,
    kafka_events,
)
from services.router.rule_publication import publish
from services.router.rules.examples import Difference, ExampleResult, run_examples
from services.router.rules.loader import RuleFileError, load_rules
from services.router.rules.model import RuleSet
from services.router.settings import RouterSettings
from services.router.simulation import Replay
from services.router.simulation_report import render_report, report_as_json

app = typer.Typer(help="Accord: one event stream as the source of truth for leads.",
                  no_args_is_help=True)
rules_app = typer.Typer(help="Lead rules as code: check them before they go live.",
                        no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(dlq_app, name="dlq")

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


_SIMULATE_HELP = """Replay recorded lead events through the current and a candidate rule set and
report what would change: owners, stages, routes and scores, lead by lead.

Events come from a JSON Lines file (--events), one recorded Kafka record a line:

    {"key": "ada@siemens.example", "headers": {"ce_specversion": "1.0", "ce_id": "evt-1",
     "ce_type": "dev.accord.lead.captured", "ce_source": "/accord/ingest/v1/leads"},
     "value": {"lead_key": "ada@siemens.example", "fields": {...}, "captured_at": "..."}}

or from Kafka (--from-kafka, settings from ACCORD_KAFKA_*): the lead-events topic and the
CRM changes the router linked to leads (rep statuses, field edits, won opportunities),
merged in the order they were written, from the beginning up to their end when the command
starts. Each event is decided at its own time (captured_at / occurred_at), so engagement
decay replays the same way every time. CRM changes replay as the router sees them (the
ACCORD_ROUTER_* settings and mappings/crm.yaml): echoes of Accord's own writes decide
nothing.
"""
_WARNINGS_SHOWN = 5


@rules_app.command("simulate", help=_SIMULATE_HELP)
def simulate(
    current_rules: RuleFile,
    candidate_rules: Annotated[Path, typer.Argument(
        help="The changed rule file to compare", exists=True, dir_okay=False,
        readable=True)],
    events: Annotated[Path | None, typer.Option(
        "--events", help="A JSON Lines file of recorded events (format above)",
        exists=True, dir_okay=False, readable=True)] = None,
    from_kafka: Annotated[bool, typer.Option(
        "--from-kafka", help="Read the lead-events topic from the beginning")] = False,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="Replay at most this many events")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    show_emails: Annotated[bool, typer.Option(
        "--show-emails", help="Show lead emails instead of pseudonyms")] = False,
) -> None:
    """Replay recorded lead events through two rule sets and report what would change."""
    if (events is None) == (not from_kafka):
        raise typer.BadParameter("give exactly one of --events FILE or --from-kafka")
    current, candidate = _load_or_exit(current_rules), _load_or_exit(candidate_rules)
    feed = _Feed(Replay(current, candidate, _crm_context()))
    if events is not None:
        recorded: Iterable[tuple[str, Recorded]] = file_events(events, limit)
    else:
        try:
            recorded = asyncio.run(kafka_events(KafkaSettings(), limit))
        except MissingTopicError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from exc
    for where, item in recorded:
        feed(where, item)
    report = feed.replay.report()
    if as_json:
        typer.echo(json.dumps(report_as_json(report, show_emails), indent=2))
    else:
        typer.echo(render_report(report, show_emails))


class _Feed:
    """Hands each recorded event to the replay; warns about the first few unreadable ones."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.unreadable = 0

    def __call__(self, where: str, item: Recorded) -> None:
        if isinstance(item, EnvelopeError):
            self.replay.unreadable()
            self.unreadable += 1
            if self.unreadable <= _WARNINGS_SHOWN:
                typer.echo(f"{where}: not a recorded event, counted as invalid: {item}",
                           err=True)
            return
        key, envelope = item
        self.replay.feed(envelope, key)


def _crm_context() -> CrmContext:
    """The router's own view of the CRMs (ACCORD_ROUTER_* settings, the mapping file): CRM
    changes replay as in production — echoes of Accord's writes decide nothing, a person's
    edits merge by their sync rules."""
    settings = RouterSettings()
    try:
        return crm_context_of(settings)
    except (OSError, ValueError) as exc:
        typer.echo(f"the mapping file {settings.mapping_file} cannot be read ({exc}); CRM "
                   "changes are replayed without merging their field values", err=True)
        return CrmContext.of(settings.salesforce_integration_user_ids,
                             settings.hubspot_app_ids, None)


def main() -> None:
    """Console entry point."""
    app()
