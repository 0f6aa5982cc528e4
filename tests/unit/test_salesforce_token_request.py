"""What sync asks Salesforce's token endpoint for, and the settings each flow needs."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError

from services.sync.salesforce_token_request import JWT_BEARER, token_request
from services.sync.settings import SyncSettings
from tests.builders import a_signing_key_pair

NOW = 1_795_000_000.0


def test_given_client_credentials_when_asking_for_a_token_then_the_id_and_secret_are_sent():
    settings = SyncSettings(salesforce_client_id="app", salesforce_client_secret="s3cret")
    assert token_request(settings, NOW) == {"grant_type": "client_credentials",
                                            "client_id": "app", "client_secret": "s3cret"}


def test_given_jwt_bearer_with_a_key_file_when_asking_then_a_signed_three_minute_assertion(
        tmp_path: Path):
    key, _ = a_signing_key_pair(tmp_path)
    (tmp_path / "sync.key").write_text(key)
    settings = SyncSettings(salesforce_auth_flow="jwt_bearer", salesforce_client_id="app",
                            salesforce_username="integration@accord.example",
                            salesforce_private_key_file=tmp_path / "sync.key",
                            salesforce_jwt_audience="https://test.salesforce.com")

    form = token_request(settings, NOW)

    assert form["grant_type"] == JWT_BEARER and "client_secret" not in form
    claims = jwt.decode(form["assertion"], options={"verify_signature": False})
    assert claims == {"iss": "app", "sub": "integration@accord.example",
                      "aud": "https://test.salesforce.com", "exp": int(NOW) + 180}


def test_given_jwt_bearer_without_username_or_key_when_configured_then_each_is_named():
    with pytest.raises(ValidationError) as refused:
        SyncSettings(salesforce_auth_flow="jwt_bearer", salesforce_client_id="app")
    message = str(refused.value)
    assert "ACCORD_SYNC_SALESFORCE_USERNAME" in message
    assert "ACCORD_SYNC_SALESFORCE_PRIVATE_KEY_FILE" in message


def test_given_jwt_bearer_with_a_key_file_that_is_not_there_when_configured_then_it_says_so(
        tmp_path: Path):
    with pytest.raises(ValidationError, match="PRIVATE_KEY_FILE cannot be read"):
        SyncSettings(salesforce_auth_flow="jwt_bearer", salesforce_client_id="app",
                     salesforce_username="u@example.com",
                     salesforce_private_key_file=tmp_path / "missing.key")


def test_given_jwt_bearer_with_a_key_that_is_no_pem_when_configured_then_it_says_so():
    with pytest.raises(ValidationError, match="not an unencrypted PEM private key"):
        SyncSettings(salesforce_auth_flow="jwt_bearer", salesforce_client_id="app",
                     salesforce_username="u@example.com", salesforce_private_key="ssh-rsa AAA")
