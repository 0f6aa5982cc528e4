"""What a CRM writer is asked to write and what it answers: the seam between sync's core
and its two CRM adapters (both synchronous SDKs, run off the event loop by the worker)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordToWrite:
    """One record to upsert: ``key`` is the upsert key's value (external id, email)."""

    key: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class RecordRejected:
    """The CRM refused this record for a reason that retrying cannot fix: dead-letter it.

    ``code`` is the CRM's own (Salesforce ``errorCode``, HubSpot ``category``) so an
    operator can look it up; ``fields`` names the fields the CRM blamed, if any.
    """

    key: str
    crm: str
    code: str
    message: str
    fields: tuple[str, ...] = ()
    correlation_id: str | None = None


@dataclass(frozen=True)
class BatchOutcome:
    """Per record: accepted (with the CRM's id) or rejected; every input key is in one."""

    written: Mapping[str, str] = field(default_factory=dict)  # key -> CRM record id
    rejected: tuple[RecordRejected, ...] = ()
    skipped: tuple[str, ...] = ()  # the CRM already held these values: nothing was sent
