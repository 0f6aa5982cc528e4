"""Which golden-record fields sync writes to which CRM, by each field's sync rule: pure.

The router has already merged CRM changes by these rules, so a decision's ``lead`` holds the
winning values and ``field_sources`` says who set each. What is left for sync is where each
value may go (HubSpot's rules for its Salesforce integration, seen from Accord):

- a value is never written back to the CRM it came from: that CRM holds it already;
- when Accord creates the record in a CRM, every field is written (``dont_sync`` too);
- once the record exists: ``dont_sync`` is written to neither CRM; ``always_salesforce`` is
  not written to Salesforce (Salesforce owns it) but is to HubSpot;
  ``prefer_salesforce_unless_blank`` reaches Salesforce only to fill a blank — the router lets
  a value from elsewhere win only while Salesforce's is blank, so that is any value whose
  source is not Salesforce; ``two_way`` is written to both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from services.mapping.crm_mapping import FieldRules, SyncRule

Crm = Literal["salesforce", "hubspot"]


def writes_field(crm: Crm, rule: SyncRule, source: str | None, exists: bool) -> bool:
    """Whether a field under ``rule`` whose value came from ``source`` is written to ``crm``,
    where the record ``exists`` already or Accord is about to create it."""
    if source == crm:
        return False
    if not exists:
        return True
    if rule == "dont_sync":
        return False
    return not (crm == "salesforce" and rule == "always_salesforce")


def fields_to_write(crm: Crm, fields: Iterable[str], rules: FieldRules,
                    sources: Mapping[str, str], exists: bool) -> frozenset[str]:
    """The golden fields of ``fields`` that go to ``crm`` (see :func:`writes_field`)."""
    return frozenset(f for f in fields
                     if writes_field(crm, rules.rule_for(f), sources.get(f), exists))


def fields_held_by(crm: Crm, sources: Mapping[str, str]) -> frozenset[str]:
    """The golden fields whose current value came from ``crm``: it holds them already."""
    return frozenset(f for f, source in sources.items() if source == crm)
