"""Dashboard views through the Django test client, on DynamoDB Local."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from dataplatform.pipeline.app import Pipeline

pytestmark = [pytest.mark.django_db, pytest.mark.ddb_local]


def html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def test_datasets_index_and_calendar(operator_client: Client, pipeline: Pipeline) -> None:
    from dataplatform.pipeline.datasets import parse_dataset

    # Registered weeks ago: its recent days are expected (a fresh registration skips history).
    pipeline.datasets.register("equities", datetime.now(UTC) - timedelta(days=60))
    pipeline.datasets.put(parse_dataset({
        "datasetName": "equities", "locations": ["s3://bucket-x/{dataset}/{businessDate}.csv"],
        "schedule": {"weekdays": [0, 1, 2, 3, 4, 5, 6], "dueBy": "00:00"}, "description": "End-of-day equities",
    }))
    index = html(operator_client.get("/datasets/"))
    assert 'href="/datasets/equities/"' in index
    calendar = operator_client.get("/datasets/equities/?days=10")
    body = html(calendar)
    assert calendar.status_code == 200
    assert "End-of-day equities" in body
    assert "s3://bucket-x/{dataset}/{businessDate}.csv" in body
    assert "due 00:00 UTC" in body
    assert body.count("day-missing") >= 9
    assert "Missing" in body
    assert "/runs/?datasetName=equities&amp;businessDate=" in body
    bad = operator_client.get("/datasets/equities/?days=abc")
    assert bad.status_code == 200
    assert "days must be a whole number" in html(bad)
    assert operator_client.get("/datasets/unknown/").status_code == 404


def test_datasets_page_shows_each_environment_side_by_side(operator_client: Client, pipeline: Pipeline) -> None:
    from dataplatform.pipeline.datasets import parse_dataset
    from tests.web.factories import make_run

    pipeline.datasets.put(parse_dataset({
        "datasetName": "rates", "environment": "prod", "locations": ["s3://bucket-x/{dataset}/{businessDate}.csv"],
        "schedule": {"weekdays": [0, 1, 2, 3, 4, 5, 6], "dueBy": "23:59"},
    }))
    from dataplatform.pipeline.timeutil import utc_now

    today = utc_now().date().isoformat()
    make_run(pipeline, dataset="rates", business_date=today, files=1, done=1)  # a prod run (the registry's)
    body = html(operator_client.get("/datasets/"))
    row = body.split('href="/datasets/rates/"')[1].split("</tr>")[0]
    assert row.count('class="strip"') == 2  # staging and prod side by side
    assert row.count('class="strip-day') == 28  # the last 14 business dates of each
    prod = row.split('tag-prod">prod</span>')[1]
    assert "badge-met" in prod.split("</a>")[0]  # today's state in prod
    # The schedule is prod's: staging has no expectations, so no staging day is missing.
    staging_strip = row.split('tag-staging">staging</span>')[1].split('</ol>')[0]
    assert staging_strip.count("strip-day day-skipped") == 14, staging_strip
    assert "scheduled in prod only" in staging_strip
    staging = html(operator_client.get("/datasets/rates/?environment=staging"))
    assert "in staging" in staging
    assert "day day-met" not in staging  # the prod run is not staging's
    assert "run missing" not in staging  # nothing is expected in staging: no day is a missing run
    assert "not expected by the schedule" in staging
    assert "day day-met" in html(operator_client.get("/datasets/rates/"))


def test_calendar_colours_days_by_expectation_state_per_environment(
    operator_client: Client, pipeline: Pipeline
) -> None:
    from dataplatform.pipeline.datasets import parse_dataset

    pipeline.datasets.register("rates", datetime.now(UTC) - timedelta(days=3))
    pipeline.datasets.put(parse_dataset({
        "datasetName": "rates", "locations": ["s3://bucket-x/{dataset}/{businessDate}.csv"],
        "schedule": {"weekdays": [0, 1, 2, 3, 4, 5, 6], "dueBy": "00:00"},
    }))
    body = html(operator_client.get("/datasets/rates/?days=7"))
    assert "Expectations in staging" in body
    assert body.count('class="day day-missing day-expected"') >= 2
    assert "before registration" in body  # older days are skipped, with the reason
    prod = html(operator_client.get("/datasets/rates/?days=7&environment=prod"))
    assert "scheduled in staging only" in prod
    assert "day-missing" not in prod
    unknown = html(operator_client.get("/datasets/rates/?environment=dev"))  # a message, not an error page
    assert "environment must be staging or prod." in unknown
    assert "Expectations in staging" in unknown  # the registry's environment instead


def test_calendar_shows_the_schedule_in_the_datasets_timezone(operator_client: Client, pipeline: Pipeline) -> None:
    from dataplatform.pipeline.datasets import parse_dataset

    pipeline.datasets.put(parse_dataset({
        "datasetName": "bonds", "locations": ["s3://bucket-x/{dataset}/{businessDate}.csv"],
        "schedule": {"timezone": "America/New_York", "weekdays": [0, 1, 2, 3, 4], "dueBy": "17:00"},
    }))
    body = html(operator_client.get("/datasets/bonds/"))
    assert "due 17:00 America/New_York" in body
    assert "17:00 UTC" not in body  # the due time is New York's, not UTC


def test_calendar_counts_days_in_the_words_its_cells_use(operator_client: Client, pipeline: Pipeline) -> None:
    from dataplatform.pipeline.datasets import parse_dataset

    pipeline.datasets.register("rates", datetime.now(UTC) - timedelta(days=3))
    pipeline.datasets.put(parse_dataset({
        "datasetName": "rates", "locations": ["s3://bucket-x/{dataset}/{businessDate}.csv"],
        "schedule": {"weekdays": [0, 1, 2, 3, 4, 5, 6], "dueBy": "00:00"},
    }))
    body = html(operator_client.get("/datasets/rates/?days=7"))
    summary = body.split('class="summary"')[1].split("</p>")[0]
    assert "In these 7 days:" in summary
    assert "Skipped</span> \N{MULTIPLICATION SIGN} " in summary  # days before registration, as the cells say
    assert "Missing</span> \N{MULTIPLICATION SIGN} " in summary
    assert "No run" not in summary  # a run status the cells never show


def test_schedules_say_next_day_deadlines_calendars_and_holidays(operator_client: Client, pipeline: Pipeline) -> None:
    from dataplatform.pipeline.datasets import parse_dataset

    pipeline.datasets.put(parse_dataset({
        "datasetName": "ratings", "locations": ["s3://bucket-x/{dataset}/{businessDate}.csv"],
        "schedule": {"weekdays": [0, 1, 2, 3, 4], "dueBy": "06:00", "dueDayOffset": 1, "holidays": "US"},
    }))
    pipeline.datasets.put(parse_dataset({
        "datasetName": "stocks", "locations": ["s3://bucket-x/{dataset}/{businessDate}.csv"],
        "schedule": {"timezone": "America/New_York", "calendar": "XNYS", "dueBy": "18:00"},
    }))
    index = html(operator_client.get("/datasets/"))
    assert "Mon Tue Wed Thu Fri (not on US holidays) · due 06:00 next day UTC" in index
    assert "Mon Tue Wed Thu Fri (XNYS open) · due 18:00 America/New_York" in index
    assert "due 06:00 next day UTC" in html(operator_client.get("/datasets/ratings/"))
