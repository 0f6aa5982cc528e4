"""Rounds in flight: each CRM's lane writes them in poll order without waiting for the other
CRM, rounds queued meanwhile are written together, and a round is committed only once both
lanes are done with it and every round before it is committed."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition

from services.sync.batch_plan import Decided, ReadBatch
from services.sync.crm_calls import Stopped
from services.sync.pipeline import Pipeline, Round

TP = TopicPartition("decisions", 0)


def a_batch(*leads: tuple[str, int]) -> ReadBatch:
    """A batch of decisions (lead key, score) in offset order."""
    return ReadBatch(tuple(Decided(SimpleNamespace(partition=0),  # type: ignore[arg-type]
                                   SimpleNamespace(lead_key=k, score=s))  # type: ignore[arg-type]
                           for k, s in leads))


class Crm:
    """A lane's write: records what it was given; blocks while ``gate`` is clear."""

    def __init__(self, open_: bool = True) -> None:
        self.gate = asyncio.Event()
        if open_:
            self.gate.set()
        self.writes: list[list[tuple[str, int]]] = []
        self.started = asyncio.Event()
        self.error: BaseException | None = None

    async def write(self, batch: ReadBatch) -> None:
        self.started.set()
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        self.writes.append([(d.lead_key, d.decision.score) for d in batch.latest])


class Harness:
    def __init__(self, most_queued: int = 2) -> None:
        self.salesforce, self.hubspot = Crm(), Crm()
        self.committed: list[int] = []
        self.stop, self.changed = asyncio.Event(), asyncio.Event()
        self.pipeline = Pipeline({"salesforce": self.salesforce.write,
                                  "hubspot": self.hubspot.write},
                                 self.commit, self.stop, self.changed, most_queued)
        self.offset = 0

    async def commit(self, round_: Round) -> None:
        self.committed.append(round_.ends[TP])

    def poll(self, *leads: tuple[str, int]) -> None:
        self.offset += len(leads)
        self.pipeline.add(a_batch(*leads), {TP: self.offset}, {TP: self.offset - len(leads)})


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_given_salesforce_blocked_when_rounds_come_then_hubspot_writes_them_and_none_is_committed():  # noqa: E501
    h = Harness(most_queued=5)
    h.salesforce.gate.clear()
    h.poll(("ann", 1))
    await settle()
    h.poll(("bo", 2))
    await settle()

    assert h.hubspot.writes == [[("ann", 1)], [("bo", 2)]]  # not held up by Salesforce
    assert h.committed == []  # Salesforce has not accepted them

    h.salesforce.gate.set()
    await settle()
    assert h.committed == [1, 2]  # in poll order, each once both CRMs are done
    h.pipeline.check()
    await h.pipeline.abandon()


async def test_given_a_busy_lane_when_rounds_queue_then_they_are_written_together_in_poll_order():
    h = Harness(most_queued=3)
    h.hubspot.gate.clear()
    h.poll(("ann", 1))
    await h.hubspot.started.wait()
    h.poll(("bo", 2), ("ann", 3))
    h.poll(("cy", 4))
    assert h.pipeline.has_room()
    h.poll(("ann", 5))
    assert not h.pipeline.has_room()  # three rounds wait for HubSpot: poll no more

    h.hubspot.gate.set()
    await settle()

    # One write for the three queued rounds: ann's latest decision, the others in order.
    assert h.hubspot.writes == [[("ann", 1)], [("bo", 2), ("cy", 4), ("ann", 5)]]
    assert h.committed == [1, 3, 4, 5]
    assert h.pipeline.has_room()
    await h.pipeline.abandon()


async def test_given_a_later_round_done_first_when_an_earlier_is_not_then_nothing_is_committed_past_it():  # noqa: E501
    h = Harness()
    h.hubspot.gate.clear()
    h.poll(("ann", 1))
    await h.hubspot.started.wait()
    h.poll(("bo", 2))
    await settle()
    assert h.salesforce.writes == [[("ann", 1)], [("bo", 2)]]
    assert h.committed == []

    await h.pipeline.abandon()  # the partitions were revoked
    h.hubspot.gate.set()
    await settle()
    assert h.committed == []  # left uncommitted: their next owner writes them again


async def test_given_stop_when_closed_then_finished_rounds_are_committed_and_the_rest_left():
    h = Harness()
    h.poll(("ann", 1))
    await settle()
    h.hubspot.gate.clear()
    h.hubspot.error = Stopped()  # the lane's CRM call saw the stop
    h.poll(("bo", 2))
    await h.hubspot.started.wait()
    h.stop.set()
    h.hubspot.gate.set()

    await h.pipeline.close()

    assert h.committed == [1]


async def test_given_a_lane_failing_otherwise_than_stopped_when_checked_then_the_error_ends_the_worker():  # noqa: E501
    h = Harness()
    h.salesforce.error = RuntimeError("bug")
    h.poll(("ann", 1))
    await settle()

    with pytest.raises(RuntimeError, match="bug"):
        h.pipeline.check()
    assert h.committed == []
    await h.pipeline.abandon()


def test_round_is_done_only_once_every_lane_finished() -> None:
    round_ = Round(a_batch(), {TP: 1}, {TP: 0}, {"salesforce", "hubspot"})
    round_.finish("hubspot")
    assert not round_.done.is_set()
    round_.finish("salesforce")
    assert round_.done.is_set()


