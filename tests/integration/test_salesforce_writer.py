"""The batched Salesforce writer against a real Salesforce sandbox process (HTTPS, own CA)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce import Salesforce, format_soql

from deploy.local.kafka_broker import REPO_ROOT
from services.mapping.crm_mapping import load_mapping
from services.sync.crm_errors import CrmLimitReached, RejectedByCrmError, TransientCrmError
from services.sync.crm_writes import RecordToWrite
from services.sync.mapping_check import MappingMismatchError
from services.sync.salesforce_session import SalesforceSession
from services.sync.salesforce_writer import SalesforceWriter
from services.sync.settings import SyncSettings
from tests.builders import a_signing_key_pair
from tests.integration.sandboxes.conftest import SalesforceSandbox, running_sandbox
from tests.integration.sandboxes.salesforce_client import JAMES, MARIA, connect

pytestmark = pytest.mark.integration

KEY = "Accord_Lead_Key__c"
MAPPING = load_mapping(REPO_ROOT / "mappings" / "crm.yaml").salesforce.lead


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The private key sync signs JWT assertions with, and its certificate (the app's)."""
    return a_signing_key_pair(tmp_path_factory.mktemp("connected-app"))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory,
            signing_key: tuple[str, Path]) -> Iterator[SalesforceSandbox]:
    """One sandbox for this module; a fixed fault seed keeps the lock-fault test repeatable.
    Its connected app takes both client credentials and JWT bearer assertions."""
    started = running_sandbox(tmp_path_factory, {
        "SALESFORCE_SANDBOX_FAULT_SEED": "4",
        "SALESFORCE_SANDBOX_JWT_CERTIFICATE_FILE": str(signing_key[1])})
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(autouse=True)
def _knobs_back_to_settings(sandbox: SalesforceSandbox) -> Iterator[None]:
    yield
    assert sandbox.admin("DELETE", "/knobs").status_code == 200


@pytest.fixture
def client_name() -> str:
    """A Sforce-Call-Options client of this test alone, so the sandbox counts its calls."""
    return f"accord-test-{uuid.uuid4().hex[:8]}"


def settings_for(sandbox: SalesforceSandbox, client_name: str, **overrides: Any) -> SyncSettings:
    return SyncSettings(**{
        "salesforce_token_url": sandbox.token_url, "salesforce_client_id": sandbox.client_id,
        "salesforce_client_secret": sandbox.client_secret,
        "salesforce_ca_bundle": sandbox.ca_path, "salesforce_client_name": client_name,
        "mapping_file": Path("mappings/crm.yaml"), "crm_timeout_seconds": 10.0, **overrides})


@pytest.fixture
def writer(sandbox: SalesforceSandbox, client_name: str) -> SalesforceWriter:
    return SalesforceWriter(settings_for(sandbox, client_name))


@pytest.fixture
def sf(sandbox: SalesforceSandbox) -> Salesforce:
    """simple-salesforce, unchanged, to look at what the writer left in the org."""
    return connect(sandbox)


def usage(sandbox: SalesforceSandbox) -> dict[str, Any]:
    answer = sandbox.admin("GET", "/usage")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def calls_by(sandbox: SalesforceSandbox, client: str) -> int:
    return int(usage(sandbox)["by_client"].get(client, 0))


def leads(count: int, **fields: Any) -> list[RecordToWrite]:
    """``count`` new leads of one batch; its tag is their Company, to find them again."""
    tag = uuid.uuid4().hex[:10]
    return [RecordToWrite(f"lead-{tag}-{i}@example.com", {
        "FirstName": "Ann", "LastName": f"Lee {i}", "Company": f"Batch {tag}", "Title": "CTO",
        "Status": "Open - Not Contacted", "OwnerId": MARIA, "Accord_Score__c": i,
        "Accord_Stage__c": "lead", **fields}) for i in range(count)]


def stored(sf: Salesforce, company: str) -> dict[str, dict[str, Any]]:
    soql = format_soql("SELECT Id, Accord_Lead_Key__c, Accord_Score__c, Title, OwnerId "
                       "FROM Lead WHERE Company = {}", company)
    return {r[KEY]: r for r in sf.query_all(soql)["records"]}


