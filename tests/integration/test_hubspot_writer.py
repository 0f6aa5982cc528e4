"""The HubSpot writer against a real HubSpot sandbox process: batches, rejections, limits,
deals with associations, and the start-up mapping check."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.mapping.crm_mapping import HubSpotContactMapping, load_mapping
from services.sync.crm_errors import CrmLimitReached, RejectedByCrmError, TransientCrmError
from services.sync.crm_writes import RecordToWrite
from services.sync.hubspot_batches import Answer, read_answer, settle, upsert_reading
from services.sync.hubspot_mapping_check import HubSpotMappingMismatchError
from services.sync.hubspot_rate_limit import HubSpotRateLimiter, seconds_until_utc_midnight
from services.sync.hubspot_writer import DealToWrite, HubSpotWriter
from services.sync.settings import SyncSettings
from tests.integration.sandboxes.hubspot_fixture import HubSpotSandbox, start_hubspot_sandbox

pytestmark = pytest.mark.integration
REPO_MAPPING = Path(__file__).resolve().parents[2] / "mappings" / "crm.yaml"


@pytest.fixture
def sandbox(hubspot_sandbox: HubSpotSandbox) -> Iterator[HubSpotSandbox]:
    """The shared sandbox, its knobs back to their settings before and after each test."""
    hubspot_sandbox.reset_knobs()
    yield hubspot_sandbox
    hubspot_sandbox.reset_knobs()


@pytest.fixture
def fresh_sandbox(tmp_path: Path) -> Iterator[HubSpotSandbox]:
    """A sandbox of the test's own: nothing counted in its window or its day yet."""
    started = start_hubspot_sandbox(tmp_path / "data")
    try:
        yield started
    finally:
        started.stop()


class RecordingLimiter(HubSpotRateLimiter):
    """The real limiter, noting when each call was let through."""

    def __init__(self) -> None:
        super().__init__(0.9)
        self.starts: list[float] = []

    def acquire(self) -> None:
        super().acquire()
        self.starts.append(time.monotonic())


def writer_for(sandbox: HubSpotSandbox, limiter: HubSpotRateLimiter | None = None,
               **settings: Any) -> HubSpotWriter:
    return HubSpotWriter(SyncSettings(hubspot_base_url=sandbox.base_url,
                                      hubspot_access_token=settings.pop(
                                          "token", sandbox.access_token),
                                      **settings), limiter)


def api(sandbox: HubSpotSandbox, path: str, **params: Any) -> httpx.Response:
    """A plain GET of the CRM API (it counts against the limits like any call)."""
    return httpx.get(f"{sandbox.base_url}{path}", params=params, trust_env=False, timeout=10,
                     headers={"Authorization": f"Bearer {sandbox.access_token}"})


def counted_calls(sandbox: HubSpotSandbox) -> int:
    """Calls the sandbox counted today, this one included (refused calls are not counted)."""
    headers = api(sandbox, "/crm/v3/owners/", limit=1).headers
    return int(headers["X-HubSpot-RateLimit-Daily"]) - int(
        headers["X-HubSpot-RateLimit-Daily-Remaining"])


def listed(sandbox: HubSpotSandbox, kind: str, properties: str) -> list[dict[str, Any]]:
    """Every record of ``kind`` (contacts, deals), page by page."""
    records: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params = {"limit": 100, "properties": properties, **({"after": after} if after else {})}
        page = api(sandbox, f"/crm/v3/objects/{kind}", **params).json()
        records += page["results"]
        after = page.get("paging", {}).get("next", {}).get("after")
        if after is None:
            return records


def contacts_named(sandbox: HubSpotSandbox, marker: str) -> dict[str, dict[str, Any]]:
    """The contacts whose email holds ``marker``, by email."""
    return {c["properties"]["email"]: c for c in listed(sandbox, "contacts", "email,firstname")
            if marker in (c["properties"]["email"] or "")}


