"""``accord rules simulate``: replaying recorded events through current and candidate rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.local.kafka_broker import REPO_ROOT
from services.cli import app
from services.contracts.envelope import Envelope, EnvelopeError, KafkaRecord, decode, encode
from services.contracts.events import (
    ENGAGEMENT_RECORDED,
    HUBSPOT_CHANGE_RECEIVED,
    SALESFORCE_CHANGE_RECEIVED,
    SalesforceChangeReceived,
)
from services.log_redaction import pseudonym
from services.router.recorded_events import parse_recorded_event
from services.router.rules.loader import parse_rules
from services.router.rules.model import RuleSet
from services.router.simulation import simulate
from services.router.simulation_report import render_report, report_as_json
from tests.builders import (
    INTEGRATION_USER,
    a_captured_lead,
    a_crm_context,
    an_envelope,
    an_example_of,
)

SHIPPED = REPO_ROOT / "rules" / "leads.yaml"
MARIA, SOFIA = "maria.garcia@accord.example", "sofia.rossi@accord.example"
AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
runner = CliRunner()
REP = "005000000000001AAA"


def candidate_text() -> str:
    """The shipped rules with enterprise EMEA leads handed from Maria to Sofia."""
    return (SHIPPED.read_text().replace(f"assign: {{user: {MARIA}}}", f"assign: {{user: {SOFIA}}}")
            .replace('version: "2026.11.23-5"', 'version: "2026.11.24-1"')
            .replace(f"owner: {MARIA}", f"owner: {SOFIA}"))


@pytest.fixture(scope="module")
def current() -> RuleSet:
    return parse_rules(SHIPPED.read_text(), str(SHIPPED))


@pytest.fixture(scope="module")
def candidate() -> RuleSet:
    return parse_rules(candidate_text(), "candidate.yaml")


def captured(event_id: str, **fields: object) -> Envelope:
    return an_envelope(a_captured_lead(at=AT, **fields), event_id=event_id)


def mixed_leads() -> list[Envelope]:
    """Two enterprise EMEA leads (Maria's), one US enterprise, one mid-market, one nurture."""
    return [
        captured("e1", email="ada@siemens.example", employees=5000, country="DE"),
        captured("e2", email="bo@shop.example", employees=300, country="US"),
        captured("e3", email="cy@gmail.com", employees=None, country=None, title=None,
                 lead_source="web_form"),
        captured("e4", email="di@havenbank.example", employees=1200, country="NL"),
        captured("e5", email="ed@northwind.example", employees=2500, country="US"),
    ]


def engagement(event_id: str, email: str, action: str, at: datetime) -> Envelope:
    event = an_example_of(ENGAGEMENT_RECORDED).model_copy(
        update={"lead_key": email, "email": email, "action": action, "occurred_at": at})
    record = encode(ENGAGEMENT_RECORDED, "/test", email, event, event_id=event_id)
    return decode(record.key, record.value, record.headers)


def status_change(event_id: str, email: str, status: str, by: str) -> Envelope:
    change = SalesforceChangeReceived(
        organization_id="00D000000000001AAA", action_id="04k000000000001AAA",
        notification_id=event_id, sobject_type="Lead", sobject_id="00Q000000000001AAA",
        fields={"Status": status, "LastModifiedById": by, "Accord_Lead_Key__c": email},
        received_at=AT + timedelta(minutes=5))
    record = encode(SALESFORCE_CHANGE_RECEIVED, "/sf", email, change, event_id=event_id)
    return decode(record.key, record.value, record.headers)


def test_given_a_rep_status_and_an_echo_when_simulated_with_the_crm_then_only_the_rep_counts(
        current: RuleSet):
    # The candidate no longer counts Working - Contacted as sales' acceptance.
    candidate = parse_rules(SHIPPED.read_text().replace(
        "when: lead.salesforce_status in ['Working - Contacted']", "when: false"), "c.yaml")
    events = [captured("e1", email="ada@siemens.example", employees=5000, country="DE"),
              captured("e2", email="bo@shop.example", employees=300, country="US"),
              status_change("n1", "ada@siemens.example", "Working - Contacted", REP),
              # Accord's own write coming back: not sales' word, under either rule set.
              status_change("n2", "bo@shop.example", "Working - Contacted", INTEGRATION_USER)]

    report = simulate(current, candidate, events, a_crm_context())

    [change] = report.changed
    assert (change.lead_key, change.stage_before, change.stage_after) == (
        "ada@siemens.example", "sql", "mql")


def test_given_rules_differing_in_one_route_owner_when_simulated_then_exactly_its_leads_change(
        current: RuleSet, candidate: RuleSet):
    report = simulate(current, candidate, mixed_leads())

    assert report.leads == 5 and report.events_replayed == 5
    assert {c.lead_key for c in report.changed} == {"ada@siemens.example",
                                                     "di@havenbank.example"}
    assert all(c.owner_before == MARIA and c.owner_after == SOFIA for c in report.changed)
    assert (report.owner_changes, report.stage_changes, report.route_changes) == (2, 0, 0)
    assert report.mean_score_delta == 0 and report.score_changes == 0
    owners = {row.name: (row.current, row.candidate, row.delta) for row in report.owners}
    assert owners[MARIA] == (2, 0, -2) and owners[SOFIA] == (0, 2, 2)


def test_given_identical_rules_when_simulated_then_nothing_changes(current: RuleSet):
    report = simulate(current, current, mixed_leads())

    assert report.changed == () and report.owner_changes == 0
    assert all(row.delta == 0 for row in (*report.owners, *report.routes, *report.stages))


def test_given_the_same_event_id_twice_when_simulated_then_the_duplicate_changes_nothing(
        current: RuleSet, candidate: RuleSet):
    events = mixed_leads()
    redelivered = captured("e1", email="ada@siemens.example", employees=40, country="BR")

    once = simulate(current, candidate, events)
    twice = simulate(current, candidate, [*events, redelivered])

    assert twice.events_duplicate == 1 and twice.events_replayed == 6
    assert (twice.leads, twice.changed, twice.owners) == (once.leads, once.changed, once.owners)


def test_given_unsupported_and_invalid_events_when_simulated_then_skipped_and_counted(
        current: RuleSet, candidate: RuleSet):
    crm = encode(HUBSPOT_CHANGE_RECEIVED, "/hubspot", "hubspot:1:contact:101",
                 an_example_of(HUBSPOT_CHANGE_RECEIVED))
    unsupported = decode(crm.key, crm.value, crm.headers)
    good = captured("e9", email="ada@siemens.example", employees=5000, country="DE")
    invalid = Envelope(id="e10", type=good.type, source=good.source,
                       dataschema=good.dataschema, data={**good.data, "fields": {}})

    report = simulate(current, candidate, [unsupported, good, unsupported, invalid])

    assert report.events_skipped == {HUBSPOT_CHANGE_RECEIVED: 2}
    assert report.events_invalid == 1
    assert report.events_replayed == 1 and report.leads == 1


def test_given_a_simulation_when_reported_then_each_distribution_sums_to_the_leads(
        current: RuleSet, candidate: RuleSet):
    report = simulate(current, candidate, mixed_leads())

    for rows in (report.owners, report.routes, report.stages):
        assert sum(r.current for r in rows) == sum(r.candidate for r in rows) == report.leads
        assert sum(r.delta for r in rows) == 0


def test_given_an_engagement_a_month_before_capture_when_simulated_then_decayed_at_event_time(
        current: RuleSet):
    email = "fay@kaisha.example"
    events = [engagement("g1", email, "demo_request", AT - timedelta(days=30)),
              captured("g2", email=email, employees=40, country="BR", title=None,
                       lead_source="web_form")]

    first = simulate(current, current, events)
    again = simulate(current, current, events)

    # Decided at the capture's time: demo_request 40 points, halved once (half life 30 days).
    assert first.mean_score_current == 20.0 == again.mean_score_current


def test_given_many_changed_leads_when_rendered_then_pseudonymised_and_capped(
        current: RuleSet, candidate: RuleSet):
    events = [captured(f"m{i}", email=f"lead{i}@siemens.example", employees=5000, country="DE")
              for i in range(25)]
    report = simulate(current, candidate, events)

    text = render_report(report)

    assert "... and 5 more" in text
    assert "lead0@siemens.example" not in text
    assert pseudonym("lead0@siemens.example") in text
    assert f"{MARIA} 25 0 -25" in [" ".join(line.split()) for line in text.splitlines()]
    assert "lead0@siemens.example" in render_report(report, show_emails=True)
    assert len(report_as_json(report)["changed"]) == 25


def test_given_a_line_that_is_not_a_recorded_event_when_parsed_then_envelope_error():
    with pytest.raises(EnvelopeError, match="missing header ce_id"):
        parse_recorded_event('{"key": "a@b.example", "headers": {}, "value": {}}')
    with pytest.raises(EnvelopeError, match="not JSON"):
        parse_recorded_event("{oops")


def recorded_line(record: KafkaRecord) -> str:
    """A Kafka record as one line of the ``--events`` file."""
    return json.dumps({"key": record.key.decode(),
                       "headers": {name: raw.decode() for name, raw in record.headers},
                       "value": json.loads(record.value)})


@pytest.fixture
def rule_files(tmp_path: Path) -> tuple[Path, Path]:
    candidate_file = tmp_path / "candidate.yaml"
    candidate_file.write_text(candidate_text())
    return SHIPPED, candidate_file


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    leads = [a_captured_lead(at=AT, email="ada@siemens.example", employees=5000, country="DE"),
             a_captured_lead(at=AT, email="bo@shop.example", employees=300, country="US"),
             a_captured_lead(at=AT, email="di@havenbank.example", employees=1200, country="NL")]
    records = [encode("dev.accord.lead.captured", "/test", lead.lead_key, lead,
                      event_id=f"evt-{i}") for i, lead in enumerate(leads)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(recorded_line(r) for r in [*records, records[0]]) + "\n")
    return path


def test_given_a_jsonl_file_when_simulated_from_the_cli_then_a_readable_report(
        rule_files: tuple[Path, Path], events_file: Path):
    result = runner.invoke(app, ["rules", "simulate", *map(str, rule_files),
                                 "--events", str(events_file)])

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    assert "Replayed 4 events for 3 leads (1 duplicate); skipped 0, invalid 0" in lines
    assert "Changes: 2 change owner, 0 change stage, 0 change route" in lines
    assert lines.index("owner current candidate delta") < lines.index(f"{MARIA} 2 0 -2")
    assert f"{SOFIA} 0 2 +2" in lines
    assert pseudonym("ada@siemens.example") in result.output
    assert "ada@siemens.example" not in result.output


def test_given_an_unreadable_mapping_when_simulated_from_the_cli_then_warned_and_still_run(
        rule_files: tuple[Path, Path], events_file: Path, tmp_path: Path):
    missing = tmp_path / "crm.yaml"
    result = runner.invoke(app, ["rules", "simulate", *map(str, rule_files),
                                 "--events", str(events_file)],
                           env={"ACCORD_ROUTER_MAPPING_FILE": str(missing)})

    assert result.exit_code == 0, result.output
    assert f"the mapping file {missing} cannot be read" in result.output
    assert "replayed without merging their field values" in result.output
    assert "Replayed 4 events for 3 leads" in " ".join(result.output.split())


def test_given_json_and_a_limit_when_simulated_from_the_cli_then_machine_readable(
        rule_files: tuple[Path, Path], events_file: Path):
    result = runner.invoke(app, ["rules", "simulate", *map(str, rule_files), "--events",
                                 str(events_file), "--json", "--limit", "2", "--show-emails"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["leads"], report["events_replayed"], report["owner_changes"]) == (2, 2, 1)
    assert report["changed"][0]["lead_key"] == "ada@siemens.example"
    assert {"name": MARIA, "current": 1, "candidate": 0, "delta": -1} in report["owners"]


def test_given_an_unreadable_line_when_simulated_from_the_cli_then_warned_and_counted(
        rule_files: tuple[Path, Path], events_file: Path):
    events_file.write_text(events_file.read_text() + "not json\n")

    result = runner.invoke(app, ["rules", "simulate", *map(str, rule_files),
                                 "--events", str(events_file), "--json"])

    assert result.exit_code == 0
    assert f"{events_file}:5: not a recorded event" in result.stderr
    assert json.loads(result.stdout)["events_invalid"] == 1


def test_given_an_invalid_candidate_when_simulated_then_its_problems_and_exit_1(
        tmp_path: Path, events_file: Path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(SHIPPED.read_text().replace("score >= 60", "score >= 60.0"))

    result = runner.invoke(app, ["rules", "simulate", str(SHIPPED), str(broken),
                                 "--events", str(events_file)])

    assert result.exit_code == 1
    assert f"{broken}: 1 problem" in result.output and "write 50, not 50.0" in result.output


def test_given_no_event_source_when_simulated_then_a_usage_error(
        rule_files: tuple[Path, Path]):
    result = runner.invoke(app, ["rules", "simulate", *map(str, rule_files)])

    assert result.exit_code == 2
    assert "--events FILE or --from-kafka" in result.output


def test_given_a_pool_weight_change_when_simulated_then_members_and_sla_load_are_shown(
        current):
    six = [captured(f"p{n}", email=f"buyer{n}@shop{n}.example", employees=300, country="US")
           for n in range(6)]
    reweighted = parse_rules(SHIPPED.read_text().replace(
        "{email: diego.ramos@accord.example, weight: 1", "{email: diego.ramos@accord.example, "
        "weight: 2").replace('version: "2026.11.23-5"', 'version: "2026.11.24-2"'), "c.yaml")
    report = simulate(current, reweighted, six)
    members = {row.name: (row.current, row.candidate) for row in report.pool_members}
    assert members == {"commercial / amara.okafor@accord.example": (4, 3),
                       "commercial / diego.ramos@accord.example": (2, 3)}
    assert [(r.name, r.current, r.candidate) for r in report.sla_load] == [("hot_mql", 6, 6)]
    # a d a a d a  ->  a d a d a d: the last three leads change hands.
    assert report.owner_changes == 3
    text = render_report(report)
    assert "pool / member" in text and "SLA clocks started" in text
