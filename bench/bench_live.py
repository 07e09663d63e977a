"""DynamoDB requests and items per view and per poll of the main pages (issue 13), and polls per
minute per open page.

    .venv/bin/python -m bench.bench_live [--in-flight 50]

Loads the demo data (with its 10,000-file run) into a private DynamoDB Local, adds
`--in-flight` dispatched runs on one business date, then calls each page the way a browser
does (full page, then its live poll) and counts every DynamoDB call the request made (the
core's per-request metrics) and the items DynamoDB returned (a hook on the client). Targets
(issue 13): the run API and a run page poll of the 10,000-file run <= 2 requests; a runs page
poll with 50 in-flight rows = 1 request."""

from __future__ import annotations

import argparse
import threading
from dataclasses import dataclass, field
from typing import Any

from bench._common import (
    bench_engine,
    load_demo_data,
    make_user,
    pipeline_from_settings,
    setup_django,
    summary_line,
    table,
    verdict,
)


@dataclass
class ItemCounter:
    """Items DynamoDB returned to the app's client (Query Items, GetItem Item, BatchGetItem
    Responses), while `active`."""

    items: int = 0
    active: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, parsed: dict[str, Any] | None = None, **_: Any) -> None:
        if not self.active or not parsed:
            return
        found = len(parsed.get("Items", [])) + (1 if parsed.get("Item") else 0)
        found += sum(len(v) for v in parsed.get("Responses", {}).values())
        with self._lock:
            self.items += found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--in-flight", type=int, default=50, help="dispatched runs on the runs page")
    args = parser.parse_args()

    with bench_engine() as (engine, tmp):
        setup_django(engine, tmp)
        from django.conf import settings
        from django.test import Client

        from dataplatform.pipeline import metrics, services
        from dataplatform.pipeline.dynamo import Update

        p = pipeline_from_settings()
        demo = load_demo_data(p)
        big = demo.big_run_id
        actor = services.Actor("bench", roles=("pipeline",))
        day = "2031-01-06"
        for i in range(args.in_flight):
            services.run_trigger(p, request={"datasetName": f"bench-live-{i:03d}", "businessDate": day,
                                             "files": [f"s3://bench/{i}/a.csv"]}, actor=actor)
        p.dispatcher.drain()  # type: ignore[attr-defined]
        counter = ItemCounter()
        p.client.meta.events.register("after-call.dynamodb", counter.hook)
        user, token = make_user("bench-viewer", "viewer")
        page = Client()
        page.force_login(user)
        api = Client(HTTP_AUTHORIZATION=f"Token {token}")
        htmx = {"HTTP_HX_REQUEST": "true"}
        p.runs.catalog.indexes()  # described once per process, not per request

        def measure(call: Any) -> tuple[int, int, dict[str, int]]:
            counter.items, counter.active = 0, True
            with metrics.scope() as scope:
                response = call()
            counter.active = False
            assert response.status_code in (200, 204, 302), response.status_code
            return scope.calls, counter.items, dict(scope.operations)

        rows: list[list[Any]] = []
        results: dict[str, int] = {}

        def row(name: str, call: Any) -> None:
            calls, items, ops = measure(call)
            results[name] = calls
            rows.append([name, calls, items, ", ".join(f"{k} {v}" for k, v in sorted(ops.items()))])

        row("runs page, no filter (50 rows)", lambda: page.get("/runs/"))
        row("runs page, businessDate only", lambda: page.get(f"/runs/?businessDate={day}"))
        row("runs page, environment only", lambda: page.get("/runs/?environment=staging"))
        row("runs page, status only", lambda: page.get("/runs/?status=success"))
        # The poll exactly as the page sends it: its poller URL plus the in-flight rows' inputs.
        listed = page.get(f"/runs/?businessDate={day}").content.decode()
        poller = listed.split('id="runs-live"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
        shown = [chunk.split('"')[0] for chunk in listed.split('name="live" value="')[1:]]
        assert len(shown) == min(args.in_flight, 50), len(shown)
        first = page.get(poller + "".join(f"&live={i}" for i in shown), HTTP_HX_TARGET="runs-live", **htmx)
        if first.status_code == 200:  # the first poll learns the runs head: the page's poller URL moves
            text = first.content.decode()
            poller = text.split('id="runs-live"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
        poll = poller + "".join(f"&live={i}" for i in shown)
        row(f"runs page poll, {args.in_flight} in-flight rows", lambda: page.get(poll, HTTP_HX_TARGET="runs-live",
                                                                                **htmx))
        row("run API, 10,000-file run", lambda: api.get(f"/api/v1/runs/{big}/"))
        row("run API ?exact=true, 10,000-file run", lambda: api.get(f"/api/v1/runs/{big}/?exact=true"))
        row("run page, 10,000-file run (full)", lambda: page.get(f"/runs/{big}/"))
        probe = services.run_trigger(p, request={"datasetName": "bench-probe", "businessDate": day,
                                                 "files": [f"s3://bench/probe/{i}.csv" for i in range(10_000)]},
                                     actor=actor).run.run_id
        p.dispatcher.drain()  # type: ignore[attr-defined]
        body = page.get(f"/runs/{probe}/").content.decode()
        live_url = body.split('id="run-live"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
        row("run page poll, 10,000-file run in flight, nothing changed",
            lambda: page.get(live_url, HTTP_HX_TARGET="run-live", **htmx))
        p.runs.update(probe, Update(add_values={"pendingFiles": -1, "fetchedFiles": 1}))  # a worker reports
        row("run page poll, 10,000-file run, after a worker report",
            lambda: page.get(live_url, HTTP_HX_TARGET="run-live", **htmx))
        row("datasets page", lambda: page.get("/datasets/"))
        row("search, exact run id", lambda: page.get(f"/search/?q={big}"))

        print(table(["view or poll", "DynamoDB requests", "items returned", "operations"], rows))
        per_minute = 60 / float(settings.POLL_INTERVAL_SECONDS)
        print(f"\nPolls per minute per open page: {per_minute:g} (one request per "
              f"POLL_INTERVAL_SECONDS={settings.POLL_INTERVAL_SECONDS:g}), whatever the number of rows; "
              "none from a hidden tab; a run page stops polling once its run has ended and been shown.")
        api_ok = results["run API, 10,000-file run"] <= 2
        poll_ok = results["run page poll, 10,000-file run, after a worker report"] <= 2
        rows_ok = results[f"runs page poll, {args.in_flight} in-flight rows"] == 1
        summary_line(
            f"run API {results['run API, 10,000-file run']} request(s) ({verdict(api_ok)}); run page poll "
            f"{results['run page poll, 10,000-file run, after a worker report']} ({verdict(poll_ok)}); runs page "
            f"poll with {args.in_flight} in-flight rows {results[f'runs page poll, {args.in_flight} in-flight rows']}"
            f" ({verdict(rows_ok)}); {per_minute:g} polls/min per open page"
        )
        return 0 if api_ok and poll_ok and rows_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
