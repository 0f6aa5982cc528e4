"""The sandbox's JWT bearer grant, fed assertions made by sync's own token request code: the
user a valid one names, and Salesforce's refusal for each way one can be wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandboxes.salesforce.errors import OAuthError
from sandboxes.salesforce.jwt_bearer import LOGIN_AUDIENCES, public_key_of, user_for_assertion
from services.sync.salesforce_token_request import jwt_assertion
from tests.builders import a_signing_key_pair

CLIENT_ID = "accord-test-client"
INTEGRATION = {"Id": "005000000000009AAA", "Username": "integration@accord.example",
               "IsActive": True}
MARIA = {"Id": "005000000000001AAA", "Username": "maria.garcia@accord.example",
         "IsActive": True}
NOW = 1_795_000_000.0


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    key, certificate = a_signing_key_pair(tmp_path_factory.mktemp("jwt"))
    return key, public_key_of(Path(certificate))


def user_for(assertion: str, public_key: Any) -> str:
    return user_for_assertion(assertion, public_key, CLIENT_ID, LOGIN_AUDIENCES,
                              [MARIA, INTEGRATION], ["integration@accord.example"], NOW)


def an_assertion(key: str, **changes: Any) -> str:
    claims = {"client_id": CLIENT_ID, "username": "integration@accord.example",
              "audience": "https://login.salesforce.com", "private_key_pem": key, "now": NOW,
              **changes}
    return jwt_assertion(**claims)


def test_given_sync_s_assertion_when_checked_then_it_names_the_integration_user(keys):
    key, public = keys
    assert user_for(an_assertion(key), public) == INTEGRATION["Id"]


@pytest.mark.parametrize(("changes", "error", "description"), [
    ({"audience": "https://example.my.site.com"}, "invalid_grant", "audience is invalid"),
    ({"now": NOW - 181}, "invalid_grant", "expired authorization code"),
    ({"client_id": "someone-else"}, "invalid_client_id", "client identifier invalid"),
    ({"username": "maria.garcia@accord.example"}, "invalid_grant",
     "user hasn't approved this consumer"),
    ({"username": "nobody@accord.example"}, "invalid_grant",
     "user hasn't approved this consumer"),
])
def test_given_a_wrong_claim_when_checked_then_salesforce_s_refusal(keys, changes, error,
                                                                    description):
    key, public = keys
    with pytest.raises(OAuthError) as refused:
        user_for(an_assertion(key, **changes), public)
    assert (refused.value.error, refused.value.description) == (error, description)


def test_given_an_assertion_signed_with_another_key_when_checked_then_invalid_assertion(
        keys, tmp_path: Path):
    _, public = keys
    other_key, _ = a_signing_key_pair(tmp_path)
    with pytest.raises(OAuthError, match="invalid assertion"):
        user_for(an_assertion(other_key), public)


def test_given_an_app_without_a_certificate_when_checked_then_invalid_assertion(keys):
    key, _ = keys
    with pytest.raises(OAuthError, match="invalid assertion"):
        user_for(an_assertion(key), None)
