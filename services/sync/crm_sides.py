"""What sync writes to each CRM for a batch, and the blocking calls that write it.

Each method plans a batch's records for one CRM (owners resolved, sync rules applied, diffed
against what the CRM is known to hold) and sends what is left in one batched call; the
worker runs them off the event loop. A CRM is not called at all when every record is skipped
or refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from services.contracts.events import LeadRouted
from services.mapping.crm_mapping import CrmMapping
from services.sync.batch_plan import Decided, Won, Writes, build_deal_writes, build_writes
from services.sync.crm_errors import RejectedByCrmError
from services.sync.crm_writes import BatchOutcome
from services.sync.deals import deal_properties, deal_to_write
from services.sync.field_mapping import (
    hubspot_contact,
    hubspot_held,
    salesforce_held,
    salesforce_lead,
)
from services.sync.hubspot_writer import HubSpotWriter
from services.sync.known_values import Values
from services.sync.outcome_mapping import OutcomeMapping
from services.sync.salesforce_writer import SalesforceWriter
from services.sync.sync_rules import fields_to_write

Written = tuple[Writes, BatchOutcome]


def _owners(owner_id: Callable[[str], str], decided: Sequence[Decided]) -> dict[str, str | None]:
    """Each owner email's CRM id, ``None`` for an owner the CRM does not know."""
    return _owner_ids(owner_id, [d.decision.owner.email for d in decided])


def _owner_ids(owner_id: Callable[[str], str], emails: Sequence[str | None],
               ) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for email in dict.fromkeys(e for e in emails if e):
        try:
            found[email] = owner_id(email)
        except RejectedByCrmError:
            found[email] = None
    return found


def _hubspot_key(decision: LeadRouted) -> str:
    return str(decision.lead.email)


class CrmSides:
    """The records of a batch for Salesforce Leads, HubSpot contacts and HubSpot deals."""

    def __init__(self, mapping: CrmMapping, outcomes: OutcomeMapping,
                 salesforce: SalesforceWriter, hubspot: HubSpotWriter) -> None:
        self._mapping = mapping
        self._outcomes = outcomes
        self._salesforce = salesforce
        self._hubspot = hubspot

    def salesforce_fields(self, decision: LeadRouted, owner: str,
                          creating: bool) -> dict[str, Any]:
        """A decision's Lead fields under the sync rules (all of them on a create)."""
        lead, rules = self._mapping.salesforce.lead, self._mapping.field_rules
        only = fields_to_write("salesforce", lead.fields, rules, decision.field_sources,
                               exists=not creating)
        return salesforce_lead(decision, lead, owner, only, creating=creating)

    def hubspot_fields(self, decision: LeadRouted, owner: str, creating: bool) -> dict[str, str]:
        """A decision's contact properties under the sync rules (all of them on a create)."""
        contact, rules = self._mapping.hubspot.contact, self._mapping.field_rules
        only = fields_to_write("hubspot", [*contact.properties, *contact.banded], rules,
                               decision.field_sources, exists=not creating)
        outcomes = self._outcomes.hubspot.contact
        return hubspot_contact(decision, contact, owner, only,
                               outcomes.lead_status_by_salesforce_status,
                               outcomes.status_reason_property)

    def write_salesforce(self, decided: Sequence[Decided],
                         known: Mapping[str, Values | None]) -> Written:
        """Plan and upsert the batch's Leads (blocking)."""
        lead = self._mapping.salesforce.lead
        writes = build_writes(
            "salesforce", decided, _owners(self._salesforce.owner_id, decided),
            lambda d: d.lead_key, self.salesforce_fields, known,
            lambda d: salesforce_held(d, lead))
        if not writes.records:
            return writes, BatchOutcome()
        return writes, self._salesforce.upsert_leads(lead.external_id_field, writes.records)

    def write_contacts(self, decided: Sequence[Decided],
                       known: Mapping[str, Values | None]) -> Written:
        """Plan and upsert the batch's contacts (blocking)."""
        contact = self._mapping.hubspot.contact
        writes = build_writes(
            "hubspot", decided, _owners(self._hubspot.owner_id, decided), _hubspot_key,
            self.hubspot_fields, known, lambda d: hubspot_held(d, contact))
        if not writes.records:
            return writes, BatchOutcome()
        return writes, self._hubspot.upsert_contacts(contact.id_property, writes.records)

    def write_deals(self, won: Sequence[Won], known: Mapping[str, Values | None]) -> Written:
        """Plan and upsert the batch's won deals, each associated with its contact; call
        after the contacts of the same batch (blocking)."""
        deal = self._outcomes.hubspot.deal
        owners = _owner_ids(self._hubspot.owner_id, [w.won.owner_email for w in won])
        writes = build_deal_writes(won, known, lambda w: deal_properties(
            w, deal, owners.get(w.owner_email or "")))
        if not writes.records:
            return writes, BatchOutcome()
        by_key = {w.won.opportunity_id: w.won for w in won}
        return writes, self._hubspot.upsert_deals(
            [deal_to_write(by_key[r.key], dict(r.fields)) for r in writes.records])
