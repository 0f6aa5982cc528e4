"""Salesforce record ids: 15 case-sensitive characters plus a 3-character case-safe suffix."""

from __future__ import annotations

import re
import string

_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
# Two pod characters and one reserved character, as in real ids (00Q5g00000...).
_POD = "5g0"


def case_safe_suffix(id15: str) -> str:
    """The 3 characters that keep an id unique when it is compared case-insensitively."""
    suffix = ""
    for chunk_start in range(0, 15, 5):
        bits = 0
        for offset, char in enumerate(id15[chunk_start:chunk_start + 5]):
            if char.isupper():
                bits |= 1 << offset
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def new_id(key_prefix: str, sequence: int) -> str:
    """The 18-character id of the ``sequence``-th record of the object with ``key_prefix``."""
    digits = ""
    remaining = sequence
    while remaining:
        remaining, digit = divmod(remaining, 62)
        digits = _BASE62[digit] + digits
    id15 = key_prefix + _POD + digits.rjust(15 - len(key_prefix) - len(_POD), "0")
    return id15 + case_safe_suffix(id15)


def is_well_formed(value: str) -> bool:
    """Whether ``value`` has the shape of a 15- or 18-character id (with a matching suffix)."""
    if not _ID_PATTERN.match(value):
        return False
    return len(value) == 15 or value[15:].upper() == case_safe_suffix(value[:15])


def to_18(value: str) -> str:
    """The 18-character form of a well-formed 15- or 18-character id."""
    return value[:15] + case_safe_suffix(value[:15])