def test_given_450_new_leads_when_upserted_then_three_collection_calls_write_them_all(
        sandbox, writer, sf, client_name):
    records = leads(450)

    outcome = writer.upsert_leads(KEY, records)

    assert outcome.rejected == () and outcome.skipped == ()
    assert calls_by(sandbox, client_name) == 3  # 200 + 200 + 50, under the configured client
    found = stored(sf, records[0].fields["Company"])
    assert {key: row["Id"] for key, row in found.items()} == outcome.written
    assert set(outcome.written) == {r.key for r in records}


def test_given_written_leads_when_upserted_with_changed_values_then_updated_not_duplicated(
        writer, sf):
    records = leads(5)
    first = writer.upsert_leads(KEY, records)
    changed = [RecordToWrite(r.key, {**r.fields, "Accord_Score__c": 99, "Title": "CEO",
                                     "OwnerId": JAMES}) for r in records]

    second = writer.upsert_leads(KEY, changed)

    assert second.written == first.written
    found = stored(sf, records[0].fields["Company"])
    assert len(found) == 5
    assert {(r["Accord_Score__c"], r["Title"], r["OwnerId"]) for r in found.values()} == {
        (99, "CEO", JAMES)}


def test_given_one_key_twice_in_a_batch_when_upserted_then_the_last_state_is_written_once(
        writer, sf):
    record = leads(1)[0]
    later = RecordToWrite(record.key.upper(), {**record.fields, "Accord_Score__c": 42})

    outcome = writer.upsert_leads(KEY, [record, later])

    assert outcome.rejected == ()
    assert outcome.written[record.key] == outcome.written[later.key]
    found = stored(sf, record.fields["Company"])
    assert [r["Accord_Score__c"] for r in found.values()] == [42]


def test_given_a_bad_picklist_value_and_a_missing_required_field_when_upserted_then_those_are_rejected_and_batch_mates_written(  # noqa: E501
        writer, sf):
    good, bad_status, no_last_name, also_good = leads(4)
    bad_status = RecordToWrite(bad_status.key, {**bad_status.fields, "Status": "Hot"})
    no_last_name = RecordToWrite(no_last_name.key,
                                 {k: v for k, v in no_last_name.fields.items() if k != "LastName"})

    outcome = writer.upsert_leads(KEY, [good, bad_status, no_last_name, also_good])

    assert set(outcome.written) == {good.key, also_good.key}
    rejected = {r.key: r for r in outcome.rejected}
    assert (rejected[bad_status.key].crm, rejected[bad_status.key].code,
            rejected[bad_status.key].fields) == (
        "salesforce", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ("Status",))
    assert (rejected[no_last_name.key].code, rejected[no_last_name.key].fields) == (
        "REQUIRED_FIELD_MISSING", ("LastName",))
    assert "Hot" in rejected[bad_status.key].message
    assert set(stored(sf, good.fields["Company"])) == {good.key, also_good.key}


def test_given_a_refused_record_when_written_alone_then_rejected_by_crm_error_names_the_code(
        writer):
    record = leads(1, Status="Hot")[0]
    with pytest.raises(RejectedByCrmError) as refused:
        writer.upsert_lead(KEY, record.key, record.fields)
    assert refused.value.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_given_an_expired_session_when_upserting_then_the_writer_logs_in_again_transparently(
        sandbox, writer, client_name):
    writer.upsert_leads(KEY, leads(1))
    ended = sandbox.admin("POST", "/sessions/expire")
    assert ended.status_code == 200 and ended.json()  # at least the writer's session ended

    outcome = writer.upsert_leads(KEY, leads(3))

    assert len(outcome.written) == 3 and outcome.rejected == ()
    assert calls_by(sandbox, client_name) == 2  # the refused call is not counted


def jwt_settings(sandbox: SalesforceSandbox, client_name: str, key: str) -> SyncSettings:
    return settings_for(sandbox, client_name, salesforce_auth_flow="jwt_bearer",
                        salesforce_client_secret="", salesforce_private_key=key,
                        salesforce_username="integration@accord.example",
                        salesforce_jwt_audience="https://test.salesforce.com")


def test_given_the_jwt_bearer_flow_when_upserting_then_written_and_sessions_renewed_by_jwt(
        sandbox, signing_key, client_name):
    writer = SalesforceWriter(jwt_settings(sandbox, client_name, signing_key[0]))
    assert len(writer.upsert_leads(KEY, leads(2)).written) == 2
    assert sandbox.admin("POST", "/sessions/expire").status_code == 200

    outcome = writer.upsert_leads(KEY, leads(3))

    assert len(outcome.written) == 3 and outcome.rejected == ()
    assert calls_by(sandbox, client_name) == 2  # one login per session, no secret sent


