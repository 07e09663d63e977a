"""A deadline for the DynamoDB calls of one unit of work (a web request), in a contextvar.

botocore bounds each call (connect and read timeouts, attempts), but a request that makes
several calls against a hung store would pay that budget once per call. With a deadline set,
every attempt checks it before it is sent: once it has passed, the call raises StoreUnavailable
(503 + Retry-After) instead of starting another wait. So a request gives up within its deadline
plus at most one attempt (connect + read timeout) already under way.

TaskPool runs calls in copies of the caller's context, so parallel calls see the same deadline."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import StoreUnavailable

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("dynamodb_deadline", default=None)


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """DynamoDB attempts started inside the block must start within `seconds` (None or <= 0:
    no deadline). An enclosing, earlier deadline still holds."""
    if not seconds or seconds <= 0:
        yield
        return
    ends = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(ends if outer is None else min(outer, ends))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the current deadline (None without one)."""
    ends = _deadline.get()
    return None if ends is None else ends - time.monotonic()


def _check(**kwargs: Any) -> None:
    left = remaining()
    if left is not None and left <= 0:
        # Said as it is: the budget may have gone on slow calls before, or on anything else the
        # request did; this call was not sent.
        raise StoreUnavailable("This request used up its time budget before its next data store call; try again.")


def enforce(client: Any) -> Any:
    """Check the deadline before every attempt of every DynamoDB call of `client` (idempotent)."""
    if getattr(client, "_run_monitor_deadline", False):
        return client
    client.meta.events.register("before-send.dynamodb", _check, unique_id="run-monitor-deadline")
    client._run_monitor_deadline = True
    return client
