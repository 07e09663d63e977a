"""Runs page and runs API as served by `bin/run`'s server (gunicorn, gunicorn.conf.py, DEBUG off)
over HTTP keep-alive, vs the raw boto3 Query for the same items.

    .venv/bin/python -m bench.bench_served [--n 200]

Unlike bench_runs_page (the WSGI app called in-process), this includes gunicorn: the socket,
HTTP parsing, a gthread worker. One client, one keep-alive connection per target, requests
in sequence, interleaved with the floor so a disturbance of the shared machine hits all alike."""

from __future__ import annotations

import argparse
import http.client
import statistics
from urllib.parse import urlsplit

from bench._common import (
    bench_engine,
    interleaved_ms,
    load_demo_data,
    make_user,
    pipeline_from_settings,
    served_by_gunicorn,
    setup_django,
    summary_line,
    table,
)

PAGE_SIZE = 50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="timed calls per target (median reported)")
    parser.add_argument("--dataset", default="bond-prices")
    args = parser.parse_args()

    with bench_engine() as (engine, tmp):
        setup_django(engine, tmp)
        import boto3
        from django.conf import settings
        from django.db import connections
        from django.test import Client

        from dataplatform.pipeline.schema import RUN_DATASET_INDEX

        p = pipeline_from_settings()
        load_demo_data(p)
        config = p.config
        day = max(r.business_date for r in p.runs.by_dataset(args.dataset, limit=50).items).isoformat()
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

        operator, _ = make_user("bench-operator", "operator", password="bench-password-123")  # noqa: S106
        _, token = make_user("bench-viewer", "viewer")
        # A signed-in session stored where gunicorn's workers read it (the same SQLite file).
        login = Client()
        login.force_login(operator)
        session_key = login.cookies[settings.SESSION_COOKIE_NAME].value
        connections.close_all()

        with served_by_gunicorn(engine, tmp) as base:
            host = urlsplit(base).netloc

            def getter(path: str, headers: dict[str, str]) -> tuple[http.client.HTTPConnection, object]:
                connection = http.client.HTTPConnection(host, timeout=30)

                def get() -> None:
                    connection.request("GET", path, headers=headers)
                    response = connection.getresponse()
                    body = response.read()
                    assert response.status == 200, (response.status, body[:200])

                return connection, get

            page_conn, page = getter(f"/runs/?datasetName={args.dataset}&businessDate={day}",
                                     {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}"})
            api_conn, api = getter(f"/api/v1/runs/?datasetName={args.dataset}&businessDate={day}",
                                   {"Authorization": f"Token {token}"})
            try:
                samples = interleaved_ms({"floor": lambda: raw.query(**request), "page": page, "api": api}, args.n)
            finally:
                page_conn.close()
                api_conn.close()
        floor, page_ms, api_ms = (statistics.median(samples[name]) for name in ("floor", "page", "api"))

    print(f"\nruns of {args.dataset} on {day}: {len(items)} items; gunicorn as bin/run starts it; "
          f"{args.n} calls per target, interleaved, medians")
    rows = [
        ["raw boto3 query (floor)", f"{floor:.2f}", "-", "1.00x"],
        ["GET /runs/ (page, session) via gunicorn", f"{page_ms:.2f}", f"+{page_ms - floor:.2f}",
         f"{page_ms / floor:.2f}x"],
        ["GET /api/v1/runs/ (token) via gunicorn", f"{api_ms:.2f}", f"+{api_ms - floor:.2f}",
         f"{api_ms / floor:.2f}x"],
    ]
    print(table(["target", "ms/call", "added ms", "vs floor"], rows))
    summary_line(f"served by gunicorn (bin/run): floor {floor:.2f} ms; page {page_ms:.2f} ms = "
                 f"{page_ms / floor:.2f}x; API {api_ms:.2f} ms = {api_ms / floor:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
