"""The Salesforce sandbox's knobs: faults drawn at the error rate, outages on a clock, the
daily allowance, and the Sforce-Call-Options client."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sandboxes.salesforce.api_gate import call_options_client
from sandboxes.salesforce.auth import ApiUsage
from sandboxes.salesforce.knobs import Knobs, KnobsUpdate
from sandboxes.salesforce.settings import SalesforceSandboxSettings
from sandboxes.salesforce.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def usage(tmp_path) -> ApiUsage:
    return ApiUsage(Store(tmp_path / "sf.sqlite3"), 15000)


def knobs_for(usage: ApiUsage, clock: Clock | None = None, **settings: object) -> Knobs:
    return Knobs(SalesforceSandboxSettings(fault_seed=7, **settings), usage,  # type: ignore[arg-type]
                 clock or Clock())


def test_given_no_error_rate_when_drawn_then_never_a_fault(usage: ApiUsage) -> None:
    knobs = knobs_for(usage)

    assert {knobs.draw_fault(write=True) for _ in range(200)} == {None}


def test_given_full_error_rate_when_reads_drawn_then_never_lock_errors(usage: ApiUsage) -> None:
    knobs = knobs_for(usage, error_rate=1.0)

    reads = {knobs.draw_fault(write=False) for _ in range(200)}
    writes = {knobs.draw_fault(write=True) for _ in range(200)}

    assert reads == {"unavailable"}
    assert writes == {"unavailable", "unable_to_lock_row"}


def test_given_only_lock_errors_when_read_drawn_then_no_fault(usage: ApiUsage) -> None:
    knobs = knobs_for(usage)
    knobs.update(KnobsUpdate(error_rate=1.0, error_kinds=["unable_to_lock_row"]))

    assert knobs.draw_fault(write=False) is None
    assert knobs.draw_fault(write=True) == "unable_to_lock_row"


def test_given_a_fifth_error_rate_when_drawn_then_about_a_fifth_fail(usage: ApiUsage) -> None:
    knobs = knobs_for(usage, error_rate=0.2)

    faults = sum(knobs.draw_fault(write=True) is not None for _ in range(2000))

    assert 300 < faults < 500


def test_given_outage_when_clock_passes_window_then_over(usage: ApiUsage) -> None:
    clock = Clock()
    knobs = knobs_for(usage, clock)

    knobs.update(KnobsUpdate(outage_seconds=5, outage_mode="refuse"))
    during = (knobs.outage(), knobs.refusing(), knobs.snapshot()["outage_remaining_seconds"])
    clock.now += 5

    assert during == ("refuse", True, 5.0)
    assert (knobs.outage(), knobs.refusing()) == (None, False)


def test_given_outage_in_settings_when_started_then_unavailable_from_start(
        usage: ApiUsage) -> None:
    knobs = knobs_for(usage, outage_seconds=3)

    assert knobs.outage() == "unavailable"


def test_given_knobs_changed_when_reset_then_settings_back(usage: ApiUsage) -> None:
    knobs = knobs_for(usage, latency_ms=10, outbound_message_url="http://listener")
    knobs.update(KnobsUpdate(latency_ms=500, api_daily_limit=3, outbound_message_url=None))
    changed = (knobs.latency_seconds, usage.limit, knobs.outbound_message_url)

    knobs.reset()

    assert changed == (0.5, 3, None)
    assert (knobs.latency_seconds, usage.limit, knobs.outbound_message_url) == (
        0.01, 15000, "http://listener")


def test_given_url_not_in_update_when_applied_then_url_kept(usage: ApiUsage) -> None:
    knobs = knobs_for(usage, outbound_message_url="http://listener")

    knobs.update(KnobsUpdate(latency_ms=1))

    assert knobs.outbound_message_url == "http://listener"


@pytest.mark.parametrize("body", [{"latency": 5}, {"error_rate": 1.5}, {"error_kinds": []},
                                  {"outage_mode": "flaky"}, {"api_daily_limit": -1},
                                  {"outbound_message_url": "file:///etc/passwd"}])
def test_given_bad_knob_when_validated_then_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KnobsUpdate.model_validate(body)


def test_given_tight_allowance_when_calls_counted_then_refused_at_limit(usage: ApiUsage) -> None:
    usage.limit = 2
    usage.count_call("accord-sync")
    usage.count_call()

    with pytest.raises(Exception, match="REQUEST_LIMIT_EXCEEDED"):
        usage.count_call("accord-sync")
    assert (usage.header(), usage.by_client()) == ("api-usage=2/2", {"accord-sync": 1})


@pytest.mark.parametrize(("header", "client"), [
    ("client=accord-sync/1.0, defaultNamespace=battle", "accord-sync/1.0"),
    ("defaultNamespace=battle; client=caseSensitiveToken", "caseSensitiveToken"),
    ("defaultNamespace=battle", None), (None, None), ("client=", None)])
def test_given_call_options_when_read_then_client(header: str | None,
                                                  client: str | None) -> None:
    assert call_options_client(header) == client
