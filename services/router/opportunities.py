"""Won opportunities: revenue booked on the golden record and attributed to where the lead
first came from, announced as ``opportunity.won``. Pure functions.

Salesforce reports a win as an Opportunity notification with ``IsWon`` true (or the stage
"Closed Won" when the Outbound Message does not send ``IsWon``); the opportunity carries the
lead key (``Accord_Lead_Key__c``, copied from the lead at conversion), which is how it finds
its golden record. Each opportunity is booked once: a redelivered or edited notification of
the same won opportunity books nothing more.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from services.contracts.events import OpportunityWon, SalesforceChangeReceived
from services.router.golden_record import GoldenRecord, lead_fields

WON_STAGE = "Closed Won"
_WON_NAMESPACE = uuid.UUID("7d3f0c52-1a9e-5b64-8c1d-2e4f6a8b0c9d")


class UnreadableOpportunityError(ValueError):
    """A won opportunity whose amount or close date Accord cannot read."""


@dataclass(frozen=True)
class WonDeal:
    """What a won opportunity's notification says."""

    opportunity_id: str
    name: str | None
    amount: Decimal
    close_date: date | None
    owner_id: str | None

    @property
    def reference(self) -> str:
        """How the golden record remembers that this opportunity's revenue is booked."""
        return f"salesforce:Opportunity:{self.opportunity_id}"


def won_deal(change: SalesforceChangeReceived) -> WonDeal | None:
    """The won deal an Opportunity notification reports; None for anything else."""
    fields = change.fields
    if change.sobject_type != "Opportunity":
        return None
    is_won = (fields.get("IsWon") or "").lower() == "true" or fields.get("StageName") == WON_STAGE
    if not is_won:
        return None
    try:
        amount = Decimal(fields.get("Amount") or "0")
        close = fields.get("CloseDate")
        close_date = date.fromisoformat(close[:10]) if close else None
    except (InvalidOperation, ValueError) as exc:
        raise UnreadableOpportunityError(
            f"Opportunity {change.sobject_id} is won but its Amount "
            f"{fields.get('Amount')!r} or CloseDate {fields.get('CloseDate')!r} is not "
            f"readable: {exc}") from exc
    if not amount.is_finite() or amount < 0:
        raise UnreadableOpportunityError(
            f"Opportunity {change.sobject_id} is won with Amount {amount}: not a booking")
    # Salesforce currency fields carry up to 18 digits and any scale; bookings keep cents.
    amount = amount.quantize(Decimal("0.01"))
    return WonDeal(change.sobject_id, fields.get("Name"), amount, close_date,
                   fields.get("OwnerId"))


def is_booked(record: GoldenRecord, deal: WonDeal) -> bool:
    """True when this opportunity's revenue is on the record already."""
    return deal.reference in record.revenue_references


def book_win(record: GoldenRecord, deal: WonDeal) -> GoldenRecord:
    """The record with the deal's amount added to its revenue, once."""
    if is_booked(record, deal):
        return record
    return record.model_copy(update={
        "revenue": record.revenue + deal.amount,
        "revenue_references": (*record.revenue_references, deal.reference)})


def opportunity_won(record: GoldenRecord, deal: WonDeal, caused_by: str,
                    now: datetime) -> OpportunityWon:
    """The announcement of a booked win, attributed to the lead's first touch."""
    touch = record.first_touch
    return OpportunityWon(
        decision_id=str(uuid.uuid5(_WON_NAMESPACE, f"{caused_by}:{deal.opportunity_id}")),
        lead_key=record.lead_key, caused_by=caused_by, decided_at=now,
        opportunity_id=deal.opportunity_id, name=deal.name, amount=deal.amount,
        close_date=deal.close_date, salesforce_owner_id=deal.owner_id,
        owner_email=record.last_decision.owner.email if record.last_decision else None,
        first_channel=touch.channel if touch else None,
        first_campaign=touch.campaign if touch else None,
        lead_revenue=record.revenue, lead=lead_fields(record))
