"""The router's messages to itself about handing a lead over: pool picks.

A pool's ledger (rotation credit, counts per day) must have a single writer, but its leads
live on every partition. So a lead's partition asks the pool's partition for a pick
(``PoolPickRequested``, keyed by pool name) and the pool's partition answers the lead's
(``PoolPickMade``, keyed by lead key, on the router's by-lead topic). Both hops are Kafka
transactions of the partitions involved: a pick is neither lost nor made twice.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict

from services.contracts.events import LeadRouted, SlaBreachFacts

POOL_PICK_REQUESTED = "dev.accord.router.pool_pick.requested"
POOL_PICK_MADE = "dev.accord.router.pool_pick.made"

_BREACH_NAMESPACE = uuid.UUID("3d1f5b7a-2c4e-4f6a-8b9c-0d1e2f3a4b5c")

Reason = Literal["routing", "sla_escalation"]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PoolPickRequested(_Message):
    """Pick an owner for ``draft`` from ``pool``; ``request_id`` makes a redelivery pick the
    same member. An escalation excludes the owner who let the SLA lapse and names who gets
    the lead when nobody else can (``if_nobody``; None: the pool's fallback)."""

    request_id: str
    pool: str
    reason: Reason
    draft: LeadRouted
    exclude: tuple[str, ...] = ()
    if_nobody: str | None = None
    breach: SlaBreachFacts | None = None


class PoolPickMade(_Message):
    """The decision with its picked owner, as published; for the lead's partition to
    remember (and start the new owner's SLA clock)."""

    request_id: str
    reason: Reason
    decision: LeadRouted


def routing_request_id(lead_key: str, decision_id: str) -> str:
    """The pick request of a routing decision: ``route:<lead key>:<decision id>``."""
    return f"route:{lead_key}:{decision_id}"


def breach_event_id(request_id: str) -> str:
    """Deterministic id of the ``lead.sla_breached`` event of one escalation."""
    return str(uuid.uuid5(_BREACH_NAMESPACE, request_id))
