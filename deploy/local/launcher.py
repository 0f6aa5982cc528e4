"""Runs the whole system on one machine: Kafka, both CRM sandboxes, ingest, router and sync.

``make run`` uses it, and so do the end-to-end tests (with their own ports, topic prefix and
data folders), so what the tests start is exactly what a developer runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from dotenv import dotenv_values

from deploy.local.kafka_broker import REPO_ROOT, KafkaBroker, fetch_broker_jars, is_listening
from services.messaging.settings import KafkaSettings
from services.messaging.topics import accord_topics, ensure_topics

SETTINGS_FILE = REPO_ROOT / "deploy" / "local.env"


# Where the CRM sandboxes send webhooks and Outbound Messages (ingest on its local port).
CLOSED_LOOP_SETTINGS = ("HUBSPOT_SANDBOX_WEBHOOK_TARGET_URL",
                        "SALESFORCE_SANDBOX_OUTBOUND_MESSAGE_URL")


def local_environment(overrides: dict[str, str] | None = None,
                      closed_loop: bool = True) -> dict[str, str]:
    """The settings file, then the process environment, then ``overrides``: last one wins.

    ``closed_loop=False`` leaves out where the sandboxes send their webhooks, unless
    ``overrides`` names it: a test's or a benchmark's sandbox must not post to whatever
    listens on the local run's ingest port.
    """
    from_file = {k: v for k, v in dotenv_values(SETTINGS_FILE).items() if v is not None}
    merged = {**from_file, **os.environ, **(overrides or {})}
    if not closed_loop:
        for name in CLOSED_LOOP_SETTINGS:
            if name not in (overrides or {}):
                merged.pop(name, None)
    return merged


def _http_ok(url: str, verify: str | bool = True) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0, verify=verify, trust_env=False).status_code == 200
        except (httpx.HTTPError, OSError):
            return False
    return check


@dataclass
class Process:
    """One service process of the local system."""

    name: str
    module: str
    where: str
    ready: Callable[[], bool] | None = None
    popen: subprocess.Popen[bytes] | None = None


@dataclass
class LocalSystem:
    """Starts and stops every part, in order; reuses a broker already listening."""

    env: dict[str, str]
    log_dir: Path = REPO_ROOT / ".local" / "logs"
    processes: list[Process] = field(default_factory=list)
    broker: KafkaBroker | None = None

    def _get(self, name: str) -> str:
        return self.env[name]

    def start_broker(self) -> None:
        """Reuse the broker at the configured address, or start one."""
        host, _, port = self._get("ACCORD_KAFKA_BOOTSTRAP_SERVERS").split(",")[0].rpartition(":")
        if is_listening(host, int(port)):
            print(f"  kafka     reusing the broker at {host}:{port}")
            return
        fetch_broker_jars()
        self.broker = KafkaBroker(int(port), int(self._get("ACCORD_KAFKA_CONTROLLER_PORT")),
                                  REPO_ROOT / ".local" / "kafka" / "data")
        self.broker.start()
        print(f"  kafka     {host}:{port}  (KRaft; log {self.broker.log_file})")

    def create_topics(self) -> None:
        """Create Accord's topics with their partition counts and cleanup policies."""
        kafka = KafkaSettings(
            bootstrap_servers=self._get("ACCORD_KAFKA_BOOTSTRAP_SERVERS"),
            topic_prefix=self.env.get("ACCORD_KAFKA_TOPIC_PREFIX", ""),
        )
        asyncio.run(ensure_topics(kafka, accord_topics(kafka)))

    def _spawn(self, process: Process, timeout: float = 60.0) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{process.name}.log"
        with log_path.open("ab") as log:
            process.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", process.module], cwd=REPO_ROOT, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        deadline = time.monotonic() + timeout
        while process.ready is not None and not process.ready():
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited with {process.popen.returncode}; "
                                   f"see {log_path}:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{process.name} was not ready within {timeout}s; "
                                   f"see {log_path}")
            time.sleep(0.2)
        print(f"  {process.name:<9} {process.where}  (log {log_path})")

    def start(self) -> None:
        """Start everything and return once each part is ready."""
        self.start_broker()
        self.create_topics()
        sf_host = self._get("SALESFORCE_SANDBOX_HOST")
        sf_port = self._get("SALESFORCE_SANDBOX_PORT")
        ca = REPO_ROOT / self._get("SALESFORCE_SANDBOX_DATA_DIR") / "ca.pem"
        self._spawn(Process(
            "salesforce", "sandboxes.salesforce", f"https://{sf_host}:{sf_port} (CA {ca})",
            lambda: ca.exists() and _http_ok(
                f"https://{sf_host}:{sf_port}/__sandbox/health", str(ca))()))
        hs_url = f"http://{self._get('HUBSPOT_SANDBOX_HOST')}:{self._get('HUBSPOT_SANDBOX_PORT')}"
        self._spawn(Process("hubspot", "sandboxes.hubspot", hs_url,
                            _http_ok(f"{hs_url}/__sandbox/health")))
        ingest_url = f"http://{self._get('ACCORD_INGEST_HOST')}:{self._get('ACCORD_INGEST_PORT')}"
        self._spawn(Process("ingest", "services.ingest", ingest_url,
                            _http_ok(f"{ingest_url}/health/ready")))
        self._spawn(Process("router", "services.router", "consumes lead events"))
        self._spawn(Process("sync", "services.sync", "writes decisions to both CRMs"))

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after 15 s), then the broker we started."""
        for process in reversed(self.processes):
            if process.popen is not None and process.popen.poll() is None:
                os.killpg(process.popen.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            if process.popen is None:
                continue
            try:
                process.popen.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait()
        self.processes.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def find(self, name: str) -> Process:
        """The running process with this name."""
        return next(p for p in self.processes if p.name == name)


def run_until_interrupted() -> None:
    """``make run``: start everything, then wait for Ctrl-C (or SIGTERM) and stop cleanly."""
    started = time.monotonic()
    system = LocalSystem(local_environment())
    stop_requested = False

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print("Accord: starting the local system")
    try:
        system.start()
        print(f"Accord is ready in {time.monotonic() - started:.1f}s. Ctrl-C stops everything.")
        while not stop_requested:
            for process in system.processes:
                if process.popen is not None and process.popen.poll() is not None:
                    print(f"{process.name} exited with {process.popen.returncode}; stopping")
                    stop_requested = True
            time.sleep(0.5)
    finally:
        print("Accord: stopping")
        system.stop()
        print("Accord: stopped")
