"""Independent AWS calls at once: the few Queries one page needs together (a count per status,
the newest runs per status) or the SQS batches of a large dispatch cost one round trip of
latency instead of one each.

A small thread pool, created on first use in the process that uses it (a pool made before a
fork has no threads in the child, so a new one is made there). Each task runs in a copy of
the caller's context, so per-request accounting (metrics) sees its calls."""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Set in the pool's threads: a map called from inside a task runs in that thread instead of
# waiting for pool threads that may all be busy waiting themselves (no nested deadlock).
_inside = threading.local()


def _task(fn: Callable[[T], R], item: T) -> R:
    _inside.active = True
    try:
        return fn(item)
    finally:
        _inside.active = False


class TaskPool:
    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="run-monitor-task")
                self._pid = os.getpid()
            return self._pool

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`[fn(item) for item in items]`, the calls made concurrently; results in order, the
        first failure (in order) raised once every call has ended."""
        if len(items) <= 1 or self.workers <= 1 or getattr(_inside, "active", False):
            return [fn(item) for item in items]
        pool = self._executor()
        futures = [pool.submit(contextvars.copy_context().run, _task, fn, item) for item in items]
        errors = [future.exception() for future in futures]
        for error in errors:
            if error is not None:
                raise error
        return [future.result() for future in futures]

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
