"""Readiness checks: one cheap data-plane read per table, bounded in time, cached briefly.

A probe storm costs at most one DynamoDB call per table per cache window: callers that
arrive while a refresh is running wait for it instead of starting their own.

The host application adds checks of its own parts (`parts`: name -> callable returning "ok" or
a short word for what is wrong), run beside the table reads within the same budget. A failing
part named in `optional` makes the status `degraded` (still ready: e.g. a shared cache whose
outage the app survives); any other failing check makes it `unavailable`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .clients import new_client
from .config import PipelineConfig


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    checks: dict[str, str]
    checked_at: float
    duration_ms: int
    cached: bool = False
    degraded: bool = False

    @property
    def status(self) -> str:
        """`ok`, `degraded` (ready, an optional part is down) or `unavailable`."""
        if not self.ok:
            return "unavailable"
        return "degraded" if self.degraded else "ok"


@dataclass
class HealthChecker:
    config: PipelineConfig
    cache_seconds: float = 5.0
    # The whole request must answer within 3 s (SPEC): the probes get 2 s, the rest is margin for
    # building the client and the response on a loaded machine.
    budget_seconds: float = 2.0
    client: Any | None = None
    parts: Mapping[str, Callable[[], str]] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _refreshing: threading.Lock = field(default_factory=threading.Lock)
    _report: HealthReport | None = None
    # Room for every check of a refresh, plus a few held by a part that hangs past its budget.
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=8))

    def _client(self) -> Any:
        with self._lock:
            if self.client is None:
                # Own client: one attempt, short timeouts, so a hung endpoint answers fast.
                config = Config(
                    connect_timeout=min(1.0, self.budget_seconds / 2),
                    read_timeout=min(1.5, self.budget_seconds / 2),
                    retries={"mode": "standard", "total_max_attempts": 1},
                    max_pool_connections=4,
                )
                kwargs: dict[str, Any] = {"region_name": self.config.region, "config": config}
                if self.config.endpoint_url:
                    kwargs["endpoint_url"] = self.config.endpoint_url
                self.client = new_client("dynamodb", **kwargs)
            return self.client

    def _probe(self, table: str, key: str) -> str:
        try:
            self._client().get_item(TableName=table, Key={key: {"S": "__health_probe__"}})
            return "ok"
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            return "missing" if code == "ResourceNotFoundException" else "error"
        except BotoCoreError:
            return "unreachable"
        except Exception:  # a probe must answer, whatever broke underneath
            return "error"

    @staticmethod
    def _part(check: Callable[[], str]) -> str:
        try:
            return check()
        except Exception:  # a probe must answer, whatever broke underneath
            return "error"

    def _run_checks(self) -> HealthReport:
        started = time.monotonic()
        targets = {"runs": (self.config.run_table, "runId"), "files": (self.config.file_table, "fileId")}
        futures = {name: self._pool.submit(self._probe, table, key) for name, (table, key) in targets.items()}
        futures.update({name: self._pool.submit(self._part, check) for name, check in self.parts.items()})
        wait(futures.values(), timeout=self.budget_seconds)
        checks = {name: (f.result() if f.done() else "timeout") for name, f in futures.items()}
        failing = {name for name, value in checks.items() if value != "ok"}
        return HealthReport(
            ok=not (failing - self.optional),
            checks=checks,
            checked_at=time.time(),
            duration_ms=int((time.monotonic() - started) * 1000),
            degraded=bool(failing & self.optional),
        )

    def check(self) -> HealthReport:
        """The cached report when fresh, else a new one (single flight across threads)."""
        report = self._report
        if report is not None and time.time() - report.checked_at < self.cache_seconds:
            return replace(report, cached=True)
        got = self._refreshing.acquire(timeout=self.budget_seconds + 0.3)
        try:
            report = self._report
            if report is not None and time.time() - report.checked_at < self.cache_seconds:
                return replace(report, cached=True)
            if not got:
                names = ["runs", "files", *self.parts]
                return HealthReport(False, dict.fromkeys(names, "timeout"), time.time(), 0)
            report = self._run_checks()
            with self._lock:
                self._report = report
            return report
        finally:
            if got:
                self._refreshing.release()
