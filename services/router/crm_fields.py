"""Field values people change in the CRMs, merged into the golden record by each field's sync
rule (``mappings/crm.yaml``, ``field_rules``). Pure functions.

A rep who corrects a title in Salesforce, or a marketer who fixes a company name in HubSpot,
changes the golden field; the next decision carries the winning value and sync writes it to
the other CRM. Which value wins follows HubSpot's sync rules for its Salesforce integration:

- ``prefer_salesforce_unless_blank``: a value from Salesforce wins; a value from anywhere
  else (HubSpot, a form) only while Salesforce has none;
- ``always_salesforce``: as above, and a field Salesforce clears is cleared;
- ``two_way``: the most recent change wins, whoever made it;
- ``dont_sync``: the CRMs' own values never reach the golden record (forms still do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import structlog
from pydantic import ValidationError

from services.contracts.envelope import Envelope
from services.contracts.events import (
    HUBSPOT_CHANGE_RECEIVED,
    HubSpotChangeReceived,
    LeadFields,
    SalesforceChangeReceived,
)
from services.mapping.crm_mapping import CrmMapping, FieldRules, SyncRule, load_mapping
from services.router.golden_record import FieldValue, GoldenRecord
from services.router.settings import RouterSettings

log = structlog.get_logger(__name__)

SALESFORCE: Final = "salesforce"
HUBSPOT: Final = "hubspot"
CRM_SOURCES = (SALESFORCE, HUBSPOT)
_SALESFORCE_WINS: tuple[SyncRule, ...] = ("prefer_salesforce_unless_blank", "always_salesforce")
# Only people-records carry lead fields; an Opportunity's or Account's fields do not.
_SALESFORCE_PEOPLE = ("Lead", "Contact")
# A placeholder that satisfies LeadFields' required email while one field is checked alone.
_CHECK_EMAIL = "check@accord.invalid"


@dataclass(frozen=True)
class CrmContext:
    """What the router knows of the CRMs: Accord's own identities there (its changes are
    echoes of its own writes) and the mapping (CRM field names, and each field's sync rule).
    Without a mapping, CRM field values are not merged and every field is ``two_way``."""

    salesforce_user_ids: frozenset[str] = frozenset()
    hubspot_app_ids: frozenset[str] = frozenset()
    mapping: CrmMapping | None = None
    rules: FieldRules = field(default_factory=FieldRules)
    # Fields whose sync rule prefers Salesforce: a form does not overwrite Salesforce's value.
    salesforce_owned: frozenset[str] = frozenset()

    @classmethod
    def of(cls, salesforce_user_ids: list[str], hubspot_app_ids: list[int],
           mapping: CrmMapping | None) -> CrmContext:
        """Built from settings: 15-character Salesforce ids compare equal to 18-character."""
        rules = mapping.field_rules if mapping else FieldRules()
        owned = frozenset(name for name in LeadFields.model_fields
                          if rules.rule_for(name) in _SALESFORCE_WINS)
        return cls(frozenset(u[:15] for u in salesforce_user_ids),
                   frozenset(str(a) for a in hubspot_app_ids), mapping, rules, owned)

    @property
    def status_reason_field(self) -> str | None:
        """The Lead field where a rep gives the reason for a status, if the mapping names one."""
        return self.mapping.salesforce.lead.status_reason_field if self.mapping else None

    def is_own_hubspot_write(self, change_source: str | None, source_id: str | None) -> bool:
        """True when Accord's app made a HubSpot change (webhooks name it in ``sourceId``)."""
        return change_source == "INTEGRATION" and str(source_id) in self.hubspot_app_ids


NO_CRM = CrmContext()


def crm_context_of(settings: RouterSettings) -> CrmContext:
    """The CRM context the router's settings describe; OSError or ValueError when the
    mapping file cannot be read or is invalid."""
    return CrmContext.of(settings.salesforce_integration_user_ids, settings.hubspot_app_ids,
                         load_mapping(settings.mapping_file))


def nothing_for_a_lead(envelope: Envelope, crm: CrmContext) -> str | None:
    """Why a CRM change that names no known lead carries nothing for any lead (so it is
    dropped, not dead-lettered), or None when it may: a HubSpot deal or company change
    (deals follow Salesforce opportunities, written by Accord; a rep's deal edit in HubSpot
    does not flow back), or an echo of Accord's own HubSpot write that came before the
    change naming the contact's email (that one links the contact), or a creation notice."""
    if envelope.type != HUBSPOT_CHANGE_RECEIVED:
        return None
    data = envelope.data
    if data.get("object_type") != "contact":
        return f"a HubSpot {data.get('object_type')} change: Accord syncs deals one way, " \
               "from Salesforce"
    if str(data.get("subscription_type", "")).endswith(".creation"):
        return "a HubSpot creation notice carries no values; the property changes that " \
               "follow it (the email among them) do"
    if crm.is_own_hubspot_write(data.get("change_source"), data.get("source_id")):
        return "an echo of Accord's own HubSpot write"
    return None


@dataclass(frozen=True)
class CrmValues:
    """Golden fields a CRM change set (None: the CRM cleared it), who set them and when."""

    source: str
    at: datetime
    values: Mapping[str, str | int | None]


def accepts(rule: SyncRule, current_source: str | None, current_at: datetime | None,
            source: str, at: datetime) -> bool:
    """True when a value from ``source`` at ``at`` replaces the field's current value."""
    if rule == "dont_sync" and source in CRM_SOURCES:
        return False
    if current_source is None or current_at is None:
        return True
    if rule in _SALESFORCE_WINS:
        if source == SALESFORCE:
            return True
        if current_source == SALESFORCE:
            return False
    return at >= current_at


def clears(rule: SyncRule, source: str) -> bool:
    """True when a CRM clearing the field clears it in the golden record too (``accepts``
    decides whether the clearing change is recent enough)."""
    if rule == "always_salesforce":
        return source == SALESFORCE
    return rule == "two_way"


def salesforce_values(change: SalesforceChangeReceived, context: CrmContext,
                      at: datetime) -> CrmValues | None:
    """The golden fields a Lead or Contact notification carries (only the fields the
    Outbound Message sends; a field sent empty was cleared)."""
    if context.mapping is None or change.sobject_type not in _SALESFORCE_PEOPLE:
        return None
    values = {golden: _checked(golden, value) for name, value in change.fields.items()
              if (golden := context.mapping.golden_field(SALESFORCE, name)) is not None}
    return CrmValues(SALESFORCE, at, _valid(values)) if values else None


def hubspot_values(change: HubSpotChangeReceived, context: CrmContext) -> CrmValues | None:
    """The golden field a contact property change sets, if the property is mapped."""
    if context.mapping is None or change.object_type != "contact" \
            or not change.subscription_type.endswith(".propertyChange") \
            or change.property_name is None:
        return None
    golden = context.mapping.golden_field(HUBSPOT, change.property_name)
    if golden is None:
        return None
    values = _valid({golden: _checked(golden, change.property_value)})
    return CrmValues(HUBSPOT, change.occurred_at, values) if values else None


_INVALID = object()


def _checked(golden: str, text: str | None) -> Any:
    """The value as the golden record keeps it, or ``_INVALID`` when LeadFields refuses it
    (a rep typed "Germany" where Accord keeps ISO codes): logged and left out, so one odd
    value never costs the rest of the change."""
    if text is None or text == "":
        return None
    try:
        return getattr(LeadFields.model_validate({"email": _CHECK_EMAIL, golden: text}), golden)
    except ValidationError as exc:
        log.warning("router.crm_value_ignored", field=golden, value=text[:80],
                    reason=exc.errors()[0]["msg"])
        return _INVALID


def _valid(values: dict[str, Any]) -> dict[str, str | int | None]:
    return {name: value for name, value in values.items() if value is not _INVALID}


def merge_crm_values(record: GoldenRecord, changed: CrmValues, rules: FieldRules,
                     ) -> GoldenRecord:
    """The record with the CRM's values applied field by field, each by its sync rule.

    The email is never taken from a CRM: it is the lead's identity (its key, and HubSpot's
    upsert key), and a changed address in a CRM is a different person until proven otherwise.
    """
    fields = dict(record.fields)
    for name, value in changed.values.items():
        if name == "email":
            continue
        rule = rules.rule_for(name)
        current = fields.get(name)
        if not accepts(rule, current.source if current else None,
                       current.at if current else None, changed.source, changed.at):
            continue
        if value is not None:
            fields[name] = FieldValue(value=value, source=changed.source, at=changed.at)
        elif current is not None and clears(rule, changed.source):
            del fields[name]
    if fields == record.fields:
        return record
    return record.model_copy(update={"fields": fields})
