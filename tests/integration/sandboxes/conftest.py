"""The Salesforce sandbox as a real process: ``python -m sandboxes.salesforce`` over HTTPS.

The fixture ``salesforce_sandbox`` starts it on a free port with its state (sqlite file, CA
and server certificate) in a temporary folder, and stops it when the module's tests end.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
CLIENT_ID = "accord-test-client"
CLIENT_SECRET = "salesforce-test-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SalesforceSandbox:
    """A running sandbox: where it listens, which CA to trust, its client, and its data."""

    port: int
    data_dir: Path
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    log_path: Path = field(init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

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
        process_env = {
            **os.environ,
            "SALESFORCE_SANDBOX_HOST": "127.0.0.1",
            "SALESFORCE_SANDBOX_PORT": str(self.port),
            "SALESFORCE_SANDBOX_DATA_DIR": str(self.data_dir),
            "SALESFORCE_SANDBOX_CLIENT_ID": self.client_id,
            "SALESFORCE_SANDBOX_CLIENT_SECRET": self.client_secret,
            **(env or {}),
        }
        with self.log_path.open("ab") as log:
            # Output goes to a file: a pipe nobody reads would block the server once full.
            self._process = subprocess.Popen(
                [sys.executable, "-m", "sandboxes.salesforce"], cwd=REPO_ROOT, env=process_env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_healthy(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate the process (SIGKILL after ``timeout``)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def restart(self, env: Mapping[str, str] | None = None) -> None:
        """Start a new process on the same port and data; ``env`` applies to this run only."""
        self.stop()
        self.start(env)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.base_url}/__sandbox/health"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise AssertionError(f"Salesforce sandbox exited early:\n{self.output()[-3000:]}")
            if self.ca_path.exists():
                try:
                    context = ssl.create_default_context(cafile=str(self.ca_path))
                    response = httpx.get(url, timeout=1.0, verify=context, trust_env=False)
                    if response.status_code == 200:
                        return
                except (httpx.HTTPError, ssl.SSLError):
                    pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"Salesforce sandbox not healthy within {timeout}s:\n"
                             f"{self.output()[-3000:]}")


@pytest.fixture(scope="module")
def salesforce_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SalesforceSandbox]:
    """A Salesforce sandbox process shared by the tests of one module, stopped at its end."""
    sandbox = SalesforceSandbox(port=_free_port(),
                                data_dir=tmp_path_factory.mktemp("salesforce") / "data")
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
