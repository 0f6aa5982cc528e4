"""The worker processes a partition's next batch while the previous batch's transaction
commits: state only ever changes by committed transactions, in order, and a batch read
ahead of a failed commit is dropped unsent. Kafka is replaced by fakes here; the
integration tests run the same worker against the broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

from services.contracts.envelope import encode
from services.contracts.events import LEAD_CAPTURED
from services.messaging.settings import KafkaSettings
from services.router.changelog_store import ChangelogStore
from services.router.golden_record import GoldenRecord
from services.router.owned_partition import OwnedPartition
from services.router.record_processing import StepResult, record_key
from services.router.rules.loader import load_rules
from services.router.settings import RouterSettings
from services.router.stream_worker import RouterWorker
from tests.builders import a_captured_lead

RULES = load_rules(Path("rules/leads.yaml"))
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
EMAIL = "ana@initech.example"


class Transactions:
    """Stands in for ``_send_in_transaction``: each waits for the test to let it end."""

    def __init__(self) -> None:
        self.sent: list[StepResult] = []
        self.outcomes: list[asyncio.Future[None]] = []

    async def send(self, owned: OwnedPartition, tp: TopicPartition, next_offset: int | None,
                   result: StepResult) -> None:
        self.sent.append(result)
        outcome = asyncio.get_running_loop().create_future()
        self.outcomes.append(outcome)
        await outcome

    async def end(self, index: int, error: Exception | None = None) -> None:
        for _ in range(100):  # until that transaction was sent (the worker sends in order)
            if len(self.outcomes) > index:
                break
            await asyncio.sleep(0)
        if error is None:
            self.outcomes[index].set_result(None)
        else:
            self.outcomes[index].set_exception(error)
        await asyncio.sleep(0)


def a_worker(transactions: Transactions) -> tuple[RouterWorker, list[int]]:
    worker = RouterWorker(RouterSettings(kafka=KafkaSettings()), RULES, clock=lambda: NOW)
    worker.owned[0] = OwnedPartition(0, producer=None, store=ChangelogStore(0))
    rebuilt: list[int] = []

    async def rebuild(tp: TopicPartition) -> None:
        rebuilt.append(tp.partition)
        worker.owned[tp.partition] = OwnedPartition(tp.partition, None,
                                                    ChangelogStore(tp.partition))
        worker._went_back_now(tp.partition)

    worker._send_in_transaction = transactions.send  # type: ignore[method-assign]
    worker._rebuild = rebuild  # type: ignore[method-assign]
    return worker, rebuilt


def a_batch(worker: RouterWorker, offset: int, employees: int) -> list[ConsumerRecord[Any, Any]]:
    captured = a_captured_lead(at=NOW, email=EMAIL, employees=employees)
    out = encode(LEAD_CAPTURED, "/test", EMAIL, captured, event_id=f"e-{offset}")
    return [ConsumerRecord(worker.input_topic, 0, offset, 0, 0, out.key, out.value, None,
                           len(out.key), len(out.value), out.headers)]


def stored(owned: OwnedPartition) -> GoldenRecord | None:
    value = owned.store.get(record_key(EMAIL))
    return GoldenRecord.model_validate_json(value) if value else None


async def test_given_a_batch_committing_when_the_next_is_processed_then_read_ahead_and_after():
    transactions = Transactions()
    worker, _ = a_worker(transactions)
    tp = TopicPartition(worker.input_topic, 0)
    owned = worker.owned[0]
    await worker._process_batch(tp, a_batch(worker, 0, employees=10))
    await worker._process_batch(tp, a_batch(worker, 1, employees=5000))
    await asyncio.sleep(0)
    # The second batch saw the first one's record, but nothing is committed yet.
    second = GoldenRecord.model_validate_json(
        owned.in_flight[1].result.changes[record_key(EMAIL)])
    assert second.recent_event_ids == ("e-0", "e-1")
    assert stored(owned) is None and len(transactions.sent) == 1  # in order, one at a time
    await transactions.end(0)
    record = stored(owned)
    assert record is not None and record.recent_event_ids == ("e-0",)
    await transactions.end(1)
    await worker._settle_all()
    record = stored(owned)
    assert record is not None and record.recent_event_ids == ("e-0", "e-1")
    assert worker.processed == 2 and worker.failure is None


async def test_given_a_failed_commit_when_a_batch_was_read_ahead_then_it_is_dropped_unsent():
    transactions = Transactions()
    worker, rebuilt = a_worker(transactions)
    tp = TopicPartition(worker.input_topic, 0)
    owned = worker.owned[0]
    fetched = worker.rebalances, dict(worker.rebuilds)
    await worker._process_batch(tp, a_batch(worker, 0, employees=10))
    await worker._process_batch(tp, a_batch(worker, 1, employees=5000))
    await transactions.end(0, KafkaError("broker away"))
    await worker._settle_all()
    assert rebuilt == [0] and len(transactions.sent) == 1  # the second was never sent
    assert stored(owned) is None and stored(worker.owned[0]) is None
    assert worker.processed == 0
    # Records fetched before the partition went back to its offsets are not used.
    assert worker._went_back(0, fetched) and not worker._went_back(1, fetched)
