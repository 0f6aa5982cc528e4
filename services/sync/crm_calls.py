"""How the worker makes a blocking CRM write: off the event loop, with bounded concurrency,
retried with backoff while it fails transiently, and parked while a CRM's limit is reached."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_not_exception_type,
    wait_exponential_jitter,
)

from services.sync.crm_errors import CrmLimitReached, TransientCrmError

log = structlog.get_logger(__name__)
T = TypeVar("T")


class Stopped(Exception):
    """Stop was asked for before the write was done: leave its records uncommitted."""


async def sleep_unless_stopped(seconds: float, stop: asyncio.Event) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class CrmCalls:
    """Runs blocking CRM writes for one worker; counts the writes parked at a limit."""

    def __init__(self, max_concurrency: int, stop: asyncio.Event,
                 on_park_change: Callable[[], None] = lambda: None) -> None:
        self._threads = asyncio.Semaphore(max_concurrency)
        self._stop = stop
        self._on_park_change = on_park_change
        self.parked = 0  # writes waiting for a CRM's limit to lift

    async def until_done(self, crm: str, write: Callable[[], T]) -> T:
        """Run ``write`` in a thread until it returns, retrying transient failures with
        backoff and waiting out a reached limit (which says when to try again: the CRM's
        next call decides). Raises :class:`Stopped` once stop is set, before the next call."""
        stop = self._stop
        while True:
            if stop.is_set():
                raise Stopped
            try:
                async for attempt in AsyncRetrying(
                    retry=(retry_if_exception_type(TransientCrmError)
                           & retry_if_not_exception_type(CrmLimitReached)),
                    wait=wait_exponential_jitter(initial=0.5, max=30),
                    stop=lambda _state: stop.is_set(),
                    sleep=lambda seconds: sleep_unless_stopped(seconds, stop),
                    before_sleep=lambda state: _log_retry(crm, state), reraise=True,
                ):
                    with attempt:
                        async with self._threads:
                            return await asyncio.to_thread(write)
            except CrmLimitReached as exc:
                log.warning("sync.parked", crm=crm, seconds=round(exc.resume_after_seconds, 1),
                            error=str(exc))
                self._park(+1)
                try:
                    await sleep_unless_stopped(exc.resume_after_seconds, stop)
                finally:
                    self._park(-1)
            except TransientCrmError as exc:
                if not stop.is_set():
                    raise
                raise Stopped from exc

    def _park(self, change: int) -> None:
        self.parked += change
        self._on_park_change()


def _log_retry(crm: str, state: RetryCallState) -> None:
    log.warning("sync.retrying", crm=crm, attempt=state.attempt_number,
                error=str(state.outcome.exception() if state.outcome else ""))
