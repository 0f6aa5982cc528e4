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


class CrmLimitReached(TransientCrmError):
    """We are at the share of the API allowance we may use (or the CRM said so): park the
    work and resume after ``resume_after_seconds`` — nothing is lost, nothing dead-lettered."""

    def __init__(self, crm: str, message: str, resume_after_seconds: float) -> None:
        super().__init__(f"{crm}: {message}; resuming in {resume_after_seconds:.0f} s")
        self.crm = crm
        self.resume_after_seconds = resume_after_seconds
