"""Does the mapping file fit the Salesforce org? Checked at start-up against a Lead describe.

A mapping that names a field the org lacks, or a status the org's picklist does not offer,
would otherwise fail record by record at run time and fill the dead-letter topic; here it
fails once, at start, with a message a RevOps engineer can act on.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.mapping.crm_mapping import SalesforceLeadMapping

_PICKLIST_TYPES = frozenset({"picklist", "multipicklist"})
# Set by the writer on every Lead (field_mapping.salesforce_lead), not by the mapping file.
_ALWAYS_WRITTEN = ("OwnerId",)


class MappingMismatchError(RuntimeError):
    """The mapping file does not fit the org: ``problems`` says where and why, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("the CRM mapping does not fit Salesforce:\n- " + "\n- ".join(problems))
        self.problems = tuple(problems)


def _fields_by_name(describe: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    # Salesforce field names are case-insensitive.
    return {str(f["name"]).lower(): f for f in describe.get("fields", [])}


def _active_values(field: Mapping[str, Any]) -> list[str]:
    return [str(v["value"]) for v in field.get("picklistValues") or [] if v.get("active")]


def _unknown(where: str, name: str, sobject: str, known: Iterable[str]) -> str:
    if name.lower().endswith("__c"):
        # A describe leaves out fields the user may not see: a missing custom field is
        # more often one not created or not shared than a typo.
        hint = (": create the custom field, or give the integration user access to it "
                "(field-level security)")
    else:
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{where}: {name!r} is not a field of {sobject}{hint}"


def check_salesforce_lead_mapping(mapping: SalesforceLeadMapping,
                                  lead_describe: Mapping[str, Any],
                                  source: str = "mappings/crm.yaml") -> list[str]:
    """Every way ``mapping`` does not fit ``lead_describe`` (the answer of
    ``GET sobjects/Lead/describe``), as readable lines; empty when it fits.

    ``source`` names the mapping file in the messages.
    """
    sobject = str(lead_describe.get("name", "Lead"))
    fields = _fields_by_name(lead_describe)
    names = [str(f["name"]) for f in fields.values()]
    prefix = f"{source} salesforce.lead"
    problems: list[str] = []

    def field_at(where: str, name: str) -> Mapping[str, Any] | None:
        found = fields.get(name.lower())
        if found is None:
            problems.append(_unknown(f"{prefix}.{where}", name, sobject, names))
        return found

    written: list[tuple[str, str]] = [
        *((f"fields.{ours}", theirs) for ours, theirs in mapping.fields.items()),
        ("score_field", mapping.score_field), ("stage_field", mapping.stage_field),
        ("status_field", mapping.status_field),
        *((f"required_defaults.{name}", name) for name in mapping.required_defaults),
    ]
    for where, name in written:
        found = field_at(where, name)
        if found is not None and not (found.get("createable") and found.get("updateable")):
            problems.append(f"{prefix}.{where}: {sobject}.{found['name']} is read-only "
                            "(not createable and updateable by the integration user)")

    external = field_at("external_id_field", mapping.external_id_field)
    if external is not None and not external.get("externalId"):
        problems.append(f"{prefix}.external_id_field: {sobject}.{external['name']} is not an "
                        "External ID field, so Leads cannot be upserted by it")

    if mapping.status_reason_field is not None:
        field_at("status_reason_field", mapping.status_reason_field)  # read, so it must exist
    status = fields.get(mapping.status_field.lower())
    if status is not None:
        problems += _picklist_problems(f"{prefix}.status_by_stage", sobject, status,
                                       mapping.status_by_stage)
    for name, value in mapping.required_defaults.items():
        found = fields.get(name.lower())
        if found is not None and found.get("type") in _PICKLIST_TYPES:
            problems += _picklist_problems(f"{prefix}.required_defaults", sobject, found,
                                           {name: value})

    covered = {name.lower() for _, name in written} | {mapping.external_id_field.lower()}
    covered |= {name.lower() for name in _ALWAYS_WRITTEN}
    for field in fields.values():
        required = (field.get("createable") and not field.get("nillable", True)
                    and not field.get("defaultedOnCreate"))
        if required and str(field["name"]).lower() not in covered:
            problems.append(f"{prefix}: {sobject}.{field['name']} is required on create but "
                            "is neither mapped nor given a value in required_defaults")
    return problems


def _picklist_problems(where: str, sobject: str, field: Mapping[str, Any],
                       values: Mapping[str, str]) -> list[str]:
    name = f"{sobject}.{field['name']}"
    if field.get("type") not in _PICKLIST_TYPES:
        return [f"{where}: {name} is a {field.get('type')} field, not a picklist"]
    allowed = _active_values(field)
    return [f"{where}.{key}: {value!r} is not an active value of {name} "
            f"(allowed: {', '.join(allowed)})"
            for key, value in values.items() if value not in allowed]