def test_given_a_key_the_app_does_not_hold_when_logging_in_then_salesforce_s_refusal_shows(
        sandbox, client_name, tmp_path):
    stranger, _ = a_signing_key_pair(tmp_path)
    writer = SalesforceWriter(jwt_settings(sandbox, client_name, stranger))

    with pytest.raises(TransientCrmError, match="invalid assertion"):
        writer.upsert_leads(KEY, leads(1))


def test_given_rows_locked_half_the_time_when_upserting_then_every_lead_is_eventually_written(
        sandbox, writer, sf, client_name):
    sandbox.knobs(error_rate=0.5, error_kinds=["unable_to_lock_row"])
    records = leads(450)

    outcome = None
    for _ in range(5):  # as the worker does: a TransientCrmError is retried later
        try:
            outcome = writer.upsert_leads(KEY, records)
            break
        except TransientCrmError as still_locked:
            assert "UNABLE_TO_LOCK_ROW" in str(still_locked)
    assert outcome is not None, "still locked after five batches"

    assert outcome.rejected == () and len(outcome.written) == 450
    assert calls_by(sandbox, client_name) > 3  # locked records were sent again
    assert set(stored(sf, records[0].fields["Company"])) == {r.key for r in records}


def test_given_some_records_locked_in_an_answer_when_upserting_then_only_those_are_sent_again(
        writer, monkeypatch):
    # The sandbox locks whole calls; a real org may lock some records of one call. Make the
    # sandbox's first answer say two records were locked and watch what is sent next.
    sent: list[list[str]] = []
    real_call = SalesforceSession.call

    def call(self: SalesforceSession, method: str, path: str, **kwargs: Any) -> Any:
        answer = real_call(self, method, path, **kwargs)
        if path.startswith("composite/sobjects/Lead/"):
            sent.append([r[KEY] for r in kwargs["json"]["records"]])
            if len(sent) == 1:
                for i in (1, 3):
                    answer[i] = {"success": False, "errors": [{
                        "statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked", "fields": []}]}
        return answer

    monkeypatch.setattr(SalesforceSession, "call", call)
    records = leads(5)

    outcome = writer.upsert_leads(KEY, records)

    assert sent == [[r.key for r in records], [records[1].key, records[3].key]]
    assert set(outcome.written) == {r.key for r in records}


def test_given_a_tight_daily_limit_when_upserting_then_limit_reached_before_the_share_is_passed(
        sandbox, sf, client_name):
    settings = settings_for(sandbox, client_name, salesforce_allowance_share=0.5)
    writer = SalesforceWriter(settings)
    used = usage(sandbox)["used"]
    sandbox.knobs(api_daily_limit=2 * (used + 3))  # Accord's half: 3 more calls today
    writer.upsert_leads(KEY, leads(1))  # learns the new limit from the answer: 2 calls left

    with pytest.raises(CrmLimitReached) as too_big:
        writer.upsert_leads(KEY, leads(450))  # 3 calls needed: refused before any is sent
    assert usage(sandbox)["used"] == used + 1

    other = SalesforceWriter(settings)  # knows no count yet: learns it from its first answer
    records = leads(450)
    with pytest.raises(CrmLimitReached) as at_share:
        other.upsert_leads(KEY, records)  # 2 chunks fit, the third is refused before its call

    assert usage(sandbox)["used"] == used + 3 == usage(sandbox)["limit"] // 2
    assert calls_by(sandbox, client_name) == 3
    assert len(stored(sf, records[0].fields["Company"])) == 400  # kept; rewritten on retry
    for refused in (too_big.value, at_share.value):
        assert "Accord's share" in str(refused)  # refused by the writer, never by a 403
        assert 0 < refused.resume_after_seconds <= 24 * 3600


def test_given_the_org_limit_used_by_others_when_upserting_then_limit_reached_not_rejected(
        sandbox, writer):
    sandbox.knobs(api_daily_limit=usage(sandbox)["used"])  # others used it all

    with pytest.raises(CrmLimitReached) as refused:
        writer.upsert_leads(KEY, leads(2))

    assert "REQUEST_LIMIT_EXCEEDED" in str(refused.value)
    assert 0 < refused.value.resume_after_seconds <= 24 * 3600
    with pytest.raises(CrmLimitReached) as again:  # now known: refused without a call
        writer.upsert_leads(KEY, leads(2))
    assert "Accord's share" in str(again.value)


