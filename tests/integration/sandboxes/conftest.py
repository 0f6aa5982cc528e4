"""The Salesforce sandbox as a real process: ``python -m sandboxes.salesforce`` over HTTPS.

The fixture ``salesforce_sandbox`` starts it on a free port with its state (sqlite file, CA
and server certificate) in a temporary folder, and stops it when the module's tests end.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import free_port
from tests.integration.service_processes import ServiceProcess, start_service, wait_for_http

CLIENT_ID = "accord-test-client"
CLIENT_SECRET = "salesforce-test-secret"
ADMIN_TOKEN = "salesforce-test-admin-token"


@dataclass
class SalesforceSandbox:
    """A running sandbox: where it listens, which CA to trust, its client, and its data."""

    port: int
    data_dir: Path
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    admin_token: str = ADMIN_TOKEN
    # Settings of every run of this sandbox (``start``'s env adds to them for one run).
    base_env: Mapping[str, str] = field(default_factory=dict)
    log_path: Path = field(init=False)
    _process: ServiceProcess | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def base_url(self) -> str:
        """The instance URL, e.g. ``https://127.0.0.1:PORT``."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint."""
        return f"{self.base_url}/services/oauth2/token"

    @property
    def ca_path(self) -> Path:
        """The CA that signs the sandbox's certificate (made on its first start)."""
        return self.data_dir / "ca.pem"

    def output(self) -> str:
        """What the process printed so far (every run appends to one log)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, env: Mapping[str, str] | None = None, timeout: float = 30.0) -> None:
        """Start the process (with extra ``env`` settings) and wait until it is healthy."""
        process = self._process = start_service("sandboxes.salesforce", {
            "SALESFORCE_SANDBOX_HOST": "127.0.0.1",
            "SALESFORCE_SANDBOX_PORT": str(self.port),
            "SALESFORCE_SANDBOX_DATA_DIR": str(self.data_dir),
            "SALESFORCE_SANDBOX_CLIENT_ID": self.client_id,
            "SALESFORCE_SANDBOX_CLIENT_SECRET": self.client_secret,
            "SALESFORCE_SANDBOX_ADMIN_TOKEN": self.admin_token,
            **self.base_env,
            **(env or {}),
        }, self.log_path)
        try:
            # The CA is written at first start; only then can the health check trust it.
            deadline = time.monotonic() + timeout
            while not self.ca_path.exists():
                assert process.popen.poll() is None, f"exited early:\n{self.output()[-3000:]}"
                assert time.monotonic() < deadline, f"no CA in {timeout}s:\n{self.output()[-3000:]}"
                time.sleep(0.1)
            wait_for_http(f"{self.base_url}/__sandbox/health", process,
                          max(1.0, deadline - time.monotonic()), verify=str(self.ca_path))
        except AssertionError:
            self.stop()
            raise

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate the process (SIGKILL after ``timeout``)."""
        process, self._process = self._process, None
        if process is not None:
            process.stop(timeout=timeout)

    def restart(self, env: Mapping[str, str] | None = None) -> None:
        """Start a new process on the same port and data; ``env`` applies to this run only."""
        self.stop()
        self.start(env)

    def admin(self, method: str, path: str, json: Any = None,
              token: str | None = None) -> requests.Response:
        """Call the admin API, e.g. ``admin("POST", "/knobs", {"latency_ms": 200})``."""
        session = requests.Session()
        session.trust_env = False
        return session.request(
            method, f"{self.base_url}/__sandbox{path}", json=json, timeout=10,
            verify=str(self.ca_path),
            headers={"Authorization": f"Bearer {token or self.admin_token}"})

    def knobs(self, **changes: Any) -> dict[str, Any]:
        """Set knobs (``POST /__sandbox/knobs``) and return them all."""
        answer = self.admin("POST", "/knobs", changes)
        assert answer.status_code == 200, answer.text
        knobs: dict[str, Any] = answer.json()
        return knobs


def running_sandbox(tmp_path_factory: pytest.TempPathFactory,
                    env: Mapping[str, str] | None = None) -> SalesforceSandbox:
    """A sandbox started on a free port with ``env`` for every run; stop it yourself."""
    sandbox = SalesforceSandbox(port=free_port(), base_env=dict(env or {}),
                                data_dir=tmp_path_factory.mktemp("salesforce") / "data")
    sandbox.start()
    return sandbox