def people(marker: str, count: int, **fields: str) -> list[RecordToWrite]:
    return [RecordToWrite(f"{marker}.{i}@example.com", {"firstname": f"P{i}", **fields})
            for i in range(count)]


def most_in_any_window(times: list[float], interval: float = 10.0) -> int:
    ordered = sorted(times)
    return max(sum(1 for x in ordered[:j + 1] if x > t - interval)
               for j, t in enumerate(ordered))


def test_given_250_contacts_when_upserted_then_3_calls_and_again_updated_without_duplicates(
        sandbox: HubSpotSandbox) -> None:
    marker = uuid.uuid4().hex[:10]
    writer = writer_for(sandbox)

    first = writer.upsert_contacts("email", people(marker, 250, hs_lead_status="NEW"))

    assert writer.limiter.calls == 3
    assert first.rejected == ()
    assert len(set(first.written.values())) == 250
    stored = contacts_named(sandbox, marker)
    assert {email: c["id"] for email, c in stored.items()} == first.written

    second = writer.upsert_contacts("email", [RecordToWrite(r.key, {"firstname": "Changed"})
                                              for r in people(marker, 250)])

    assert second.written == first.written
    stored = contacts_named(sandbox, marker)
    assert len(stored) == 250
    assert {c["properties"]["firstname"] for c in stored.values()} == {"Changed"}


def test_given_one_invalid_option_among_100_when_upserted_then_it_alone_is_rejected(
        sandbox: HubSpotSandbox) -> None:
    marker = uuid.uuid4().hex[:10]
    records = people(marker, 100, hs_lead_status="NEW")
    bad = records[37] = RecordToWrite(records[37].key, {"hs_lead_status": "WORKING"})
    writer = writer_for(sandbox)

    outcome = writer.upsert_contacts("email", records)

    assert [r.key for r in outcome.rejected] == [bad.key]
    refusal = outcome.rejected[0]
    assert (refusal.crm, refusal.code, refusal.fields) == (
        "hubspot", "VALIDATION_ERROR", ("hs_lead_status",))
    assert "WORKING was not one of the allowed options" in refusal.message
    assert refusal.correlation_id and uuid.UUID(refusal.correlation_id)
    assert set(outcome.written) == {r.key for r in records} - {bad.key}
    assert set(contacts_named(sandbox, marker)) == set(outcome.written)
    assert writer.limiter.calls <= 1 + 2 * 7  # halves down to the one bad record


def test_given_one_email_twice_in_different_case_when_upserted_then_one_contact(
        sandbox: HubSpotSandbox) -> None:
    marker = uuid.uuid4().hex[:10]
    writer = writer_for(sandbox)

    outcome = writer.upsert_contacts("email", [
        RecordToWrite(f"{marker}@example.com", {"firstname": "Ann", "lastname": "Lee"}),
        RecordToWrite(f"{marker.upper()}@Example.com", {"firstname": "Anne"})])

    assert len(set(outcome.written.values())) == 1 and len(outcome.written) == 2
    (stored,) = contacts_named(sandbox, marker).values()
    assert stored["properties"]["firstname"] == "Anne"


def test_given_the_worker_wrapper_when_a_contact_is_refused_then_rejected_by_crm_error(
        sandbox: HubSpotSandbox) -> None:
    writer = writer_for(sandbox)
    email = f"{uuid.uuid4().hex[:10]}@example.com"

    contact_id = writer.upsert_contact("email", email, {"firstname": "Solo"})
    with pytest.raises(RejectedByCrmError) as refused:
        writer.upsert_contact("email", email, {"lifecyclestage": "champion"})

    assert contact_id.isdigit()
    assert refused.value.code == "VALIDATION_ERROR"


