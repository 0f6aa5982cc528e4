"""The HubSpot sandbox as a real process: ``python -m sandboxes.hubspot`` on a free port.

The module-scoped ``hubspot_sandbox`` fixture lives in ``tests/integration/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port
from tests.integration.service_processes import ServiceProcess, start_service, wait_for_http

ACCESS_TOKEN = "pat-test-hubspot-token"
ADMIN_TOKEN = "hubspot-test-admin-token"


@dataclass
class HubSpotSandbox:
    """A running sandbox: where it listens, its token, its data, and how to restart it."""

    port: int
    data_dir: Path
    access_token: str = ACCESS_TOKEN
    admin_token: str = ADMIN_TOKEN
    log_path: Path = field(init=False)
    _process: ServiceProcess | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def base_url(self) -> str:
        """What ``hubspot.Client.create(host=...)`` takes."""
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """What the process printed so far (every run appends to one log)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, env: Mapping[str, str] | None = None, timeout: float = 30.0) -> None:
        """Start the process (with extra ``HUBSPOT_SANDBOX_*`` settings in ``env``) and wait
        until its health endpoint answers."""
        self._process = start_service("sandboxes.hubspot", {
            "HUBSPOT_SANDBOX_HOST": "127.0.0.1",
            "HUBSPOT_SANDBOX_PORT": str(self.port),
            "HUBSPOT_SANDBOX_DATA_DIR": str(self.data_dir),
            "HUBSPOT_SANDBOX_ACCESS_TOKEN": self.access_token,
            "HUBSPOT_SANDBOX_ADMIN_TOKEN": self.admin_token,
            **(env or {}),
        }, self.log_path)
        try:
            wait_for_http(f"{self.base_url}/__sandbox/health", self._process, timeout)
        except AssertionError:
            self.stop()
            raise

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate the process (SIGKILL after ``timeout``)."""
        process, self._process = self._process, None
        if process is not None:
            process.stop(timeout=timeout)

    def restart(self, env: Mapping[str, str] | None = None) -> None:
        """Stop the process and start a new one on the same port and data directory."""
        self.stop()
        self.start(env)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the admin API (``/__sandbox/...``) and return its JSON answer."""
        answer = httpx.request(method, f"{self.base_url}/__sandbox/{path}", json=body,
                               headers={"Authorization": f"Bearer {self.admin_token}"},
                               timeout=10, trust_env=False)
        assert answer.status_code < 300, answer.text
        return answer.json()

    def set_knobs(self, **knobs: Any) -> dict[str, Any]:
        """``POST /__sandbox/knobs`` (latency_ms, error_rate, outage_seconds, limits)."""
        result: dict[str, Any] = self.admin("POST", "knobs", knobs)
        return result

    def reset_knobs(self) -> None:
        """Back to the knob values the settings started with."""
        self.admin("DELETE", "knobs")


def start_hubspot_sandbox(data_dir: Path, env: Mapping[str, str] | None = None,
                          ) -> HubSpotSandbox:
    """A sandbox started on a free port with its state in ``data_dir``; stop it yourself."""
    sandbox = HubSpotSandbox(port=free_port(), data_dir=data_dir)
    sandbox.start(env)
    return sandbox