def test_given_a_converted_lead_when_upserted_then_its_contact_gets_the_update_once(
        sandbox, writer, sf, client_name):
    converted, plain = leads(2, Email="ann@old.example")
    writer.upsert_leads(KEY, [converted, plain])
    answer = sandbox.admin("POST", f"/sales/leads/{converted.key}/convert", {})
    assert answer.status_code == 200, answer.text
    contact_id = answer.json()["contactId"]
    writer.check_mapping(MAPPING)  # describes Contact too, before the calls are counted
    before = calls_by(sandbox, client_name)
    change = {"FirstName": "Annie", "Email": "annie@new.example", "Accord_Score__c": 77,
              "Status": "Working - Contacted", "Company": "Elsewhere Inc", "Title": "CEO"}

    outcome = writer.upsert_leads(KEY, [RecordToWrite(converted.key, {**converted.fields,
                                                                       **change}),
                                        RecordToWrite(plain.key, {**plain.fields, **change})])

    assert outcome.rejected == ()
    assert outcome.written[converted.key] == contact_id
    assert outcome.written[plain.key].startswith("00Q")
    # The Lead upsert, the SOQL for the converted Contact, the Contact update: no loop.
    assert calls_by(sandbox, client_name) - before == 3
    contact = sf.Contact.get(contact_id)
    assert (contact["FirstName"], contact["Email"], contact["Accord_Score__c"]) == (
        "Annie", "annie@new.example", 77)
    lead = sf.Lead.get_by_custom_id(KEY, converted.key)
    assert (lead["Status"], lead["FirstName"], lead["Company"]) == (
        "Closed - Converted", "Ann", converted.fields["Company"])


def test_given_the_shipped_mapping_when_checked_against_the_sandbox_then_it_fits(writer):
    writer.check_mapping(MAPPING)


def test_given_a_bogus_field_and_status_when_checked_then_a_readable_mismatch_is_raised(writer):
    mapping = MAPPING.model_copy(update={
        "fields": {**MAPPING.fields, "title": "JobTitle"},
        "status_by_stage": {**MAPPING.status_by_stage, "mql": "Hot Lead"}})

    with pytest.raises(MappingMismatchError) as mismatch:
        writer.check_mapping(mapping)

    assert mismatch.value.problems == (
        "mappings/crm.yaml salesforce.lead.fields.title: 'JobTitle' is not a field of Lead",
        "mappings/crm.yaml salesforce.lead.status_by_stage.mql: 'Hot Lead' is not an active "
        "value of Lead.Status (allowed: Open - Not Contacted, Marketing Qualified, Working - "
        "Contacted, Nurture, Unqualified, Closed - Converted)")


def test_given_an_owner_email_when_resolved_twice_then_one_query_answers_both(
        sandbox, writer, client_name):
    assert writer.owner_id("maria.garcia@accord.example") == MARIA
    assert writer.owner_id("maria.garcia@accord.example") == MARIA
    assert calls_by(sandbox, client_name) == 1
    with pytest.raises(RejectedByCrmError) as unknown:
        writer.owner_id("nobody@accord.example")
    assert unknown.value.code == "UNKNOWN_OWNER"


def test_given_the_org_unavailable_when_upserting_then_a_transient_error_not_a_rejection(
        sandbox, writer):
    sandbox.knobs(error_rate=1.0, error_kinds=["unavailable"])
    with pytest.raises(TransientCrmError, match="503 SERVER_UNAVAILABLE") as failed:
        writer.upsert_leads(KEY, leads(2))
    assert not isinstance(failed.value, CrmLimitReached)


def test_given_a_slow_org_when_upserting_then_the_call_is_cut_at_the_timeout(
        sandbox, client_name):
    writer = SalesforceWriter(settings_for(sandbox, client_name, crm_timeout_seconds=0.5))
    writer.owner_id("maria.garcia@accord.example")  # logged in while the org is quick
    sandbox.knobs(latency_ms=3000)
    with pytest.raises(TransientCrmError, match="Timeout"):
        writer.upsert_leads(KEY, leads(1))
