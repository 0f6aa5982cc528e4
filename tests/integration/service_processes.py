"""Starting Accord's own services as real processes for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy.local.kafka_broker import REPO_ROOT
from deploy.local.launcher import local_environment
from services.messaging.settings import KafkaSettings
from tests.conftest import free_port


@dataclass
class ServiceProcess:
    """A running service and where its output goes."""

    popen: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Stop the process (SIGKILL after ``timeout``) and return its exit code."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        return int(self.popen.returncode)


def start_service(module: str, env: dict[str, str], log_path: Path) -> ServiceProcess:
    """Start ``python -m module`` from the repo root with the local settings plus ``env``."""
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", module], cwd=REPO_ROOT,
            env=local_environment(env, closed_loop=False),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return ServiceProcess(popen, log_path)


def wait_for_http(url: str, process: ServiceProcess, timeout: float = 30.0,
                  verify: str | bool = True) -> None:
    """Wait until ``url`` answers 200, failing with the process output if it dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"process exited early:\n{process.output()[-3000:]}")
        try:
            if httpx.get(url, timeout=1.0, verify=verify, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready within {timeout}s:\n{process.output()[-3000:]}")


def start_ingest(kafka: KafkaSettings, log_path: Path,
                 settings: dict[str, str] | None = None) -> tuple[str, ServiceProcess]:
    """A real ingest process on a free port, publishing with ``kafka``; waits until it is
    ready and returns its base URL (also its public base URL) and the process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_service("services.ingest", {
        "ACCORD_INGEST_PORT": str(port),
        "ACCORD_INGEST_PUBLIC_BASE_URL": url,
        "ACCORD_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ACCORD_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        **(settings or {}),
    }, log_path)
    try:
        wait_for_http(f"{url}/health/ready", process)
    except BaseException:
        process.stop()
        raise
    return url, process
