"""One alert evaluator tick over 500 datasets x 7 business dates with runs (SPEC section 8).

    .venv/bin/python -m bench.bench_evaluator [--datasets 500] [--days 7] [--ticks 3]

Loads `--datasets` scheduled datasets (registered a month ago) and, for each of the last
`--days` business dates, a run: mostly success, some failed, some still processing without
progress (stuck and late), some dates without any run (missing), some dates with two runs (a
rerun). Then times evaluator ticks on DynamoDB Local (in memory, loopback):

- the first tick (opens every episode: one TransactWriteItems each),
- steady ticks (nothing changes: the cost of every later minute),
- a steady tick with the automatic reconcile off (budget 0) to separate its reads.

For each: wall time, DynamoDB requests by operation, and items read (Query ScannedCount +
GetItem/BatchGetItem items). The target is reads in proportion to datasets x dates, never to
runs or files: the per-(dataset, date) figure is printed beside a run with twice the runs per date."""

from __future__ import annotations

import argparse
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bench._common import bench_engine, summary_line, table


class ReadCounter:
    """Requests per operation and items read, from every response of a client."""

    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()
        self.items = 0

    def hook(self, parsed: dict[str, Any] | None = None, model: Any = None, **_: Any) -> None:
        name = getattr(model, "name", "?")
        self.operations[name] += 1
        if not parsed:
            return
        if name == "Query":
            self.items += int(parsed.get("ScannedCount", parsed.get("Count", 0)))
        elif name == "GetItem":
            self.items += 1 if parsed.get("Item") else 0
        elif name == "BatchGetItem":
            self.items += sum(len(v) for v in (parsed.get("Responses") or {}).values())

    def reset(self) -> None:
        self.operations.clear()
        self.items = 0


def load(p: Any, datasets: int, days: int, now: datetime, runs_per_date: int) -> dict[str, int]:
    """The registry and the runs; returns how many of each kind were written."""
    from dataplatform.pipeline.datasets import DatasetConfig
    from dataplatform.pipeline.models import Run
    from dataplatform.pipeline.states import RunStatus

    configs = [
        DatasetConfig.model_validate({
            "datasetName": f"bench-{i:04d}", "locations": ["s3://bench/{dataset}/{businessDate}.csv"],
            "schedule": {"weekdays": [0, 1, 2, 3, 4, 5, 6], "expectedBy": "01:00", "dueBy": "02:00",
                         "stuckAfterMinutes": 120},
        })
        for i in range(datasets)
    ]
    registered = now - timedelta(days=30)
    for config in configs:
        p.datasets.register(config.dataset_name, registered)
    p.datasets.put_many(configs)
    kinds: Counter[str] = Counter()
    items: list[dict[str, Any]] = []
    today = now.date()
    for i, config in enumerate(configs):
        for offset in range(days):
            day = today - timedelta(days=offset)
            slot = (i * days + offset) % 50
            if slot == 0:
                kinds["missing date"] += 1
                continue
            status = (RunStatus.FAILED if slot == 1 else RunStatus.PROCESSING if slot == 2 else RunStatus.SUCCESS)
            created = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(minutes=30)
            for copy in range(runs_per_date):
                kinds[f"run {status.value}"] += 1
                run = Run.model_validate({
                    "runId": f"{config.dataset_name}-{day:%Y%m%d}-{copy}-{uuid.uuid4().hex[:8]}",
                    "datasetName": config.dataset_name, "businessDate": day.isoformat(), "status": status,
                    "createdAt": created + timedelta(minutes=copy), "updatedAt": created + timedelta(minutes=copy + 20),
                    "resolvedFiles": 4, "processedFiles": 4 if status is RunStatus.SUCCESS else 2,
                    "failedFiles": 2 if status is RunStatus.FAILED else 0,
                })
                items.append(run.to_item())
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(p.runs.table.batch_put, [items[s : s + 500] for s in range(0, len(items), 500)]))
    return dict(kinds)


def measure(p: Any, counter: ReadCounter, now: datetime, *, budget: int | None = None) -> dict[str, Any]:
    from dataplatform.pipeline.evaluator import evaluate

    counter.reset()
    started = time.perf_counter()
    result = evaluate(p, now=now, reconcile_budget=budget)
    elapsed = (time.perf_counter() - started) * 1000
    return {"ms": elapsed, "requests": sum(counter.operations.values()), "ops": dict(counter.operations),
            "items": counter.items, "opened": len(result.opened), "reconciled": len(result.reconciled)}


def run_once(datasets: int, days: int, ticks: int, runs_per_date: int) -> list[list[Any]]:
    from dataplatform.pipeline.app import Pipeline
    from dataplatform.pipeline.config import PipelineConfig

    rows: list[list[Any]] = []
    with bench_engine() as (engine, _tmp):
        suffix = uuid.uuid4().hex[:8]
        config = PipelineConfig(
            run_table=f"Run-{suffix}", file_table=f"File-{suffix}", dataset_table=f"Dataset-{suffix}",
            audit_table=f"Audit-{suffix}", alert_table=f"Alert-{suffix}", notification_table=f"Notif-{suffix}",
            channel_table=f"Channel-{suffix}", endpoint_url=engine.endpoint_url, region="us-east-1",
        )
        p = Pipeline(config)
        p.sync_tables()
        now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        kinds = load(p, datasets, days, now, runs_per_date)
        counter = ReadCounter()
        p.client.meta.events.register("after-call.dynamodb", counter.hook, unique_id="bench-evaluator")
        cells = datasets * days
        label = f"{datasets} x {days}, {runs_per_date} run(s)/date"
        print(f"loaded {label}: {kinds}")
        first = measure(p, counter, now)
        rows.append([label, "first tick (opens)", f"{first['ms']:.0f}", first["requests"], first["items"],
                     f"{first['items'] / cells:.2f}", first["opened"], _ops(first["ops"])])
        steady = [measure(p, counter, now + timedelta(minutes=1 + n)) for n in range(ticks)]
        best = min(steady, key=lambda r: r["ms"])
        rows.append([label, f"steady tick (best of {ticks})", f"{best['ms']:.0f}", best["requests"], best["items"],
                     f"{best['items'] / cells:.2f}", best["opened"], _ops(best["ops"])])
        quiet = measure(p, counter, now + timedelta(minutes=10), budget=0)
        rows.append([label, "steady, reconcile off", f"{quiet['ms']:.0f}", quiet["requests"], quiet["items"],
                     f"{quiet['items'] / cells:.2f}", quiet["opened"], _ops(quiet["ops"])])
    return rows


def _ops(ops: dict[str, int]) -> str:
    return " ".join(f"{name}:{n}" for name, n in sorted(ops.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=500)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--ticks", type=int, default=3)
    args = parser.parse_args()
    rows = run_once(args.datasets, args.days, args.ticks, 1) + run_once(args.datasets, args.days, 1, 2)
    print(table(["load", "tick", "ms", "requests", "items read", "items/(dataset x date)", "opened", "requests by op"],
                rows))
    steady = rows[1]
    summary_line(
        f"evaluator tick, {args.datasets} datasets x {args.days} dates: steady {steady[2]} ms, {steady[3]} requests, "
        f"{steady[4]} items read ({steady[5]} per dataset x date; doubling the runs per date: {rows[-2][5]})"
    )


if __name__ == "__main__":
    main()