def test_given_tight_ten_second_limit_when_60_single_record_batches_then_paced_without_429(
        fresh_sandbox: HubSpotSandbox) -> None:
    fresh_sandbox.set_knobs(ten_second_limit=20)
    limiter = RecordingLimiter()
    writer = writer_for(fresh_sandbox, limiter)
    records = people("paced", 60)

    started = time.monotonic()
    outcomes = [writer.upsert_contacts("email", [record]) for record in records]
    elapsed = time.monotonic() - started

    assert all(len(o.written) == 1 for o in outcomes)
    assert limiter.throttled == 0
    fresh_sandbox.reset_knobs()
    # The sandbox counts only the calls it let through: all of ours (and this probe) were.
    assert counted_calls(fresh_sandbox) == limiter.calls + 1 == 61
    assert len(contacts_named(fresh_sandbox, "paced")) == 60
    # 18 calls (90% of 20) per window: waves at about 0, 10, 20 and 30 s.
    assert most_in_any_window(limiter.starts) == 18
    assert 29.0 <= elapsed <= 36.0


def test_given_another_client_burning_the_window_when_upserting_then_429s_waited_out(
        fresh_sandbox: HubSpotSandbox) -> None:
    fresh_sandbox.set_knobs(ten_second_limit=20)
    refused = threading.Event()

    def burn(until: float) -> None:
        with httpx.Client(trust_env=False, timeout=10, headers={
                "Authorization": f"Bearer {fresh_sandbox.access_token}"}) as http:
            while time.monotonic() < until:
                answer = http.get(f"{fresh_sandbox.base_url}/crm/v3/owners/")
                if answer.status_code == 429:
                    refused.set()

    burner = threading.Thread(target=burn, args=(time.monotonic() + 3,))
    burner.start()
    assert refused.wait(5), "the other client never filled the window"
    writer = writer_for(fresh_sandbox)
    records = people("storm", 30)

    started = time.monotonic()
    outcomes = [writer.upsert_contacts("email", records[i:i + 5]) for i in range(0, 30, 5)]
    elapsed = time.monotonic() - started
    burner.join()

    assert writer.limiter.throttled >= 1
    assert elapsed >= 8.0  # waited for the window instead of failing
    assert sum(len(o.written) for o in outcomes) == 30
    assert all(o.rejected == () for o in outcomes)
    assert len(contacts_named(fresh_sandbox, "storm")) == 30


def test_given_daily_cap_when_reached_part_way_then_limit_reached_and_nothing_lost(
        fresh_sandbox: HubSpotSandbox) -> None:
    fresh_sandbox.set_knobs(daily_limit=2)
    records = people("capped", 250)
    writer = writer_for(fresh_sandbox)

    with pytest.raises(CrmLimitReached) as reached:
        writer.upsert_contacts("email", records)

    assert writer.limiter.calls == 2  # the third batch was not even sent
    assert reached.value.resume_after_seconds == pytest.approx(
        seconds_until_utc_midnight(time.time()), abs=30)
    # Another writer, unaware of today's usage, gets HubSpot's 429 DAILY: the same answer.
    other = writer_for(fresh_sandbox)
    with pytest.raises(CrmLimitReached):
        other.upsert_contacts("email", records)
    assert other.limiter.throttled == 1
    fresh_sandbox.reset_knobs()  # as if the day had turned

    again = writer_for(fresh_sandbox).upsert_contacts("email", records)

    assert len(again.written) == 250
    assert len(contacts_named(fresh_sandbox, "capped")) == 250


