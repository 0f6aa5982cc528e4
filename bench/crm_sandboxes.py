"""Both CRM sandboxes as real processes for a benchmark: fresh data folders, free ports, no
webhooks or Outbound Messages, and their own usage counters read through the admin APIs
(which no limit counts)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deploy.local.kafka_broker import REPO_ROOT
from deploy.local.launcher import local_environment

SF_CLIENT_ID = "accord-bench-client"
SF_CLIENT_SECRET = "bench-salesforce-secret"
ADMIN_TOKEN = "bench-admin-token"
HS_ACCESS_TOKEN = "pat-bench-hubspot-token"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sandbox:
    """One sandbox process: its base URL, admin API, and the CA to trust (Salesforce)."""

    name: str
    base_url: str
    data_dir: Path
    popen: subprocess.Popen[bytes] | None = None
    verify: str | bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ca_path(self) -> Path:
        """The CA of the Salesforce sandbox's certificate (made at its first start)."""
        return self.data_dir / "ca.pem"

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call ``/__sandbox/<path>`` with the admin token; its JSON answer."""
        answer = httpx.request(method, f"{self.base_url}/__sandbox/{path}", json=body,
                               headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                               verify=self.verify, trust_env=False, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def stop(self) -> None:
        """SIGTERM the process group (SIGKILL after 15 s)."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


def _spawn(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module], cwd=REPO_ROOT,
            env=local_environment(env, closed_loop=False),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_healthy(sandbox: Sandbox, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert sandbox.popen is not None
        if sandbox.popen.poll() is not None:
            sys.exit(f"{sandbox.name} sandbox exited:\n{log.read_text()[-3000:]}")
        if sandbox.name == "salesforce" and sandbox.ca_path.exists():
            sandbox.verify = str(sandbox.ca_path)
        try:
            if httpx.get(f"{sandbox.base_url}/__sandbox/health", verify=sandbox.verify,
                         trust_env=False, timeout=1).status_code == 200:
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    sys.exit(f"{sandbox.name} sandbox not healthy within {timeout}s; see {log}")


def start_salesforce(root: Path) -> Sandbox:
    """A Salesforce sandbox with a fresh org in ``root/salesforce``."""
    port = free_port()
    sandbox = Sandbox("salesforce", f"https://127.0.0.1:{port}", root / "salesforce")
    log = root / "salesforce.log"
    sandbox.popen = _spawn("sandboxes.salesforce", {
        "SALESFORCE_SANDBOX_HOST": "127.0.0.1", "SALESFORCE_SANDBOX_PORT": str(port),
        "SALESFORCE_SANDBOX_DATA_DIR": str(sandbox.data_dir),
        "SALESFORCE_SANDBOX_CLIENT_ID": SF_CLIENT_ID,
        "SALESFORCE_SANDBOX_CLIENT_SECRET": SF_CLIENT_SECRET,
        "SALESFORCE_SANDBOX_ADMIN_TOKEN": ADMIN_TOKEN,
        "SALESFORCE_SANDBOX_OUTBOUND_MESSAGE_URL": "",
    }, log)
    _wait_healthy(sandbox, log)
    return sandbox


def start_hubspot(root: Path, ten_second_limit: int) -> Sandbox:
    """A HubSpot sandbox with a fresh portal in ``root/hubspot``, its private app limited to
    ``ten_second_limit`` calls per rolling 10 s."""
    port = free_port()
    sandbox = Sandbox("hubspot", f"http://127.0.0.1:{port}", root / "hubspot")
    log = root / "hubspot.log"
    sandbox.popen = _spawn("sandboxes.hubspot", {
        "HUBSPOT_SANDBOX_HOST": "127.0.0.1", "HUBSPOT_SANDBOX_PORT": str(port),
        "HUBSPOT_SANDBOX_DATA_DIR": str(sandbox.data_dir),
        "HUBSPOT_SANDBOX_ACCESS_TOKEN": HS_ACCESS_TOKEN,
        "HUBSPOT_SANDBOX_ADMIN_TOKEN": ADMIN_TOKEN,
        "HUBSPOT_SANDBOX_TEN_SECOND_LIMIT": str(ten_second_limit),
        "HUBSPOT_SANDBOX_WEBHOOK_TARGET_URL": "",
    }, log)
    _wait_healthy(sandbox, log)
    return sandbox


def sync_settings(salesforce: Sandbox, hubspot: Sandbox, client_name: str,
                  hubspot_share: float) -> dict[str, str]:
    """The ``ACCORD_SYNC_*`` settings that point sync at both sandboxes."""
    return {
        "ACCORD_SYNC_SALESFORCE_TOKEN_URL": f"{salesforce.base_url}/services/oauth2/token",
        "ACCORD_SYNC_SALESFORCE_CLIENT_ID": SF_CLIENT_ID,
        "ACCORD_SYNC_SALESFORCE_CLIENT_SECRET": SF_CLIENT_SECRET,
        "ACCORD_SYNC_SALESFORCE_CA_BUNDLE": str(salesforce.ca_path),
        "ACCORD_SYNC_SALESFORCE_CLIENT_NAME": client_name,
        "ACCORD_SYNC_HUBSPOT_BASE_URL": hubspot.base_url,
        "ACCORD_SYNC_HUBSPOT_ACCESS_TOKEN": HS_ACCESS_TOKEN,
        "ACCORD_SYNC_HUBSPOT_RATE_SHARE": str(hubspot_share),
    }
