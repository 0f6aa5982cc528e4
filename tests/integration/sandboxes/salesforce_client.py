"""Connecting the unmodified simple-salesforce client to the Salesforce sandbox, and test data
shared by the sandbox's test modules."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import requests
from simple_salesforce import Salesforce

if TYPE_CHECKING:
    from tests.integration.sandboxes.conftest import SalesforceSandbox

MARIA = "005000000000001AAA"
JAMES = "005000000000002AAA"
INTEGRATION_USER = "005000000000009AAA"
ORG_ID = "00D000000000001AAA"
T = TypeVar("T")


def sandbox_session(sandbox: SalesforceSandbox) -> requests.Session:
    """A session that trusts only the sandbox CA (REQUESTS_CA_BUNDLE would override verify)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sandbox.ca_path)
    return session


def request_token(sandbox: SalesforceSandbox, session: requests.Session,
                  **overrides: str) -> requests.Response:
    form = {"grant_type": "client_credentials", "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret, **overrides}
    return session.post(sandbox.token_url, data=form, timeout=10)


def connect(sandbox: SalesforceSandbox, session_id: str | None = None,
            session: requests.Session | None = None) -> Salesforce:
    session = session or sandbox_session(sandbox)
    if session_id is None:
        session_id = request_token(sandbox, session).json()["access_token"]
    return Salesforce(instance_url=sandbox.base_url, session_id=session_id, session=session,
                      version="62.0")


def new_key() -> str:
    return f"lead-{uuid.uuid4().hex[:10]}@example.com"


def lead(**fields: object) -> dict[str, object]:
    return {"FirstName": "Ann", "LastName": "Lee", "Company": "Acme", "OwnerId": MARIA,
            "Status": "Marketing Qualified", **fields}


def eventually(probe: Callable[[], T | None], timeout: float = 10.0,
               interval: float = 0.05) -> T:
    """The first truthy result of ``probe``, polling until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        assert time.monotonic() < deadline, f"nothing within {timeout}s"
        time.sleep(interval)
