"""Tasks that arrive together go to Batch together: as one array job.

A Wove map of N items calls SubmitJob N times within moments. The batcher holds each task of
an environment for at most `window_seconds` after the first one of its group arrived (or
until the group reaches Batch's 10,000 children), then hands the group to `flush` on a pool
thread: one task becomes a plain job, two or more an array job whose child i runs task i.
Tasks group only when everything but their payload and job name is equal (queue, definition,
overrides, options) and they came from the same event loop.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from ..aws.limits import ARRAY_SIZE_MAX

J = TypeVar("J")


@dataclass
class Queued(Generic[J]):
    """A task waiting for its group to close, and the future Wove's adapter awaits."""

    job: J
    loop: asyncio.AbstractEventLoop
    future: "asyncio.Future[Any]"


@dataclass
class _Group(Generic[J]):
    items: list[Queued[J]] = field(default_factory=list)
    timer: "asyncio.TimerHandle | None" = None


class ArrayBatcher(Generic[J]):
    def __init__(self, window_seconds: float, flush: Callable[[list[Queued[J]]], None],
                 max_size: int = ARRAY_SIZE_MAX) -> None:
        if not window_seconds >= 0:
            raise ValueError(f"array_window_seconds: {window_seconds!r} is not 0 or more")
        self.window_seconds = window_seconds
        self.max_size = max_size
        self._flush = flush
        self._groups: dict[tuple[int, str], _Group[J]] = {}
        self._lock = threading.Lock()  # two weaves may run on two loops in two threads

    def add(self, job: J, group: str, loop: asyncio.AbstractEventLoop) -> "asyncio.Future[Any]":
        """Call on `loop`'s thread; the future resolves to the task's SubmitJob response."""
        key = (id(loop), group)
        queued = Queued(job, loop, loop.create_future())
        with self._lock:
            current = self._groups.get(key)
            if current is None:
                current = self._groups[key] = _Group()
                current.timer = loop.call_later(self.window_seconds, self._close, key)
            current.items.append(queued)
            full = len(current.items) >= self.max_size
        if full:
            self._close(key)
        return queued.future

    def _close(self, key: tuple[int, str]) -> None:
        with self._lock:
            current = self._groups.pop(key, None)
        if current is None:
            return
        if current.timer is not None:
            current.timer.cancel()
        self._flush(current.items)

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(len(group.items) for group in self._groups.values())
