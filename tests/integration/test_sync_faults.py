"""Sync under faults, on the real broker, real CRM sandboxes and a real sync process: killed
mid-batch, a CRM down for 30 s, a 429 storm, the Salesforce allowance used up, sessions
expiring mid-run. After each, every decision is in both CRMs exactly once, and nothing that
a CRM did not refuse is on the dead-letter topic."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.messaging.settings import KafkaSettings
from tests.integration.sandboxes.conftest import SalesforceSandbox
from tests.integration.sandboxes.hubspot_fixture import HubSpotSandbox
from tests.integration.sync_faults_support import (
    all_committed,
    assert_each_lead_once_in_both,
    committed,
    dead_letters,
    hubspot_contacts_by_email,
    logged,
    publish,
    salesforce_leads_by_email,
    start_sync,
    wait_for,
    wait_until_committed,
)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def calm_sandboxes(salesforce_sandbox: SalesforceSandbox,
                   hubspot_sandbox: HubSpotSandbox) -> Iterator[None]:
    """Each test's knobs end with it: the sandboxes are shared by the module."""
    yield
    assert salesforce_sandbox.admin("DELETE", "/knobs").status_code == 200
    hubspot_sandbox.reset_knobs()


@pytest.mark.e2e
async def test_given_a_batch_half_written_when_sync_is_killed_and_restarted_then_each_lead_is_once_in_both_crms(  # noqa: E501
        fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox, tmp_path: Path):
    # Slow CRMs stretch each batch over seconds; HubSpot the slower, so a partition's Leads
    # reach Salesforce well before its offset can be committed.
    salesforce_sandbox.knobs(latency_ms=1000)
    hubspot_sandbox.set_knobs(latency_ms=2500)
    sync = start_sync(fresh_kafka, salesforce_sandbox, hubspot_sandbox, tmp_path / "sync.log")
    try:
        backlog = await publish(fresh_kafka, 1200)
        await wait_for(lambda: bool(salesforce_leads_by_email(salesforce_sandbox,
                                                              backlog.marker)),
                       "a first Lead in Salesforce", within=90, sync=sync)
        assert sync.stop(signal.SIGKILL) == -signal.SIGKILL
    finally:
        sync.stop()

    # The kill landed mid-batch: a lead is in Salesforce whose record is past its
    # partition's committed offset (written, not committed), and work was left undone.
    at_kill = await committed(fresh_kafka)
    in_salesforce = salesforce_leads_by_email(salesforce_sandbox, backlog.marker)
    uncommitted_but_written = [e for e in in_salesforce
                               if backlog.offsets[e][1] >= at_kill.get(backlog.offsets[e][0], 0)]
    assert uncommitted_but_written, f"no write past the committed offsets {at_kill}"
    assert not await all_committed(fresh_kafka, backlog)
    assert len(hubspot_contacts_by_email(hubspot_sandbox, backlog.marker)) < len(backlog.emails)

    salesforce_sandbox.admin("DELETE", "/knobs")
    hubspot_sandbox.reset_knobs()
    restarted = start_sync(fresh_kafka, salesforce_sandbox, hubspot_sandbox,
                           tmp_path / "sync.log")
    try:
        await wait_until_committed(fresh_kafka, backlog, restarted, within=180)
    finally:
        restarted.stop()

    assert_each_lead_once_in_both(salesforce_sandbox, hubspot_sandbox, backlog)
    assert await dead_letters(fresh_kafka) == []


@pytest.mark.e2e
@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
async def test_given_a_crm_down_for_30s_when_decisions_arrive_then_all_land_after_it_and_none_is_dead_lettered(  # noqa: E501
        crm: str, fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox, tmp_path: Path):
    sync = start_sync(fresh_kafka, salesforce_sandbox, hubspot_sandbox, tmp_path / "sync.log")
    try:
        if crm == "salesforce":  # the port closed: connections refused
            salesforce_sandbox.knobs(outage_seconds=30, outage_mode="refuse")
        else:  # every CRM call answered 503
            hubspot_sandbox.set_knobs(outage_seconds=30)
        backlog = await publish(fresh_kafka, 300)

        await wait_for(lambda: bool(logged(sync, "sync.retrying", crm=crm)),
                       f"sync retrying {crm}", within=25, sync=sync)
        # Each batch waits for both CRMs: nothing is committed while one is down.
        assert await committed(fresh_kafka) == {}
        await wait_until_committed(fresh_kafka, backlog, sync, within=180)
    finally:
        sync.stop()

    assert_each_lead_once_in_both(salesforce_sandbox, hubspot_sandbox, backlog)
    assert await dead_letters(fresh_kafka) == []


class Neighbour(threading.Thread):
    """Another client of the same HubSpot private app, calling as fast as it is let: it
    keeps the rolling window full, so sync's calls are answered 429."""

    def __init__(self, sandbox: HubSpotSandbox) -> None:
        super().__init__(daemon=True)
        self.sandbox = sandbox
        self.stop = threading.Event()
        self.refused = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.sandbox.base_url, trust_env=False, timeout=10,
                          headers={"Authorization": f"Bearer {self.sandbox.access_token}"}
                          ) as client:
            while not self.stop.wait(0.02):
                if client.get("/crm/v3/owners/", params={"limit": 1}).status_code == 429:
                    self.refused += 1


