"""Does the HubSpot part of the mapping file fit the portal? A pure check at start-up.

Sync writes contact properties named in ``mappings/crm.yaml``; a renamed property or a
dropdown option that does not exist would make HubSpot refuse every record at run time.
Comparing the mapping with ``GET /crm/v3/properties/contacts`` once at start turns that into
one readable list of problems before any lead is touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.mapping.crm_mapping import HubSpotContactMapping

DEFAULT_SOURCE = "mappings/crm.yaml"
# Upserts can be keyed by these contact properties besides those with unique values.
_BUILT_IN_KEYS = frozenset({"email", "hs_object_id"})
_SHOWN_OPTIONS = 30


class HubSpotMappingMismatchError(RuntimeError):
    """The mapping names properties or options the HubSpot portal does not have."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("the HubSpot contact mapping does not fit the portal:\n  "
                         + "\n  ".join(problems))
        self.problems = tuple(problems)


def _options(definition: Mapping[str, Any]) -> list[str]:
    return [str(o.get("value")) for o in definition.get("options") or ()
            if isinstance(o, Mapping)]


def _allowed(options: list[str]) -> str:
    shown = ", ".join(options[:_SHOWN_OPTIONS])
    return shown + (", ..." if len(options) > _SHOWN_OPTIONS else "")


class _Checker:
    """Collects problems; ``where`` prefixes each with the file and the mapping path."""

    def __init__(self, properties: Iterable[Mapping[str, Any]], source: str) -> None:
        self.by_name = {str(p.get("name")): p for p in properties if p.get("name")}
        self.where = f"{source} hubspot.contact"
        self.problems: list[str] = []

    def writable(self, path: str, name: str) -> Mapping[str, Any] | None:
        """The definition of a property sync writes, or None after noting why it cannot."""
        definition = self.by_name.get(name)
        if definition is None:
            self.problems.append(f"{self.where}.{path}: '{name}' is not a contact property "
                                 "of this portal")
            return None
        metadata = definition.get("modificationMetadata") or {}
        if metadata.get("readOnlyValue") or definition.get("calculated"):
            self.problems.append(f"{self.where}.{path}: '{name}' is read-only in HubSpot; "
                                 "sync cannot write it")
        return definition

    def option(self, path: str, name: str, definition: Mapping[str, Any] | None,
               value: str) -> None:
        """Note a value that is not an option of an enumeration (dropdown) property."""
        if definition is None or definition.get("type") != "enumeration":
            return
        options = _options(definition)
        # Owner-like dropdowns list their options elsewhere (externalOptions): skip them.
        if definition.get("externalOptions") and not options:
            return
        if value not in options:
            self.problems.append(f"{self.where}.{path}: '{value}' is not an option of {name} "
                                 f"(allowed: {_allowed(options)})")


def check_hubspot_contact_mapping(mapping: HubSpotContactMapping,
                                  properties: Iterable[Mapping[str, Any]],
                                  source: str = DEFAULT_SOURCE) -> list[str]:
    """Every way ``mapping`` does not fit the portal's contact ``properties`` (as
    ``GET /crm/v3/properties/contacts`` returns them in ``results``); empty if it fits."""
    check = _Checker(properties, source)
    key = check.by_name.get(mapping.id_property)
    if key is None:
        check.problems.append(f"{check.where}.id_property: '{mapping.id_property}' is not a "
                              "contact property of this portal")
    elif mapping.id_property not in _BUILT_IN_KEYS and not key.get("hasUniqueValue"):
        check.problems.append(
            f"{check.where}.id_property: '{mapping.id_property}' does not have unique values, "
            "so HubSpot cannot upsert by it (use email or a unique property)")
    for ours, name in mapping.properties.items():
        check.writable(f"properties.{ours}", name)
    for ours, banded in mapping.banded.items():
        definition = check.writable(f"banded.{ours}.property", banded.property)
        for index, band in enumerate(banded.bands):
            check.option(f"banded.{ours}.bands[{index}]", banded.property, definition,
                         band.value)
    score = check.writable("score_property", mapping.score_property)
    if score is not None and score.get("type") not in ("number", "string"):
        check.problems.append(
            f"{check.where}.score_property: '{mapping.score_property}' is of type "
            f"{score.get('type')}; a score needs a number property")
    for table, name, values in (
            ("lifecycle", mapping.lifecycle_property, mapping.lifecycle_by_stage),
            ("lead_status", mapping.lead_status_property, mapping.lead_status_by_stage)):
        definition = check.writable(f"{table}_property", name)
        for stage, value in values.items():
            check.option(f"{table}_by_stage.{stage}", name, definition, value)
    return check.problems
