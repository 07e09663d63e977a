"""The evaluator's part of health: how old its last tick is (SPEC section 6).

Reported beside the readiness checks, never failing them: a stopped evaluator means nobody is
paged, which is worth a `degraded` on the health page and an alarm, but the web tier still
serves and must stay in the load balancer. One GetItem of the heartbeat per cache window (the
same single-flight cache as the table probes), on a client with one attempt and short timeouts,
so a hung DynamoDB answers `unavailable` within the health budget."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.config import Config

from .clients import new_client
from .config import PipelineConfig
from .dynamo import deserialize
from .evaluator import evaluator_freshness
from .timeutil import parse_ts, utc_now

HEARTBEAT_KEY = {"alertId": {"S": "evaluator#heartbeat"}}


@dataclass
class EvaluatorHealth:
    """`check()` -> {"status": ok | degraded | unknown | unavailable, "lastTickAt", "ageSeconds"}."""

    config: PipelineConfig
    stale_after_seconds: float = 300.0
    cache_seconds: float = 5.0
    budget_seconds: float = 2.0
    client: Any | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cached: tuple[float, dict[str, Any]] | None = None
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=1))

    def _client(self) -> Any:
        if self.client is None:
            config = Config(
                connect_timeout=min(1.0, self.budget_seconds / 2),
                read_timeout=min(1.5, self.budget_seconds / 2),
                retries={"mode": "standard", "total_max_attempts": 1},
                max_pool_connections=2,
            )
            kwargs: dict[str, Any] = {"region_name": self.config.region, "config": config}
            if self.config.endpoint_url:
                kwargs["endpoint_url"] = self.config.endpoint_url
            self.client = new_client("dynamodb", **kwargs)
        return self.client

    def _read(self) -> dict[str, Any] | None:
        item = self._client().get_item(TableName=self.config.alert_table, Key=HEARTBEAT_KEY).get("Item")
        if not item:
            return None
        heartbeat = deserialize(item)
        try:
            heartbeat["lastTickAt"] = parse_ts(str(heartbeat["lastTickAt"]))
        except (KeyError, ValueError):
            return None
        return heartbeat

    def check(self, now: datetime | None = None) -> dict[str, Any]:
        """The cached answer when fresh, else one GetItem bounded by `budget_seconds`."""
        with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
                return cached[1]
            try:
                heartbeat = self._pool.submit(self._read).result(timeout=self.budget_seconds)
                result = evaluator_freshness(heartbeat, now=now or utc_now(),
                                             stale_after_seconds=self.stale_after_seconds)
            except FutureTimeout:
                result = {"status": "unavailable", "lastTickAt": None, "ageSeconds": None}
            except Exception:  # health must answer whatever broke underneath
                result = {"status": "unavailable", "lastTickAt": None, "ageSeconds": None}
            self._cached = (time.monotonic(), result)
            return result
