"""The health page's line about notification channels: which ones are disabled (a permanent
delivery failure, or an admin). Bounded in time and cached like the readiness checks, so a
hung DynamoDB never holds /health/ past its 3 s; it never fails readiness (email still goes
out through the other channels, and the page says what is off)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from django.conf import settings

from dataplatform.pipeline.app import Pipeline
from dataplatform.web.wiring import get_pipeline

# The readiness probes take up to ~2.3 s of the page's 3 s; this line gets what is left.
BUDGET_SECONDS = 0.5


@dataclass(frozen=True)
class DisabledChannels:
    """`names` of the disabled channels ("name (kind)"), or `known=False` when the channel
    list could not be read in time."""

    known: bool
    names: tuple[str, ...] = ()


_lock = threading.Lock()
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="channel-health")
_cached: tuple[float, Pipeline, DisabledChannels] | None = None
_pending: Future[DisabledChannels] | None = None


def _load(pipeline: Pipeline) -> DisabledChannels:
    names = tuple(f"{c.name} ({c.kind})" for c in pipeline.channels.all() if not c.enabled)
    return DisabledChannels(known=True, names=names)


def disabled_channels() -> DisabledChannels:
    """The disabled channels, read at most once per HEALTH_CACHE_SECONDS (single flight)."""
    global _cached, _pending
    pipeline = get_pipeline()
    with _lock:
        cached = _cached
        fresh = cached is not None and time.monotonic() - cached[0] < settings.HEALTH_CACHE_SECONDS
        if cached is not None and fresh and cached[1] is pipeline:
            return cached[2]
        if _pending is None:
            _pending = _pool.submit(_load, pipeline)
        pending = _pending
    try:
        result = pending.result(timeout=BUDGET_SECONDS)
    except FutureTimeout:
        return DisabledChannels(known=False)  # still reading: the next probe picks it up
    except Exception:  # the page must answer whatever broke underneath
        result = DisabledChannels(known=False)
    with _lock:
        if _pending is pending:
            _pending = None
            _cached = (time.monotonic(), pipeline, result)
    return result