@pytest.mark.e2e
async def test_given_a_429_storm_on_hubspot_when_syncing_then_all_lands_after_it_and_none_is_dead_lettered(  # noqa: E501
        fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox, tmp_path: Path):
    hubspot_sandbox.set_knobs(ten_second_limit=10)
    sync = start_sync(fresh_kafka, salesforce_sandbox, hubspot_sandbox, tmp_path / "sync.log")
    neighbour = Neighbour(hubspot_sandbox)
    try:
        neighbour.start()
        backlog = await publish(fresh_kafka, 600)
        await wait_for(lambda: len(logged(sync, "hubspot.throttled")) >= 3,
                       "three 429s answered to sync", within=90, sync=sync)
        assert await committed(fresh_kafka) == {}
        neighbour.stop.set()
        neighbour.join(10)
        await wait_until_committed(fresh_kafka, backlog, sync, within=240)
    finally:
        neighbour.stop.set()
        sync.stop()

    assert neighbour.refused > 0
    hubspot_sandbox.reset_knobs()  # the checks below list contacts page by page
    assert_each_lead_once_in_both(salesforce_sandbox, hubspot_sandbox, backlog)
    assert await dead_letters(fresh_kafka) == []


PROBE_SECONDS = 3  # a parked worker lets one Salesforce call through this often


@pytest.mark.e2e
@pytest.mark.parametrize("share", ["1.0", "0.5"], ids=["org-limit", "accord-share"])
async def test_given_the_salesforce_allowance_used_when_syncing_then_work_is_parked_not_dead_lettered_and_resumes_in_the_same_process_once_lifted(  # noqa: E501
        share: str, fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox, tmp_path: Path):
    log = tmp_path / "sync.log"
    sync = start_sync(fresh_kafka, salesforce_sandbox, hubspot_sandbox, log,
                      ACCORD_SYNC_SALESFORCE_ALLOWANCE_SHARE=share,
                      ACCORD_SYNC_SALESFORCE_LIMIT_PROBE_SECONDS=str(PROBE_SECONDS))
    try:
        used = int(salesforce_sandbox.admin("GET", "/usage").json()["used"])
        # share 1.0: the org's own limit is reached, Salesforce answers REQUEST_LIMIT_EXCEEDED;
        # share 0.5: Accord's half of the org's limit is used, sync stops itself first.
        salesforce_sandbox.knobs(api_daily_limit=used if share == "1.0" else 2 * used)
        backlog = await publish(fresh_kafka, 300)

        await wait_for(lambda: bool(logged(sync, "sync.parked", crm="salesforce")),
                       "Salesforce work parked", within=60, sync=sync)
        if share == "1.0":
            assert "REQUEST_LIMIT_EXCEEDED" in sync.output()
        # HubSpot is not held up: the rounds under way reach it.
        await wait_for(lambda: bool(hubspot_contacts_by_email(hubspot_sandbox, backlog.marker)),
                       "HubSpot written meanwhile", within=60, sync=sync)
        # Each park lasts one probe interval, not until the day's reset; the call let
        # through after it finds the allowance still used, and the work parks again.
        await wait_for(lambda: len(logged(sync, "sync.parked", crm="salesforce")) >= 3,
                       "two probes finding the allowance still used", within=60, sync=sync)
        parks = logged(sync, "sync.parked", crm="salesforce")
        assert all(0 < float(p["seconds"]) <= PROBE_SECONDS for p in parks), parks
        assert await committed(fresh_kafka) == {}
        assert await dead_letters(fresh_kafka, settle=1.0) == []

        salesforce_sandbox.knobs(api_daily_limit=1_000_000)  # an admin raises the limit
        # The same process resumes at its next probe: no restart, nothing lost.
        await wait_until_committed(fresh_kafka, backlog, sync, within=120)
        assert sync.popen.poll() is None
        assert sync.output().count('"sync.mapping_checked"') == 1  # one start, this one
    finally:
        sync.stop()

    assert_each_lead_once_in_both(salesforce_sandbox, hubspot_sandbox, backlog)
    assert await dead_letters(fresh_kafka) == []


@pytest.mark.e2e
async def test_given_salesforce_sessions_expiring_mid_run_when_syncing_then_sync_logs_in_again_unnoticed_and_all_lands(  # noqa: E501
        fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox, tmp_path: Path):
    salesforce_sandbox.knobs(latency_ms=600)  # a run long enough to expire sessions in
    sync = start_sync(fresh_kafka, salesforce_sandbox, hubspot_sandbox, tmp_path / "sync.log")
    try:
        backlog = await publish(fresh_kafka, 1500)
        for expiry in range(1, 4):
            assert not await all_committed(fresh_kafka, backlog), "the run ended too soon"
            answer = salesforce_sandbox.admin("POST", "/sessions/expire", {})
            assert answer.status_code == 200 and answer.json()["expired"] >= 1
            await wait_for(lambda n=expiry: len(logged(sync, "salesforce.session_renewed")) >= n,
                           f"session renewal {expiry}", within=60, sync=sync)
            # Calls are one at a time: a Lead written after this count means the call sent
            # again with the new session is over, so the next expiry cannot catch it.
            renewed_at = len(salesforce_leads_by_email(salesforce_sandbox, backlog.marker))
            await wait_for(lambda n=renewed_at: len(salesforce_leads_by_email(
                               salesforce_sandbox, backlog.marker)) > n,
                           "a write after the renewal", within=60, sync=sync)
        await wait_until_committed(fresh_kafka, backlog, sync, within=180)
    finally:
        sync.stop()

    # Transparent: each expiry cost one login inside the call, never a retry of the worker.
    assert logged(sync, "sync.retrying", crm="salesforce") == []
    assert_each_lead_once_in_both(salesforce_sandbox, hubspot_sandbox, backlog)
    assert await dead_letters(fresh_kafka) == []
