"""How sync tells a failure worth retrying from one that retrying cannot fix."""

from __future__ import annotations


class TransientCrmError(RuntimeError):
    """The CRM is away, slow, limiting us, or failed on its side: retry with backoff."""


class RejectedByCrmError(RuntimeError):
    """The CRM refused this record (a validation rule, an unknown owner): dead-letter it."""

    def __init__(self, crm: str, code: str, message: str) -> None:
        super().__init__(f"{crm} rejected the record: {code}: {message}")
        self.crm = crm
        self.code = code
