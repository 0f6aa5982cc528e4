"""Name-based (version 5) UUIDs as text, the router's deterministic event ids.

``str(uuid.uuid5(namespace, name))`` builds a ``UUID`` object on the way (argument checks,
an int of 128 bits, then formatting it back), which cost a few percent of the router's
time per event. This computes the same string from the same SHA-1 digest directly; a unit
test holds it to ``uuid.uuid5``.
"""

from __future__ import annotations

import hashlib
import uuid

_NAMESPACE_BYTES: dict[uuid.UUID, bytes] = {}  # ``UUID.bytes`` converts its int each time


def uuid5_text(namespace: uuid.UUID, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))``, computed directly (RFC 4122, section 4.3)."""
    prefix = _NAMESPACE_BYTES.get(namespace)
    if prefix is None:
        prefix = _NAMESPACE_BYTES[namespace] = namespace.bytes
    digest = bytearray(hashlib.sha1(prefix + name.encode(), usedforsecurity=False)
                       .digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
