"""Sync benchmark: one sync worker drains a backlog of decisions into both CRM sandboxes.

    .venv/bin/python -m bench.sync_bench [--decisions 10000] [--hubspot-limit 20]
                                         [--hubspot-share 0.9]     (or: make bench)

A backlog of ``lead.routed`` decisions (varied leads, decided by the router's own ``decide``
and the shipped rule set) is preloaded on the decisions topic; then one real sync process
(``python -m services.sync``) drains it into fresh Salesforce and HubSpot sandboxes. The
HubSpot private app gets a tight rolling limit (``--hubspot-limit`` calls per 10 s) of which
Accord may use ``--hubspot-share``, so HubSpot's limit, not the machine, paces the drain.

How to read the output:
  records/s            decisions committed per second, from the moment sync finished its
                       start-up mapping check to the moment every partition's offset was
                       committed past the backlog (both CRMs accepted every record).
  calls per record     each sandbox's own count of API calls made during the drain, divided
                       by the records (target: at most 0.01 for each CRM).
  HubSpot window use   calls the sandbox counted in its rolling 10 s window, sampled every
                       0.5 s while sync was calling HubSpot (the first 10 s excluded, while the
                       window fills), against Accord's allowed share, floor(share x limit)
                       (target: at least 90%); 429s is the sandbox's count of calls it
                       refused for a limit during the drain (target: 0).
  baseline             the same kind of records written after the drain, one record per
                       call, through the same writers (and the same rate limiter) in this
                       process: what writing each decision as it comes would give. The
                       ratio is sync's records/s over the baseline's, per CRM.
Every figure is measured in this run; nothing is assumed. On a shared machine run it twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.crm_sandboxes import Sandbox, start_hubspot, start_salesforce, sync_settings
from bench.sync_bench_parts import (
    Baseline,
    committed_all,
    count_records,
    decisions,
    end_offsets,
    one_per_call,
    preload,
)
from deploy.local.kafka_broker import REPO_ROOT, KafkaBroker, fetch_broker_jars, is_listening
from deploy.local.launcher import local_environment
from services.messaging.settings import KafkaSettings
from services.messaging.topics import (
    LEAD_DECISIONS,
    SYNC_DEAD_LETTERS,
    accord_topics,
    ensure_topics,
)


@dataclass
class Drain:
    """What the drain measured."""

    seconds: float = 0.0
    salesforce_calls: int = 0
    hubspot_calls: int = 0
    refused: int = 0
    window_samples: list[int] = field(default_factory=list)
    hubspot_seconds: float = 0.0


def _start_sync(kafka: KafkaSettings, salesforce: Sandbox, hubspot: Sandbox, client: str,
                share: float, log: Path) -> subprocess.Popen[bytes]:
    """``python -m services.sync`` against both sandboxes, returned once its start-up
    mapping check passed (the drain's clock starts then)."""
    env = {"ACCORD_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "ACCORD_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
           **sync_settings(salesforce, hubspot, client, share)}
    # The log is appended to by every run: only this run's part says it is ready.
    before = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        sync = subprocess.Popen(
            [sys.executable, "-m", "services.sync"], cwd=REPO_ROOT,
            env=local_environment(env), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    while b"sync.mapping_checked" not in log.read_bytes()[before:]:
        if sync.poll() is not None:
            sys.exit(f"sync exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    return sync


async def _drain(kafka: KafkaSettings, salesforce: Sandbox, hubspot: Sandbox,
                 sync: subprocess.Popen[bytes], client: str, ends: dict[int, int]) -> Drain:
    """Measure from now until every partition is committed up to ``ends``."""
    started = time.monotonic()
    sf_before = (await asyncio.to_thread(salesforce.admin, "GET", "usage"))[
        "by_client"].get(client, 0)
    hs_before = await asyncio.to_thread(hubspot.admin, "GET", "usage")
    today, last_rise = hs_before["today"], started
    samples: list[tuple[float, int]] = []
    while not await committed_all(kafka, ends):
        if sync.poll() is not None:
            sys.exit(f"sync exited with {sync.returncode}; see its log")
        usage = await asyncio.to_thread(hubspot.admin, "GET", "usage")
        now = time.monotonic()
        samples.append((now, usage["last_ten_seconds"]))
        if usage["today"] > today:
            today, last_rise = usage["today"], now
        await asyncio.sleep(0.5)
    drain = Drain(seconds=time.monotonic() - started, hubspot_seconds=last_rise - started)
    # Windows that lie wholly inside HubSpot's busy time: from 10 s in (the first window is
    # still filling) until its last call.
    drain.window_samples = [w for t, w in samples if started + 10.0 <= t <= last_rise]
    sf_after = (await asyncio.to_thread(salesforce.admin, "GET", "usage"))["by_client"]
    hs_after = await asyncio.to_thread(hubspot.admin, "GET", "usage")
    drain.salesforce_calls = sf_after.get(client, 0) - sf_before
    drain.hubspot_calls = hs_after["today"] - hs_before["today"]
    drain.refused = sum(hs_after["refused"].values()) - sum(hs_before["refused"].values())
    return drain


def _broker(env: dict[str, str]) -> tuple[str, KafkaBroker | None]:
    bootstrap = env["ACCORD_KAFKA_BOOTSTRAP_SERVERS"].split(",")[0]
    host, _, port = bootstrap.rpartition(":")
    if is_listening(host, int(port)):
        return bootstrap, None
    fetch_broker_jars()
    broker = KafkaBroker(int(port), int(env["ACCORD_KAFKA_CONTROLLER_PORT"]),
                         REPO_ROOT / ".local" / "kafka" / "data")
    broker.start()
    return bootstrap, broker


def _report(count: int, limit: int, share: float, drain: Drain, written: tuple[int, int],
            letters: int, base: Baseline) -> None:
    rate = count / drain.seconds
    allowed = max(1, int(share * limit + 1e-9))
    busy = drain.window_samples
    mean = sum(busy) / len(busy) if busy else 0.0
    average = 10 * drain.hubspot_calls / drain.hubspot_seconds if drain.hubspot_seconds else 0
    print(f"\nSync on this machine ({os.cpu_count()} cores): {count} decisions, HubSpot limit "
          f"{limit} calls / 10 s, Accord's share {share:.0%} = {allowed} calls / 10 s\n")
    print(f"  drained in {drain.seconds:.1f} s: {rate:.0f} records/s; in the CRMs afterwards: "
          f"{written[0]} Leads, {written[1]} contacts; dead letters {letters}")
    print(f"  {'CRM':<12}{'calls':>7}{'calls/record':>14}{'target':>9}")
    print(f"  {'Salesforce':<12}{drain.salesforce_calls:>7}"
          f"{drain.salesforce_calls / count:>14.4f}{'<= 0.01':>9}")
    print(f"  {'HubSpot':<12}{drain.hubspot_calls:>7}"
          f"{drain.hubspot_calls / count:>14.4f}{'<= 0.01':>9}")
    print(f"\n  HubSpot rolling window while busy ({len(busy)} samples over "
          f"{drain.hubspot_seconds:.0f} s): mean {mean:.1f}, max {max(busy, default=0)} calls "
          f"of {allowed} allowed = {mean / allowed:.0%} (target >= 90%); average over the "
          f"whole drain {average:.1f} / 10 s = {average / allowed:.0%}; 429s {drain.refused}")
    print(f"\n  baseline, one record per call ({base.salesforce_records} Leads, "
          f"{base.hubspot_records} contacts, after the drain):")
    print(f"  {'CRM':<12}{'records/s':>10}{'calls/record':>14}{'sync x':>9}")
    for name, records, seconds, calls in (
            ("Salesforce", base.salesforce_records, base.salesforce_seconds,
             base.salesforce_calls),
            ("HubSpot", base.hubspot_records, base.hubspot_seconds, base.hubspot_calls)):
        per_second = records / seconds
        print(f"  {name:<12}{per_second:>10.1f}{calls / records:>14.2f}"
              f"{rate / per_second:>9.1f}")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--hubspot-limit", type=int, default=20)
    parser.add_argument("--hubspot-share", type=float, default=0.9)
    parser.add_argument("--baseline-salesforce", type=int, default=200)
    parser.add_argument("--baseline-hubspot", type=int, default=36)
    args = parser.parse_args()
    bootstrap, broker = _broker(local_environment())
    kafka = KafkaSettings(bootstrap_servers=bootstrap,
                          topic_prefix=f"bench-{uuid.uuid4().hex[:6]}.")
    log = REPO_ROOT / ".local" / "logs" / "bench-sync.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(ensure_topics(kafka, accord_topics(kafka)))
        print(f"deciding and pre-loading {args.decisions} decisions ...", flush=True)
        backlog = decisions(args.decisions)
        asyncio.run(preload(kafka, backlog))
        with tempfile.TemporaryDirectory(prefix="accord-sync-bench-") as root:
            salesforce = start_salesforce(Path(root))
            hubspot = start_hubspot(Path(root), args.hubspot_limit)
            try:
                print("one sync worker draining the backlog ...", flush=True)
                ends = asyncio.run(end_offsets(kafka, LEAD_DECISIONS))
                client = f"accord-bench-{uuid.uuid4().hex[:6]}"
                sync = _start_sync(kafka, salesforce, hubspot, client, args.hubspot_share, log)
                try:
                    drain = asyncio.run(_drain(kafka, salesforce, hubspot, sync, client, ends))
                finally:
                    os.killpg(sync.pid, signal.SIGTERM)
                    sync.wait(30)
                written = count_records(salesforce, hubspot)
                letters = sum(asyncio.run(end_offsets(kafka, SYNC_DEAD_LETTERS)).values())
                print("baseline: one record per call ...", flush=True)
                base = one_per_call(salesforce, hubspot, args.hubspot_share,
                                    args.baseline_salesforce, args.baseline_hubspot)
            finally:
                salesforce.stop()
                hubspot.stop()
    finally:
        if broker is not None:
            broker.stop()
    _report(args.decisions, args.hubspot_limit, args.hubspot_share, drain, written, letters,
            base)


if __name__ == "__main__":
    main()
