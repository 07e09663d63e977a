"""Per-request DynamoDB accounting: number of calls and time spent, kept in a contextvar.

`instrument(client)` hooks botocore's events once per client; a web middleware (or a
benchmark) calls `start()` before a unit of work and reads `current()` after it."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallStats:
    calls: int = 0
    seconds: float = 0.0
    operations: dict[str, int] = field(default_factory=dict)
    # An enclosing counter (a test or benchmark around a request) keeps counting too.
    parent: CallStats | None = field(default=None, repr=False)

    @property
    def milliseconds(self) -> float:
        return round(self.seconds * 1000, 2)


_stats: contextvars.ContextVar[CallStats | None] = contextvars.ContextVar("dynamodb_stats", default=None)
_started: contextvars.ContextVar[float | None] = contextvars.ContextVar("dynamodb_call_started", default=None)
# Calls made at once for one request (concurrency.TaskPool) add to the same counters.
_count_lock = threading.Lock()


def start() -> CallStats:
    """Begin counting for the current context (request, thread or benchmark step)."""
    stats = CallStats(parent=_stats.get())
    _stats.set(stats)
    return stats


@contextmanager
def scope() -> Iterator[CallStats]:
    """Count the calls made inside the block; the enclosing counter (if any) still sees them."""
    stats = CallStats(parent=_stats.get())
    token = _stats.set(stats)
    try:
        yield stats
    finally:
        _stats.reset(token)


def current() -> CallStats | None:
    return _stats.get()


def _before(**kwargs: Any) -> None:
    _started.set(time.perf_counter())


def _after(model: Any = None, **kwargs: Any) -> None:
    stats = _stats.get()
    began = _started.get()
    if stats is None or began is None:
        return
    elapsed = time.perf_counter() - began
    name = getattr(model, "name", "unknown")
    node: CallStats | None = stats
    with _count_lock:
        while node is not None:
            node.calls += 1
            node.seconds += elapsed
            node.operations[name] = node.operations.get(name, 0) + 1
            node = node.parent


def instrument(client: Any) -> Any:
    """Register the counting hooks on a boto3 client (idempotent per client)."""
    if getattr(client, "_run_monitor_instrumented", False):
        return client
    events = client.meta.events
    events.register("before-call.dynamodb", _before, unique_id="run-monitor-before")
    events.register("after-call.dynamodb", _after, unique_id="run-monitor-after")
    client._run_monitor_instrumented = True
    return client
