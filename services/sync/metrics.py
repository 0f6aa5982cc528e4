"""Prometheus metrics of sync: records per CRM object and outcome."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class SyncMetrics:
    """The counters one sync worker keeps (a registry per worker)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter(
            "accord_sync_records",
            "Records by CRM, object (lead, contact, deal) and outcome: written, skipped (the "
            "CRM held every value already: no call), rejected (dead-lettered)",
            ["crm", "object", "outcome"], registry=self.registry)

    def count(self, crm: str, kind: str, written: int, skipped: int, rejected: int) -> None:
        """Add one batch's records of one CRM object."""
        for outcome, number in (("written", written), ("skipped", skipped),
                                ("rejected", rejected)):
            if number:
                self.records.labels(crm, kind, outcome).inc(number)
