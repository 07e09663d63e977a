"""Files of a 10,000-file run: first-page cost, and failed-files listing cost vs failed files.

    .venv/bin/python -m bench.bench_files [--files 10000] [--n 30]

1. On the demo's 10,000-file run: DynamoDB requests (and items read) of the files API first
   page (target <= 2), the run page (target <= 2: stored counters; its exact-counts section
   loads in its own request), that section, the status poll, and the run API detail (SPEC:
   exact per-status counts computed from FileTable), and their server time.
2. Two runs of `--files` files with 1 % and 10 % failed: list the failed files through
   /api/v1/runs/<id>/files/?status=failed, following `next` to the end; print requests and
   items read per failed file (target: proportional to the failed files, not to the run).
   Items read = ScannedCount of each Query response (comparable on every engine),
   counted by a botocore after-call hook on the app's client. For contrast the same listing
   without runId-status-index (the documented fallback: runId-index + FilterExpression)."""

from __future__ import annotations

import argparse
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench._common import (
    QueryItems,
    bench_engine,
    dynamo_calls,
    load_demo_data,
    make_user,
    median_ms,
    pipeline_from_settings,
    setup_django,
    summary_line,
    table,
    verdict,
)


def build_run(p: Any, n: int, failed: int) -> str:
    """A processing run of `n` files, `failed` of them failed, the rest preprocessed."""
    from dataplatform.pipeline.models import FileRecord, Run
    from dataplatform.pipeline.states import FileStatus, RunStatus
    from dataplatform.pipeline.timeutil import utc_now

    run_id = f"bench-files-{uuid.uuid4().hex[:10]}"
    now = utc_now()
    step = n // failed if failed else n + 1
    records = [
        FileRecord.model_validate({
            "fileId": f"{run_id}-{i:05d}", "runId": run_id, "datasetName": "bench-files",
            "businessDate": "2026-01-05", "location": f"s3://bench-bucket/part-{i:05d}.csv",
            "status": FileStatus.FAILED if failed and i % step == 0 and i // step < failed else FileStatus.PREPROCESSED,
            "lastUpdated": now, "fileSize": 1000 + i, "checksum": f"sha256:{i:064x}",
            **({"error": {"stage": "fetch", "code": "Timeout", "message": "Read timed out"}}
               if failed and i % step == 0 and i // step < failed else {}),
        })
        for i in range(n)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(p.files.put_batch, [records[s : s + 500] for s in range(0, n, 500)]))
    p.runs.create(Run.model_validate({
        "runId": run_id, "datasetName": "bench-files", "businessDate": "2026-01-05", "createdAt": now,
        "status": RunStatus.PROCESSING, "resolvedFiles": n, "failedFiles": failed,
        "preprocessedFiles": n - failed,
    }))
    return run_id


def list_failed(client: Any, run_id: str, limit: int, counter: QueryItems) -> tuple[int, int, int, int, float]:
    """Follow `next` to the end: (files listed, HTTP pages, DynamoDB requests, items read, seconds)."""
    from dataplatform.pipeline import metrics

    counter.reset()
    counter.active = True
    url: str | None = f"/api/v1/runs/{run_id}/files/?status=failed&limit={limit}"
    listed = pages = calls = 0
    started = time.perf_counter()
    while url:
        metrics.start()
        response = client.get(url)
        assert response.status_code == 200, (response.status_code, response.content[:200])
        stats = metrics.current()
        calls += stats.calls if stats else 0
        body = response.json()
        assert all(f["status"] == "failed" for f in body["results"])
        listed += len(body["results"])
        pages += 1
        url = body["next"]
    seconds = time.perf_counter() - started
    counter.active = False
    return listed, pages, calls, counter.scanned, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=30, help="timed calls per first-page target (median)")
    args = parser.parse_args()

    with bench_engine() as (engine, tmp):
        setup_django(engine, tmp)
        from django.test import Client

        p = pipeline_from_settings()
        demo = load_demo_data(p)
        big = demo.big_run_id
        counter = QueryItems().attach(p.client)
        operator, _ = make_user("bench-operator", "operator", password="bench-password-123")  # noqa: S106
        _, token = make_user("bench-viewer", "viewer")
        page_client = Client()
        page_client.force_login(operator)
        api = Client(HTTP_AUTHORIZATION=f"Token {token}")

        first_page: list[list[Any]] = []
        poll = {"HX-Request": "true", "HX-Target": "run-status"}
        exact = {"HX-Request": "true", "HX-Target": "run-exact"}
        targets: list[tuple[str, Any, str, dict[str, str]]] = [
            ("files API, first page", api, f"/api/v1/runs/{big}/files/", {}),
            ("files API, first page, status=failed", api, f"/api/v1/runs/{big}/files/?status=failed", {}),
            ("run API detail (exact counts)", api, f"/api/v1/runs/{big}/", {}),
            ("run page /runs/<id>/", page_client, f"/runs/{big}/", {}),
            ("run page status poll (htmx, every 5 s)", page_client, f"/runs/{big}/", poll),
            ("run page exact-counts section (htmx, once)", page_client, f"/runs/{big}/", exact),
        ]
        results: dict[str, tuple[int, int, float]] = {}
        for name, client, url, headers in targets:

            def get(client: Any = client, url: str = url, headers: dict[str, str] = headers) -> None:
                response = client.get(url, headers=headers)
                assert response.status_code == 200, (url, response.status_code)

            counter.reset()
            counter.active = True
            _, calls, ops = dynamo_calls(get)
            counter.active = False
            ms = median_ms(get, args.n, warmup=2)
            results[name] = (calls, counter.scanned, ms)
            target = verdict(calls <= 2) if name.startswith("files API") else "(report)"
            first_page.append([name, calls, ", ".join(f"{k} {v}" for k, v in sorted(ops.items())),
                               counter.scanned, f"{ms:.1f}", target])

        built = {}
        started = time.perf_counter()
        for share in (0.01, 0.10):
            built[share] = build_run(p, args.files, round(args.files * share))
        build_s = time.perf_counter() - started

        listing: list[list[Any]] = []
        proportional = True
        for share, run_id in built.items():
            failed = round(args.files * share)
            for limit in (50, 500):
                listed, pages, calls, scanned, seconds = list_failed(api, run_id, limit, counter)
                assert listed == failed, (listed, failed)
                proportional &= scanned <= failed + limit
                listing.append([f"{share:.0%} ({failed})", limit, "runId-status-index", pages, calls, scanned,
                                f"{scanned / failed:.2f}", f"{seconds * 1000:.0f}"])
            # Contrast: the documented fallback for tables without runId-status-index.
            p.files.has_run_status_index = False
            try:
                listed, pages, calls, scanned, seconds = list_failed(api, run_id, 500, counter)
            finally:
                p.files.has_run_status_index = True
            assert listed == failed, (listed, failed)
            listing.append([f"{share:.0%} ({failed})", 500, "fallback: runId-index+filter", pages, calls, scanned,
                            f"{scanned / failed:.2f}", f"{seconds * 1000:.0f}"])

    print(f"\nA. demo 10,000-file run {big} ({args.n} calls per target, median)")
    print(table(["target", "DynamoDB req", "operations", "items read", "ms/call", "target <=2 req"], first_page))
    page_calls, page_items, _ = results["run page /runs/<id>/"]
    poll_calls, poll_items, _ = results["run page status poll (htmx, every 5 s)"]
    exact_calls, exact_items, _ = results["run page exact-counts section (htmx, once)"]
    print(f"   The run page reads the run and its first files page ({page_calls} req); exact per-status counts")
    print(f"   (every file item read, {exact_items} items in {exact_calls} req) load once in their own htmx request;")
    print(f"   the status poll reads only the run item ({poll_calls} req). The run API detail returns exact")
    print("   fileCounts (SPEC section 4), so it reads every file of the run.")
    print(f"\nB. failed files of a {args.files}-file run via the files API, following `next` "
          f"(runs built in {build_s:.1f} s)")
    print(table(["failed", "limit", "index", "HTTP pages", "DynamoDB req", "items read", "read/failed", "ms total"],
                listing))
    print(f"   proportional to failed files (items read <= failed + one page): {verdict(proportional)}")
    files_calls = results["files API, first page"][0]
    failed_rows = [row for row in listing if row[2] == "runId-status-index" and row[1] == 50]
    summary_line(f"files of the 10,000-file run: files API first page {files_calls} DynamoDB req; run page "
                 f"{page_calls} req / {page_items} items read; its 5 s status poll {poll_calls} req / "
                 f"{poll_items} items; exact counts on demand {exact_calls} req / {exact_items} items")
    summary_line("failed-files listing (limit 50, follow next): " + "; ".join(
        f"{row[0]} failed -> {row[4]} req, {row[5]} items read ({row[6]}/failed file)" for row in failed_rows
    ) + f"; without the status index {listing[2][5]} items read")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
