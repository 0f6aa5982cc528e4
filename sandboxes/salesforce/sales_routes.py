"""Admin routes that act as a sales rep (see ``sales``): ``/__sandbox/sales/...``.

``{lead}`` and ``{opportunity}`` are a record id or the value of an External ID field
(``Accord_Lead_Key__c``, ``Accord_Opportunity_Key__c``); ``user_id`` defaults to the owner.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, Field

from sandboxes.salesforce import sales
from sandboxes.salesforce.admin_routes import PREFIX, admin_guard
from sandboxes.salesforce.records import Records, sobject_or_404
from sandboxes.salesforce.settings import SalesforceSandboxSettings


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(None, max_length=18)


class LeadStatus(_Body):
    """Set a lead's Status, and with it the Unqualified Reason (cleared when not given, as
    the page layout's dependent picklist clears it when the Status changes)."""

    status: str = Field(max_length=255)
    reason: str | None = Field(None, max_length=255)


class Edit(_Body):
    """Save any fields, as through the UI."""

    fields: dict[str, Any]


class Win(_Body):
    """Close an opportunity as won."""

    amount: float = Field(ge=0)
    close_date: date | None = None


class Convert(_Body):
    """Convert a lead; ``opportunity`` holds extra fields of the new opportunity."""

    create_opportunity: bool = True
    opportunity: dict[str, Any] = Field(default_factory=dict)


def add_sales_routes(app: FastAPI, settings: SalesforceSandboxSettings,
                     records: Records) -> None:
    """Add the sales rep actions to ``app``."""
    router = APIRouter(prefix=f"{PREFIX}/sales", dependencies=[admin_guard(settings)])

    @router.post("/leads/{lead}/status")
    async def lead_status(lead: str, body: LeadStatus) -> dict[str, Any]:
        return sales.set_lead_status(records, lead, body.status, body.reason, body.user_id)

    @router.post("/leads/{lead}/convert")
    async def convert(lead: str, body: Convert) -> dict[str, Any]:
        extra = body.opportunity if body.create_opportunity else None
        return sales.convert_lead(records, lead, body.user_id, extra)

    @router.post("/opportunities/{opportunity}/win")
    async def win(opportunity: str, body: Win) -> dict[str, Any]:
        return sales.win_opportunity(records, opportunity, body.amount, body.user_id,
                                     body.close_date)

    @router.patch("/{sobject}/{ref}")
    async def edit(sobject: str, ref: str, body: Edit) -> dict[str, Any]:
        return sales.edit_as(records, sobject_or_404(sobject), ref, body.user_id, body.fields)

    app.include_router(router)
