"""Logs never hold raw emails, names or phone numbers."""

from __future__ import annotations

from services.log_redaction import pseudonym, redact_personal_data


def test_given_personal_fields_when_logged_then_they_are_hashed_stably():
    event = redact_personal_data(None, "info", {
        "event": "x", "email": "Ada@Example.com", "first_name": "Ada", "phone": "+44 20 1234",
        "count": 3})
    assert event["email"] == pseudonym("Ada@Example.com")
    assert "Ada" not in str(event) and "1234" not in str(event)
    assert event["count"] == 3


def test_given_an_email_inside_a_message_when_logged_then_it_is_masked():
    event = redact_personal_data(None, "info", {
        "event": "Salesforce rejected the record", "reason": "duplicate of ada@example.com"})
    assert "ada@example.com" not in event["reason"]
    assert pseudonym("ada@example.com") in event["reason"]
