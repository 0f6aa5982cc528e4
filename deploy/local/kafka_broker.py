"""A real Apache Kafka broker for local runs and tests: one KRaft node bound to 127.0.0.1.

The jars come from Maven Central through ``deploy/kafka/pom.xml`` (pinned version); the broker
runs from them with the JDK already on the machine. Nothing here is a stand-in for Kafka.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
TEMPLATE = REPO_ROOT / "deploy" / "kafka" / "server.properties.template"
LIBS_DIR = REPO_ROOT / ".local" / "kafka" / "libs"
FETCHED_STAMP = LIBS_DIR / ".fetched"


class BrokerError(RuntimeError):
    """The broker could not be fetched or started; the message says what to check."""


def fetch_broker_jars(libs_dir: Path = LIBS_DIR) -> Path:
    """Download the pinned broker jars once; later calls reuse them (stamped by the pom)."""
    stamp = libs_dir / ".fetched"
    pom_text = POM.read_text()
    if stamp.exists() and stamp.read_text() == pom_text:
        return libs_dir
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("Maven ('mvn') is not on PATH; install it to fetch the Kafka broker")
    if libs_dir.exists():
        shutil.rmtree(libs_dir)
    libs_dir.mkdir(parents=True)
    result = subprocess.run(  # noqa: S603 - fixed argv, mvn from PATH
        [
            mvn, "-q", "-B", "-f", str(POM),
            "dependency:copy-dependencies", f"-Dlibs.dir={libs_dir}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BrokerError(
            "Maven could not fetch the Kafka broker jars:\n" + result.stdout + result.stderr
        )
    stamp.write_text(pom_text)
    return libs_dir


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class KafkaBroker:
    """One local KRaft broker process; ``start`` formats its storage on first use."""

    port: int
    controller_port: int
    data_dir: Path
    libs_dir: Path = LIBS_DIR
    # Every test run makes its own prefixed topics (six partitions each): a broker that served
    # a long day of runs held 16,000 partitions and died of OutOfMemoryError at 512m.
    heap: str = "1g"
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        """The address clients connect to."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        """Where the broker writes its own log."""
        return self.data_dir / "broker.log"

    def _java(self, main_class: str, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Java is not on PATH; the Kafka broker needs a JDK 17+")
        return [
            java, f"-Xmx{self.heap}", "-Xms128m",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            # Keep the lines that say which version started, and when it is up.
            "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.utils.AppInfoParser=info",
            "-Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info",
            "-cp", f"{self.libs_dir}/*", main_class, *args,
        ]

    def _write_config(self) -> Path:
        log_dir = self.data_dir / "log"
        config = self.data_dir / "server.properties"
        config.write_text(
            TEMPLATE.read_text().format(
                port=self.port, controller_port=self.controller_port, data_dir=log_dir
            )
        )
        return config

    def _format_storage(self, config: Path) -> None:
        if (self.data_dir / "log" / "meta.properties").exists():
            return
        cluster_id = _random_cluster_id()
        result = subprocess.run(  # noqa: S603 - fixed argv
            # `--cluster-id=` keeps an id that starts with "-" (1 in 64 do) from being read
            # as an option by the tool's argument parser.
            self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                       "--config", str(config)),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError("Formatting the KRaft storage failed:\n" + result.stderr[-4000:])

    def start(self, timeout: float = 60.0) -> None:
        """Start the broker and return once it accepts connections."""
        if is_listening("127.0.0.1", self.port):
            raise BrokerError(f"port {self.port} is already taken; is a broker already running?")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        self._format_storage(config)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv
                self._java("kafka.Kafka", str(config)),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Ctrl-C is ours to forward
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(
                    f"the Kafka broker exited with {self._process.returncode}; "
                    f"see {self.log_file}:\n{self.log_file.read_text()[-3000:]}"
                )
            if is_listening("127.0.0.1", self.port):
                return
            time.sleep(0.2)
        self.stop()
        raise BrokerError(f"the Kafka broker did not listen on {self.port} within {timeout}s")

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self._process else None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker cleanly (SIGTERM), killing it if it does not stop in time."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would."""
        process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _random_cluster_id() -> str:
    # KRaft cluster ids are 16 random bytes in URL-safe base64 without padding.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
