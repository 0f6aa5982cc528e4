"""What an end-to-end test reads the system with: the real CRM clients pointed at the
sandboxes, and a wait that shows every process's log when something did not happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import hubspot
import requests
import yaml
from simple_salesforce import Salesforce

from deploy.local.kafka_broker import REPO_ROOT
from deploy.local.launcher import LocalSystem

API_KEY = "e2e-key"
T = TypeVar("T")
OWNERS = {o["email"]: o for o in yaml.safe_load(
    (REPO_ROOT / "sandboxes" / "owners.yaml").read_text())["owners"]}


def salesforce_client(env: dict[str, str]) -> Salesforce:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify (shared pitfalls)
    session.verify = env["ACCORD_SYNC_SALESFORCE_CA_BUNDLE"]
    token = session.post(env["ACCORD_SYNC_SALESFORCE_TOKEN_URL"], data={
        "grant_type": "client_credentials",
        "client_id": env["SALESFORCE_SANDBOX_CLIENT_ID"],
        "client_secret": env["SALESFORCE_SANDBOX_CLIENT_SECRET"],
    }, timeout=10).json()
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"],
                      session=session, version="62.0")


def hubspot_client(env: dict[str, str]) -> Any:
    return hubspot.Client.create(access_token=env["HUBSPOT_SANDBOX_ACCESS_TOKEN"],
                                 host=env["ACCORD_SYNC_HUBSPOT_BASE_URL"])


def eventually(probe: Callable[[], T | None], what: str, system: LocalSystem,
               timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n" + (system.log_dir / f"{p.name}.log").read_text()[-2500:]
                     for p in system.processes)
    raise AssertionError(f"{what} did not happen within {timeout}s\n{logs}")


