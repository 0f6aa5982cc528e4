"""Keeps personal data out of logs: emails, names and phone numbers are hashed or masked."""

from __future__ import annotations

import hashlib
import re
from collections.abc import MutableMapping
from typing import Any

PERSONAL_KEYS = frozenset({
    "email", "lead_key", "first_name", "last_name", "name", "phone", "firstname",
    "lastname", "mobilephone", "property_value",
})
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def pseudonym(value: object) -> str:
    """A stable, non-reversible stand-in: the same person gets the same tag in every log."""
    return "sha256:" + hashlib.sha256(str(value).encode()).hexdigest()[:12]


def _mask_text(text: str) -> str:
    return _EMAIL.sub(lambda m: pseudonym(m.group(0).lower()), text)


def redact_personal_data(_: Any, __: str, event: MutableMapping[str, Any],
                         ) -> MutableMapping[str, Any]:
    """structlog processor: hash personal fields, mask emails inside any other text."""
    for key, value in list(event.items()):
        if key in PERSONAL_KEYS and value is not None:
            event[key] = pseudonym(value)
        elif isinstance(value, str):
            event[key] = _mask_text(value)
    return event
