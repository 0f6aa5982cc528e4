"""The lead key: the normalised email that identifies a lead everywhere and keys Kafka."""

from __future__ import annotations


def lead_key_for(email: str) -> str:
    """Normalise an email into a lead key: trimmed and lower-cased.

    Lower-casing the local part is a deliberate choice: CRMs (Salesforce duplicate rules,
    HubSpot's email dedupe) treat addresses case-insensitively, and so must the key.
    """
    return email.strip().lower()