def test_given_a_deal_of_48000_when_upserted_twice_then_one_deal_associated_with_the_contact(
        sandbox: HubSpotSandbox) -> None:
    writer = writer_for(sandbox)
    email = f"buyer.{uuid.uuid4().hex[:8]}@example.com"
    contact_id = writer.upsert_contacts("email", [RecordToWrite(email, {"firstname": "B"})]
                                        ).written[email]
    key = f"deal-{uuid.uuid4().hex[:10]}"
    deal = DealToWrite(key, {"amount": 48_000, "dealstage": "contractsent",
                             "dealname": "Acme renewal", "closedate": date(2026, 12, 31)},
                       contact_email=email.upper())

    first = writer.upsert_deals([deal])
    second = writer.upsert_deals([deal])

    assert first.rejected == second.rejected == ()
    assert first.written == second.written
    deal_id = first.written[key]
    stored = api(sandbox, f"/crm/v3/objects/deals/{key}", idProperty="accord_deal_key",
                 properties="amount,dealstage,dealname,closedate").json()
    assert stored["id"] == deal_id
    assert {k: stored["properties"][k] for k in ("amount", "dealstage", "dealname")} == {
        "amount": "48000", "dealstage": "contractsent", "dealname": "Acme renewal"}
    assert stored["properties"]["closedate"].startswith("2026-12-31T00:00:00")
    same_key = [d for d in listed(sandbox, "deals", "accord_deal_key")
                if d["properties"]["accord_deal_key"] == key]
    assert len(same_key) == 1
    linked = api(sandbox, f"/crm/v4/objects/deals/{deal_id}/associations/contacts").json()
    assert [str(a["toObjectId"]) for a in linked["results"]] == [contact_id]


def test_given_deals_with_an_unknown_contact_or_stage_when_upserted_then_only_they_rejected(
        sandbox: HubSpotSandbox) -> None:
    writer = writer_for(sandbox)
    email = f"buyer.{uuid.uuid4().hex[:8]}@example.com"
    contact_id = writer.upsert_contact("email", email, {"firstname": "C"})
    good, lost, wrong = (f"deal-{uuid.uuid4().hex[:10]}" for _ in range(3))

    outcome = writer.upsert_deals([
        DealToWrite(good, {"amount": "100", "dealstage": "qualifiedtobuy"}, contact_id=contact_id),
        DealToWrite(lost, {"amount": "5"}, contact_email=f"nobody.{uuid.uuid4().hex}@ex.com"),
        DealToWrite(wrong, {"dealstage": "won-ish"}, contact_id=contact_id)])

    assert list(outcome.written) == [good]
    refusals = {r.key: r for r in outcome.rejected}
    assert refusals[lost].code == "OBJECT_NOT_FOUND"
    assert "no HubSpot contact has the email" in refusals[lost].message
    assert (refusals[wrong].code, refusals[wrong].fields) == ("VALIDATION_ERROR", ("dealstage",))
    for key in (lost, wrong):
        assert api(sandbox, f"/crm/v3/objects/deals/{key}",
                   idProperty="accord_deal_key").status_code == 404


def test_given_a_deal_without_exactly_one_contact_reference_when_built_then_refused() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        DealToWrite("d", {}, contact_email="a@example.com", contact_id="101")
    with pytest.raises(ValueError, match="exactly one"):
        DealToWrite("d", {})


def shipped_mapping() -> HubSpotContactMapping:
    return load_mapping(REPO_MAPPING).hubspot.contact


def test_given_the_shipped_mapping_when_checked_against_the_sandbox_then_it_fits(
        sandbox: HubSpotSandbox) -> None:
    writer_for(sandbox).check_mapping(shipped_mapping())


def test_given_a_bogus_property_and_option_when_checked_then_every_problem_is_named(
        sandbox: HubSpotSandbox) -> None:
    mapping = shipped_mapping()
    bogus = mapping.model_copy(update={
        "properties": {**mapping.properties, "title": "job_title"},
        "lead_status_by_stage": {**mapping.lead_status_by_stage, "sql": "WORKING"}})

    with pytest.raises(HubSpotMappingMismatchError) as mismatch:
        writer_for(sandbox).check_mapping(bogus)

    assert mismatch.value.problems == (
        "mappings/crm.yaml hubspot.contact.properties.title: 'job_title' is not a contact "
        "property of this portal",
        "mappings/crm.yaml hubspot.contact.lead_status_by_stage.sql: 'WORKING' is not an "
        "option of hs_lead_status (allowed: NEW, OPEN, IN_PROGRESS, OPEN_DEAL, UNQUALIFIED, "
        "ATTEMPTED_TO_CONTACT, CONNECTED, BAD_TIMING)")


