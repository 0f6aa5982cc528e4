"""The HubSpot sandbox as a real process: ``python -m sandboxes.hubspot`` on a free port.

Import the fixture into a test module with
``from tests.integration.sandboxes.hubspot_fixture import hubspot_sandbox  # noqa: F401``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
ACCESS_TOKEN = "pat-test-hubspot-token"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HubSpotSandbox:
    """A running sandbox: where it listens, its token, its data, and how to restart it."""

    port: int
    data_dir: Path
    access_token: str = ACCESS_TOKEN
    log_path: Path = field(init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def base_url(self) -> str:
        """What ``hubspot.Client.create(host=...)`` takes."""
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """What the process printed so far (every run appends to one log)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 30.0) -> None:
        """Start the process and wait until its health endpoint answers."""
        env = {
            **os.environ,
            "HUBSPOT_SANDBOX_HOST": "127.0.0.1",
            "HUBSPOT_SANDBOX_PORT": str(self.port),
            "HUBSPOT_SANDBOX_DATA_DIR": str(self.data_dir),
            "HUBSPOT_SANDBOX_ACCESS_TOKEN": self.access_token,
        }
        with self.log_path.open("ab") as log:
            # Output goes to a file: a pipe nobody reads would block the server once full.
            self._process = subprocess.Popen(
                [sys.executable, "-m", "sandboxes.hubspot"], cwd=REPO_ROOT, env=env,
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

    def restart(self) -> None:
        """Stop the process and start a new one on the same port and data directory."""
        self.stop()
        self.start()

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.base_url}/__sandbox/health"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise AssertionError(f"HubSpot sandbox exited early:\n{self.output()[-3000:]}")
            try:
                if httpx.get(url, timeout=1.0, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"HubSpot sandbox not healthy within {timeout}s:\n"
                             f"{self.output()[-3000:]}")


def start_hubspot_sandbox(data_dir: Path) -> HubSpotSandbox:
    """A sandbox started on a free port with its state in ``data_dir``; stop it yourself."""
    sandbox = HubSpotSandbox(port=free_port(), data_dir=data_dir)
    sandbox.start()
    return sandbox


@pytest.fixture(scope="module")
def hubspot_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSpotSandbox]:
    """A HubSpot sandbox process shared by the tests of one module, stopped at its end."""
    sandbox = start_hubspot_sandbox(tmp_path_factory.mktemp("hubspot") / "data")
    try:
        yield sandbox
    finally:
        sandbox.stop()
