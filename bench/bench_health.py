"""Health probe storm: readiness probes from many threads vs DynamoDB GetItem calls.

    .venv/bin/python -m bench.bench_health [--probes 1000] [--threads 16] [--cache-seconds 1]

Every probe is GET /health/ready through Django's test Client (in-process, whole middleware
stack). GetItem calls are counted on the health checker's own client
(`get_health_checker()._client().meta.events`, provide-client-params hook) and bucketed by
the cache window in which they happened. Target: <= 1 call per table per window. A short
cache window (default 0.1 s via HEALTH_CACHE_SECONDS; production default 5 s) makes the
~1 s storm span several windows."""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench._common import bench_engine, setup_django, summary_line, table, verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--cache-seconds", type=float, default=0.1)
    args = parser.parse_args()

    with bench_engine() as (engine, tmp):
        setup_django(engine, tmp, HEALTH_CACHE_SECONDS=str(args.cache_seconds))
        from django.test import Client

        from dataplatform.web.wiring import get_health_checker, get_pipeline

        get_pipeline().sync_tables()
        checker = get_health_checker()
        calls: list[tuple[float, str]] = []
        lock = threading.Lock()

        def on_get(params: dict[str, Any] | None = None, **_: Any) -> None:
            with lock:
                calls.append((time.monotonic(), str((params or {}).get("TableName"))))

        # provide-client-params carries the API parameters (TableName) of every GetItem made.
        checker._client().meta.events.register(
            "provide-client-params.dynamodb.GetItem", on_get, unique_id="bench-health"
        )
        statuses: Counter[int] = Counter()
        local = threading.local()

        def probe(_: int) -> None:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = Client()
            response = client.get("/health/ready")
            with lock:
                statuses[response.status_code] += 1

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            list(pool.map(probe, range(args.probes)))
        elapsed = time.monotonic() - started

    # Windows start at each refresh: a call more than cache_seconds after the window's first call
    # opens the next window.
    windows: list[Counter[str]] = []
    window_start = -1e18
    for at, table_name in sorted(calls):
        if at - window_start >= args.cache_seconds or not windows:
            windows.append(Counter())
            window_start = at
        windows[-1][table_name] += 1
    worst = max((max(w.values()) for w in windows), default=0)
    clock_windows = int(elapsed // args.cache_seconds) + 1
    ok = worst <= 1 and statuses.get(200, 0) == args.probes
    print(f"\n{args.probes} probes of /health/ready from {args.threads} threads, cache window "
          f"{args.cache_seconds:g} s, in {elapsed:.2f} s")
    print(table(["probes/s", "HTTP 200", "GetItem calls", "refreshes", "windows elapsed", "max per table per window",
                 "target <= 1"], [[f"{args.probes / elapsed:.0f}", statuses.get(200, 0), len(calls), len(windows),
                                   clock_windows, worst, verdict(ok)]]))
    summary_line(f"health storm: {args.probes} probes / {args.threads} threads at {args.probes / elapsed:.0f} "
                 f"probes/s -> {len(calls)} GetItem over {len(windows)} refreshes ({args.cache_seconds:g} s window), "
                 f"max {worst} per table per window")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