def test_given_server_errors_when_upserting_then_transient(sandbox: HubSpotSandbox) -> None:
    sandbox.set_knobs(error_rate=1.0)

    with pytest.raises(TransientCrmError, match=r"HubSpot 50[23] INTERNAL_ERROR"):
        writer_for(sandbox).upsert_contacts("email", people("faulty", 3))


def test_given_a_wrong_token_when_upserting_then_transient_not_rejected(
        sandbox: HubSpotSandbox) -> None:
    writer = writer_for(sandbox, token="pat-na1-wrong")

    with pytest.raises(TransientCrmError, match="HubSpot 401") as failed:
        writer.upsert_contacts("email", people("unauthorised", 3))

    assert not isinstance(failed.value, CrmLimitReached)


def test_given_answers_slower_than_the_timeout_when_upserting_then_transient_in_time(
        sandbox: HubSpotSandbox) -> None:
    sandbox.set_knobs(latency_ms=3000)
    writer = writer_for(sandbox, crm_timeout_seconds=0.5)

    started = time.monotonic()
    with pytest.raises(TransientCrmError, match="unreachable"):
        writer.upsert_contacts("email", people("slow", 1))

    assert time.monotonic() - started < 2.0


# The sandbox never answers a contact upsert with 207, real HubSpot may: the writer's reading
# of a 207 is checked on canned answers in HubSpot's documented shape.
def canned_send(answers: dict[tuple[str, ...], Answer], sent: list[tuple[str, ...]]):
    def send(keys):
        sent.append(tuple(keys))
        return read_answer(answers[tuple(keys)], upsert_reading(keys, "email", str.lower), keys)
    return send


def test_given_a_207_naming_its_failed_input_when_settled_then_only_that_one_is_rejected() -> None:
    sent: list[tuple[str, ...]] = []
    answer = Answer(207, {
        "status": "COMPLETE", "correlationId": "c0ffee00-0000-4000-8000-000000000001",
        "results": [{"id": "11", "objectWriteTraceId": "0", "properties": {"email": "a@x.io"}}],
        "numErrors": 1,
        "errors": [{"status": "error", "category": "VALIDATION_ERROR",
                    "message": "INVALID_OPTION", "context": {"objectWriteTraceId": ["1"]}}]})

    written, rejected = settle(["A@x.io", "b@x.io"],
                               canned_send({("A@x.io", "b@x.io"): answer}, sent))

    assert written == {"A@x.io": "11"}
    assert [(r.key, r.code, r.correlation_id) for r in rejected] == [
        ("b@x.io", "VALIDATION_ERROR", "c0ffee00-0000-4000-8000-000000000001")]
    assert sent == [("A@x.io", "b@x.io")]


def test_given_a_207_error_naming_no_input_when_settled_then_the_rest_is_narrowed_down() -> None:
    sent: list[tuple[str, ...]] = []
    loose = {"status": "error", "category": "VALIDATION_ERROR", "message": "bad value"}
    answers = {
        ("a@x.io", "b@x.io", "c@x.io"): Answer(207, {
            "results": [{"id": "1", "properties": {"email": "a@x.io"}}], "errors": [loose]}),
        ("b@x.io", "c@x.io"): Answer(400, {**loose, "correlationId": "c-1"}),
        ("b@x.io",): Answer(200, {"results": [{"id": "2", "objectWriteTraceId": "0"}]}),
        ("c@x.io",): Answer(400, {**loose, "correlationId": "c-2"}),
    }

    written, rejected = settle(["a@x.io", "b@x.io", "c@x.io"], canned_send(answers, sent))

    assert written == {"a@x.io": "1", "b@x.io": "2"}
    assert [(r.key, r.message, r.correlation_id) for r in rejected] == [
        ("c@x.io", "bad value", "c-2")]
    assert len(sent) == 4
