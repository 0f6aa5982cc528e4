"""Rounds of decisions in flight between the poll and the commit.

A round is what one poll gave, all partitions together. Each CRM has its own lane that
writes rounds strictly in poll order, one write at a time, so a lead's decisions reach each
CRM in order, and a lane plans a round only after it kept what the CRM accepted for the
rounds before it (the no-op skip never diffs against stale values). Rounds that queue up
while a lane is busy are written together, so that lane's calls fill up (200 Leads, 100
contacts). The lanes do not wait for each other: HubSpot, the slower, paced by its rolling
window, is never kept idle by Salesforce or by a commit. A round is committed once both lanes
are done with it, and never before the round polled before it: so an offset is committed only
when both CRMs accepted, or the dead-letter topic holds, every record up to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

import structlog
from aiokafka import TopicPartition

from services.sync.batch_plan import ReadBatch, merge_batches
from services.sync.crm_calls import Stopped

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class Round:
    """One poll's records, decoded; ``ends`` the offset to commit per partition (its last
    record's + 1); ``waiting_for`` the lanes not yet done with it."""

    batch: ReadBatch
    ends: Mapping[TopicPartition, int]
    firsts: Mapping[TopicPartition, int]
    waiting_for: set[str]
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def finish(self, lane: str) -> None:
        """``lane`` accepted or dead-lettered every record of the round, and kept them."""
        self.waiting_for.discard(lane)
        if not self.waiting_for:
            self.done.set()


Write = Callable[[ReadBatch], Awaitable[None]]
Commit = Callable[[Round], Awaitable[None]]


class Lane:
    """One CRM's writes: the rounds queued since its last write, merged, in poll order."""

    def __init__(self, name: str, write: Write, stop: asyncio.Event,
                 changed: asyncio.Event) -> None:
        self.name = name
        self._write = write
        self._stop = stop
        self._changed = changed
        self._queued: list[Round] = []
        self._arrived = asyncio.Event()
        self.writing = False

    @property
    def queued(self) -> int:
        """Rounds waiting for this lane's next write."""
        return len(self._queued)

    def put(self, round_: Round) -> None:
        """Queue a round behind the ones already given."""
        self._queued.append(round_)
        self._arrived.set()

    def wake(self) -> None:
        """Let an idle lane see that stop is set."""
        self._arrived.set()

    async def run(self) -> None:
        """Write queued rounds until stopped (raises :class:`Stopped` mid-write)."""
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            if self._stop.is_set():
                return
            taken, self._queued = self._queued, []
            self._changed.set()  # room for the next poll while this write runs
            if not taken:
                continue
            self.writing = True
            try:
                await self._write(merge_batches(r.batch for r in taken))
            finally:
                self.writing = False
            for round_ in taken:
                round_.finish(self.name)
            self._changed.set()


class Pipeline:
    """The lanes and the in-order commits of one assignment; abandoned, uncommitted, when
    the partitions are revoked (their next owner redoes the rounds: upserts)."""

    def __init__(self, writes: Mapping[str, Write], commit: Commit, stop: asyncio.Event,
                 changed: asyncio.Event, most_queued: int) -> None:
        self._lanes = [Lane(name, write, stop, changed) for name, write in writes.items()]
        self._tasks = [asyncio.create_task(lane.run(), name=f"sync-{lane.name}")
                       for lane in self._lanes]
        self._commit = commit
        self._most_queued = most_queued
        self._rounds: deque[tuple[Round, asyncio.Task[None]]] = deque()

    def has_room(self) -> bool:
        """Whether another round may be polled: no lane has ``most_queued`` rounds waiting."""
        return all(lane.queued < self._most_queued for lane in self._lanes)

    def idle(self) -> bool:
        """Whether no lane has anything to write: a short round costs no call then."""
        return all(not lane.queued and not lane.writing for lane in self._lanes)

    def add(self, batch: ReadBatch, ends: Mapping[TopicPartition, int],
            firsts: Mapping[TopicPartition, int]) -> None:
        """Give every lane the round; commit it after the one added before it."""
        round_ = Round(batch, ends, firsts, {lane.name for lane in self._lanes})
        for lane in self._lanes:
            lane.put(round_)
        previous = self._rounds[-1][1] if self._rounds else None
        self._rounds.append((round_, asyncio.create_task(self._commit_after(previous, round_))))

    async def _commit_after(self, previous: asyncio.Task[None] | None, round_: Round) -> None:
        if previous is not None:
            await previous  # cancelled or failed: nothing after it is committed either
        await round_.done.wait()
        await self._commit(round_)

    def check(self) -> None:
        """Forget committed rounds; raise what ended a lane or a commit other than a stop
        (a failure other than the CRMs' ends the worker)."""
        while self._rounds and self._rounds[0][1].done():
            _, task = self._rounds.popleft()
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        for task in self._tasks:
            if task.done() and not task.cancelled():
                error = task.exception()
                if error is not None and not isinstance(error, Stopped):
                    raise error

    async def abandon(self) -> None:
        """Cancel every write and commit in flight, leaving their rounds uncommitted."""
        tasks = [*self._tasks, *(task for _, task in self._rounds)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._log_left(round_ for round_, _ in self._rounds)
        self._rounds.clear()

    async def close(self) -> None:
        """Stop is set: let the lanes end at their next CRM call, commit the rounds both
        finished, and leave the others uncommitted."""
        for lane in self._lanes:
            lane.wake()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        left = [(r, t) for r, t in self._rounds if not r.done.is_set()]
        for _, task in left:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*(t for _, t in self._rounds), return_exceptions=True)
        self._log_left(r for r, _ in left)
        self._rounds.clear()

    @staticmethod
    def _log_left(rounds: Iterable[Round]) -> None:
        for round_ in rounds:
            if not round_.done.is_set():
                log.info("sync.batch_left_uncommitted",
                         first_offsets={tp.partition: o for tp, o in round_.firsts.items()})
