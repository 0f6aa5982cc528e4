"""Ingest benchmark: events/s and latency against a ceiling measured in the same run.

    .venv/bin/python -m bench.ingest_bench [--seconds 8]   (or: make bench)

For each scenario the server runs alone (uvicorn, uvloop, httptools, no access log, one
process) and vegeta — an open-loop HTTP load generator, installed from the Go module proxy
into .local/bin — drives it from the other core:
  1. closed loop at the highest rate it sustains (64 workers): the maximum events/s;
  2. open loop at half that rate: p50 and p99 latency, free of coordinated omission.
Scenarios: single-lead posts and HubSpot webhook batches of 100 events, each on
  bare     a bare ASGI endpoint (the HTTP stack alone, for reference),
  ceiling  the ingest app itself with a publisher that skips Kafka,
  kafka    real ingest, acks=all on the local broker.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from deploy.local.kafka_broker import REPO_ROOT, KafkaBroker, fetch_broker_jars, is_listening
from deploy.local.launcher import local_environment
from services.messaging.settings import KafkaSettings
from services.messaging.topics import accord_topics, ensure_topics

VEGETA = "github.com/tsenart/vegeta/v12@v12.12.0"
BIN_DIR = REPO_ROOT / ".local" / "bin"
API_KEY = "bench-key"
HUBSPOT_SECRET = "bench-hubspot-secret"
PORTAL = 62515


def vegeta() -> str:
    """The vegeta binary, installed with `go install` on first use."""
    path = BIN_DIR / "vegeta"
    if not path.exists():
        if shutil.which("go") is None:
            sys.exit("the benchmark needs Go to install vegeta (a load generator)")
        print("installing vegeta from the Go module proxy ...", flush=True)
        subprocess.run(["go", "install", VEGETA], check=True,
                       env={**os.environ, "GOBIN": str(BIN_DIR)})
    return str(path)


@dataclass(frozen=True)
class Target:
    """One kind of request: what vegeta sends and how many events it carries."""

    name: str
    path: str
    body: bytes
    headers: dict[str, str]
    events: int


def lead_target() -> Target:
    body = json.dumps({"email": "ada@siemens.example", "first_name": "Ada",
                       "company": "Siemens", "country": "DE", "employees": 5000,
                       "lead_source": "demo_request"}).encode()
    return Target("single lead", "/v1/leads", body,
                  {"Content-Type": "application/json", "X-Api-Key": API_KEY}, 1)


def hubspot_target(base_url: str) -> Target:
    now_ms = int(time.time() * 1000)
    events = [{"eventId": 1000 + i, "subscriptionId": 77, "portalId": PORTAL,
               "appId": 4400001, "occurredAt": now_ms, "attemptNumber": 0,
               "subscriptionType": "contact.propertyChange", "objectId": 5000 + i,
               "propertyName": "lifecyclestage", "propertyValue": "lead",
               "changeSource": "CRM_UI", "sourceId": "userId:1"} for i in range(100)]
    body = json.dumps(events).encode()
    path = "/webhooks/hubspot"
    # Signature v3: HMAC-SHA256 over method + URI + body + timestamp (valid 5 minutes).
    signed = b"POST" + f"{base_url}{path}".encode() + body + str(now_ms).encode()
    signature = base64.b64encode(
        hmac.new(HUBSPOT_SECRET.encode(), signed, hashlib.sha256).digest()).decode()
    return Target("hubspot batch of 100", path, body, {
        "Content-Type": "application/json", "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": str(now_ms)}, 100)


def attack(url: str, target: Target, seconds: float, rate: int | None) -> dict[str, Any]:
    """Run vegeta; ``rate=None`` is a closed loop at the highest sustainable rate."""
    spec = {"method": "POST", "url": url + target.path,
            "body": base64.b64encode(target.body).decode(),
            "header": {k: [v] for k, v in target.headers.items()}}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as targets:
        targets.write(json.dumps(spec) + "\n")
    pace = ["-rate=0", "-max-workers=64"] if rate is None else [f"-rate={rate}/s"]
    results = subprocess.run(
        [vegeta(), "attack", "-format=json", f"-targets={targets.name}",
         f"-duration={seconds}s", "-timeout=10s", *pace],
        capture_output=True, check=True).stdout
    report = subprocess.run([vegeta(), "report", "-type=json"], input=results,
                            capture_output=True, check=True).stdout
    Path(targets.name).unlink()
    parsed: dict[str, Any] = json.loads(report)
    return parsed


@dataclass
class Figures:
    """What one scenario measured."""

    events_per_s: float
    p50_ms: float
    p99_ms: float
    half_rate: int
    success: float


def measure(url: str, target: Target, seconds: float) -> Figures:
    """Maximum rate (closed loop), then latency at half of it (open loop)."""
    peak = attack(url, target, seconds, None)
    requests_per_s = peak["throughput"]
    half = max(1, int(requests_per_s / 2))
    paced = attack(url, target, seconds, half)
    return Figures(requests_per_s * target.events, paced["latencies"]["50th"] / 1e6,
                   paced["latencies"]["99th"] / 1e6, half,
                   min(peak["success"], paced["success"]))


def start_server(kind: str, port: int, env: dict[str, str], log: Path
                 ) -> subprocess.Popen[bytes]:
    module = ["services.ingest"] if kind == "kafka" else ["bench.servers", kind, str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", *module],
                                   cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + 30
    probe = "/health/ready" if kind != "bare" else "/"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    sys.exit(f"{kind} server did not start; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    vegeta()
    base_env = local_environment()
    bootstrap = base_env["ACCORD_KAFKA_BOOTSTRAP_SERVERS"].split(",")[0]
    host, _, port_text = bootstrap.rpartition(":")
    broker = None
    if not is_listening(host, int(port_text)):
        fetch_broker_jars()
        broker = KafkaBroker(int(port_text), int(base_env["ACCORD_KAFKA_CONTROLLER_PORT"]),
                             REPO_ROOT / ".local" / "kafka" / "data")
        broker.start()
    kafka = KafkaSettings(bootstrap_servers=bootstrap,
                          topic_prefix=f"bench-{uuid.uuid4().hex[:6]}.")
    import asyncio

    asyncio.run(ensure_topics(kafka, accord_topics(kafka)))
    logs = REPO_ROOT / ".local" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, str], Figures] = {}
    try:
        for kind in ("bare", "ceiling", "kafka"):
            port = 18000 + len(results)
            url = f"http://127.0.0.1:{port}"
            env = {**base_env, "ACCORD_INGEST_PORT": str(port),
                   "ACCORD_INGEST_API_KEYS": json.dumps([API_KEY]),
                   "ACCORD_INGEST_PUBLIC_BASE_URL": url,
                   "ACCORD_INGEST_HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
                   "ACCORD_INGEST_HUBSPOT_PORTAL_IDS": json.dumps([PORTAL]),
                   "ACCORD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                   "ACCORD_KAFKA_TOPIC_PREFIX": kafka.topic_prefix}
            server = start_server(kind, port, env, logs / f"bench-{kind}.log")
            try:
                for target in (lead_target(), hubspot_target(url)):
                    if kind == "bare" and target.events > 1:
                        continue
                    print(f"measuring {target.name} on {kind} ...", flush=True)
                    results[(target.name, kind)] = measure(url, target, args.seconds)
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(20)
    finally:
        if broker is not None:
            broker.stop()
    report(results)


def report(results: dict[tuple[str, str], Figures]) -> None:
    print(f"\nIngest on this machine ({os.cpu_count()} cores), one server process:\n")
    print(f"{'scenario':<22}{'server':<9}{'events/s':>10}{'x ceiling':>11}"
          f"{'p50 ms':>9}{'p99 ms':>9}{'at req/s':>10}{'ok':>7}")
    for (scenario, kind), f in results.items():
        ceiling = results.get((scenario, "ceiling"))
        ratio = (f"{f.events_per_s / ceiling.events_per_s:.2f}"
                 if ceiling and ceiling.events_per_s else "-")
        print(f"{scenario:<22}{kind:<9}{f.events_per_s:>10.0f}{ratio:>11}"
              f"{f.p50_ms:>9.1f}{f.p99_ms:>9.1f}{f.half_rate:>10}{f.success:>7.1%}")
    print("\np50/p99: open loop at half the maximum request rate of that server.")
    print("Targets: single lead on kafka >= 0.60 x ceiling; HubSpot batches >= 10,000 "
          "events/s; p99 < 50 ms.")


if __name__ == "__main__":
    main()
