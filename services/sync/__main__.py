"""``python -m services.sync``: check the mapping against both CRMs, then run one sync worker
until SIGINT or SIGTERM.

A mapping that does not fit a CRM ends the process with status 2 and the problems in plain
words on stderr; a CRM that cannot be reached at start is asked again, with backoff, until
it answers or the process is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import start_http_server
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from services.logging_setup import configure_logging
from services.mapping.crm_mapping import CrmMapping, load_mapping
from services.sync.crm_errors import TransientCrmError
from services.sync.hubspot_mapping_check import HubSpotMappingMismatchError
from services.sync.hubspot_writer import HubSpotWriter
from services.sync.mapping_check import MappingMismatchError
from services.sync.metrics import SyncMetrics
from services.sync.outcome_mapping import OutcomeMapping, load_outcome_mapping
from services.sync.outcome_mapping_check import (
    check_deal_mapping,
    check_status_map_keys,
    check_status_map_values,
    check_status_reason_property,
)
from services.sync.salesforce_writer import SalesforceWriter
from services.sync.settings import SyncSettings
from services.sync.skip_state import KnownValuesMisfit
from services.sync.worker import SyncWorker

log = structlog.get_logger(__name__)
MISFIT_STATUS = 2


class _MappingMisfit(Exception):
    """The mapping file cannot work: the message says why, for a person to read."""


@dataclass
class _Metadata:
    """What the start-up checks read from each CRM, for the one check that needs both."""

    salesforce_reasons: list[str] = field(default_factory=list)
    contact_properties: list[Mapping[str, Any]] = field(default_factory=list)


async def _sleep(seconds: float, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _checked(crm: str, check: Callable[[], None], stop: asyncio.Event) -> bool:
    """Run ``check`` off the event loop until the CRM answers; False if stopped first."""
    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TransientCrmError),
            wait=wait_exponential_jitter(initial=1, max=60),
            stop=lambda _state: stop.is_set(), sleep=lambda seconds: _sleep(seconds, stop),
            before_sleep=lambda state: log.warning(
                "sync.crm_unreachable_at_start", crm=crm, attempt=state.attempt_number,
                error=str(state.outcome.exception() if state.outcome else "")[:300]),
            reraise=True,
        ):
            with attempt:
                await asyncio.to_thread(check)
    except (MappingMismatchError, HubSpotMappingMismatchError) as exc:
        raise _MappingMisfit(str(exc)) from exc
    except TransientCrmError:
        return False  # only given up on because stop was set
    return True


def _check_salesforce(salesforce: SalesforceWriter, mapping: CrmMapping,
                      outcomes: OutcomeMapping, source: str, seen: _Metadata) -> None:
    """The Lead mapping and the lead status map's keys against the org, every problem."""
    problems: list[str] = []
    lead = mapping.salesforce.lead
    try:
        salesforce.check_mapping(lead)
    except MappingMismatchError as exc:
        problems += exc.problems
    if lead.status_reason_field is not None:
        seen.salesforce_reasons = salesforce.picklist_values("Lead", lead.status_reason_field)
    statuses = salesforce.picklist_values("Lead", lead.status_field)
    problems += check_status_map_keys(
        outcomes.hubspot.contact.lead_status_by_salesforce_status, statuses, source)
    if problems:
        raise MappingMismatchError(problems)


def _check_hubspot(hubspot: HubSpotWriter, mapping: CrmMapping, outcomes: OutcomeMapping,
                   source: str, seen: _Metadata) -> None:
    """The contact and deal mappings and the lead status map's values against the portal;
    then the portal's owners, kept."""
    problems: list[str] = []
    try:
        hubspot.check_mapping(mapping.hubspot.contact)
    except HubSpotMappingMismatchError as exc:
        problems += exc.problems
    problems += check_deal_mapping(outcomes.hubspot.deal, hubspot.properties("deals"), source)
    seen.contact_properties = hubspot.properties("contacts")
    problems += check_status_map_values(
        outcomes.hubspot.contact.lead_status_by_salesforce_status,
        mapping.hubspot.contact.lead_status_property, seen.contact_properties, source)
    if problems:
        raise HubSpotMappingMismatchError(problems)
    # The owners, listed once now: the writes then resolve them without a call.
    hubspot.owners.load()


def _read_mappings(settings: SyncSettings) -> tuple[CrmMapping, OutcomeMapping]:
    path = settings.mapping_file
    try:
        mapping = load_mapping(path)
        path = settings.outcome_mapping_file
        return mapping, load_outcome_mapping(path)
    except (OSError, ValidationError, ValueError) as exc:
        raise _MappingMisfit(f"the mapping file {path} cannot be read: {exc}") from exc


async def _serve() -> None:
    settings = SyncSettings()
    mapping, outcomes = _read_mappings(settings)
    source = str(settings.outcome_mapping_file)
    salesforce, hubspot = SalesforceWriter(settings), HubSpotWriter(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    seen = _Metadata()
    checks = await asyncio.gather(
        _checked("salesforce",
                 lambda: _check_salesforce(salesforce, mapping, outcomes, source, seen), stop),
        _checked("hubspot", lambda: _check_hubspot(hubspot, mapping, outcomes, source, seen),
                 stop),
        return_exceptions=True)
    misfits = [str(c) for c in checks if isinstance(c, _MappingMisfit)]
    if misfits:
        raise _MappingMisfit("\n".join(misfits))  # every CRM's problems, not the first's
    for check in checks:
        if isinstance(check, BaseException):
            raise check
    if not all(checks):
        return  # stopped before both CRMs answered
    reasons = check_status_reason_property(
        outcomes.hubspot.contact.status_reason_property,
        mapping.salesforce.lead.status_reason_field, seen.salesforce_reasons,
        seen.contact_properties, source)
    if reasons:
        raise _MappingMisfit(str(HubSpotMappingMismatchError(reasons)))
    log.info("sync.mapping_checked", mapping=str(settings.mapping_file), outcomes=source)
    metrics = SyncMetrics()
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host,
                          registry=metrics.registry)
    try:
        await SyncWorker(settings, mapping, outcomes, salesforce, hubspot, metrics).run(stop)
    except KnownValuesMisfit as exc:
        raise _MappingMisfit(str(exc)) from exc


def main() -> None:
    """Run the worker; exit 2 with the problems on stderr if the mapping does not fit."""
    configure_logging("sync")
    try:
        asyncio.run(_serve())
    except _MappingMisfit as exc:
        print(f"sync cannot start: {exc}", file=sys.stderr)
        sys.exit(MISFIT_STATUS)
    except ValidationError as exc:
        # The settings (ACCORD_SYNC_* variables): each problem names its variable.
        print(f"sync cannot start: {exc}", file=sys.stderr)
        sys.exit(MISFIT_STATUS)


if __name__ == "__main__":
    main()
