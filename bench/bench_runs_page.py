"""Runs page and runs API for one dataset and date vs the raw boto3 query for the same items.

    .venv/bin/python -m bench.bench_runs_page [--n 200] [--rtt-ms 0]

Server time = one whole request through the project's WSGI application, called in-process
the way gunicorn calls it (middleware, session or token auth on SQLite, the core,
template/JSON rendering, the access log line, closing the response). The floor is
`client.query` on datasetName-businessDate-index with the same key and limit on a plain
boto3 client. Targets: <= 2x the floor, 1 DynamoDB request per page.

`--rtt-ms N` adds the same modelled network round trip (a sleep in botocore's before-send)
to the floor's client and to the app's client: loopback DynamoDB Local answers in ~2 ms, so the
fixed Django cost weighs more in the ratio than against an in-region DynamoDB."""

from __future__ import annotations

import argparse
import json
import statistics

from bench._common import (
    WsgiCaller,
    add_rtt,
    bench_engine,
    dynamo_calls,
    interleaved_ms,
    load_demo_data,
    make_user,
    pipeline_from_settings,
    setup_django,
    summary_line,
    table,
    verdict,
)

PAGE_SIZE = 50  # runs.views.PAGE_SIZE and the API's default limit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400, help="timed calls per target (median reported)")
    parser.add_argument("--dataset", default="bond-prices")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="modelled round trip per DynamoDB request")
    args = parser.parse_args()

    with bench_engine() as (engine, tmp):
        setup_django(engine, tmp)
        import boto3
        from django.test import Client

        from dataplatform.pipeline.schema import RUN_DATASET_INDEX

        p = pipeline_from_settings()
        load_demo_data(p)
        config = p.config
        # The newest business date of the dataset (bond-prices: the failed run + its 10,000-file rerun).
        newest = max(r.business_date for r in p.runs.by_dataset(args.dataset, limit=50).items)
        day = newest.isoformat()

        raw = boto3.session.Session().client(
            "dynamodb", endpoint_url=engine.endpoint_url, region_name=config.region,
            aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106
        )
        request = {
            "TableName": config.run_table,
            "IndexName": RUN_DATASET_INDEX,
            "KeyConditionExpression": "#d = :d AND #b = :b",
            "ExpressionAttributeNames": {"#d": "datasetName", "#b": "businessDate"},
            "ExpressionAttributeValues": {":d": {"S": args.dataset}, ":b": {"S": day}},
            "ScanIndexForward": False,
            "Limit": PAGE_SIZE,
        }
        items = raw.query(**request)["Items"]
        add_rtt(raw, args.rtt_ms)
        add_rtt(p.client, args.rtt_ms)

        operator, _ = make_user("bench-operator", "operator", password="bench-password-123")  # noqa: S106
        _, token = make_user("bench-viewer", "viewer")
        login = Client()
        login.force_login(operator)
        page_client = WsgiCaller.for_client(login)
        api_client = WsgiCaller(headers={"Authorization": f"Token {token}"})
        page_url = f"/runs/?datasetName={args.dataset}&businessDate={day}"
        api_url = f"/api/v1/runs/?datasetName={args.dataset}&businessDate={day}"

        def page() -> None:
            status, _ = page_client.get(page_url)
            assert status == 200, status

        def api() -> None:
            status, _ = api_client.get(api_url)
            assert status == 200, status

        status, content = api_client.get(api_url)
        body = json.loads(content)
        assert len(body["results"]) == len(items), (len(body["results"]), len(items))
        status, content = page_client.get(page_url)
        assert status == 200, status
        assert all(item["runId"]["S"].encode() in content for item in items)
        _, page_calls, page_ops = dynamo_calls(page)
        _, api_calls, api_ops = dynamo_calls(api)

        # Interleave the three targets in short blocks, so a disturbance of this shared machine
        # hits all of them alike; report the median of each.
        targets = {"floor": lambda: raw.query(**request), "page": page, "api": api}
        samples = interleaved_ms(targets, args.n)
        floor, page_ms, api_ms = (statistics.median(samples[name]) for name in ("floor", "page", "api"))
        elapsed = sum(sum(values) for values in samples.values()) / 1000

    network = f"modelled RTT {args.rtt_ms:g} ms" if args.rtt_ms else "raw loopback"
    print(f"\nruns of {args.dataset} on {day}: {len(items)} items; {network}; {args.n} calls per target, "
          f"in interleaved blocks of 20, medians ({elapsed:.1f} s)")
    rows = [
        ["raw boto3 query (floor)", f"{floor:.2f}", "-", "1.00x", 1, "-"],
        ["GET /runs/ (page, session)", f"{page_ms:.2f}", f"+{page_ms - floor:.2f}", f"{page_ms / floor:.2f}x",
         page_calls, verdict(page_ms / floor <= 2 and page_calls == 1)],
        ["GET /api/v1/runs/ (token)", f"{api_ms:.2f}", f"+{api_ms - floor:.2f}", f"{api_ms / floor:.2f}x",
         api_calls, verdict(api_ms / floor <= 2 and api_calls == 1)],
    ]
    print(table(["target", "ms/call", "added ms", "vs floor", "DynamoDB req", "<=2x, 1 req"], rows))
    print(f"operations: page {page_ops}, api {api_ops}")
    summary_line(f"runs page ({network}): floor {floor:.2f} ms; page {page_ms:.2f} ms = {page_ms / floor:.2f}x "
                 f"(+{page_ms - floor:.2f} ms), {page_calls} DynamoDB req; API {api_ms:.2f} ms = "
                 f"{api_ms / floor:.2f}x (+{api_ms - floor:.2f} ms), {api_calls} req")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
