"""Dataset registry: validation, DynamoDB round trip and paging, location resolution, schedule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import (
    DatasetConfig,
    expected_dates,
    is_overdue,
    parse_dataset,
    parse_dataset_documents,
    resolve_locations,
)
from dataplatform.pipeline.dynamo import serialize
from dataplatform.pipeline.errors import InvalidCursor, NotFound, ValidationFailed


def make_config(name: str = "equities-eod", **overrides: Any) -> DatasetConfig:
    data: dict[str, Any] = {
        "datasetName": name,
        "environment": "prod",
        "description": "test dataset",
        "locations": ["s3://market-data/{dataset}/{businessDate}/part-{part:03d}.csv"],
        "parts": 3,
        "schedule": {"weekdays": [0, 1, 2, 3, 4], "dueBy": "22:00"},
    }
    data.update(overrides)
    return parse_dataset(data)


def test_registry_round_trip_keeps_every_field(any_pipeline: Pipeline) -> None:
    config = make_config(
        s3Prefix="s3://market-data/extra/{yyyymmdd}/", locations=["https://x.example.com/{yyyymmdd}-{part}.csv"]
    )
    any_pipeline.datasets.put(config)
    assert any_pipeline.datasets.get("equities-eod") == config


def test_put_replaces_an_existing_dataset(moto_pipeline: Pipeline) -> None:
    moto_pipeline.datasets.put(make_config(description="old"))
    moto_pipeline.datasets.put(make_config(description="new"))
    assert moto_pipeline.datasets.get("equities-eod").description == "new"
    assert len(moto_pipeline.datasets.all()) == 1


def test_unknown_dataset_is_not_found(moto_pipeline: Pipeline) -> None:
    with pytest.raises(NotFound):
        moto_pipeline.datasets.get("nope")


def test_stored_items_with_unknown_attributes_still_load(moto_pipeline: Pipeline) -> None:
    item = make_config().to_item()
    item["ownerTeam"] = "market-data"
    item["schedule"]["timezone"] = "UTC"
    moto_pipeline.datasets.table.call("put_item", Item=serialize(item))
    assert moto_pipeline.datasets.get("equities-eod").parts == 3


def test_list_pages_through_every_dataset_once_in_name_order(any_pipeline: Pipeline) -> None:
    names = [f"ds-{i:02d}" for i in range(11)]
    for name in reversed(names):
        any_pipeline.datasets.put(make_config(name))
    seen: list[str] = []
    page = any_pipeline.datasets.list(limit=4)
    pages = 1
    seen += [c.dataset_name for c in page.items]
    while page.cursor:
        page = any_pipeline.datasets.list(limit=4, cursor=page.cursor)
        pages += 1
        seen += [c.dataset_name for c in page.items]
    assert seen == names
    assert pages == 3


def test_list_refuses_a_cursor_from_another_query(moto_pipeline: Pipeline) -> None:
    for i in range(3):
        moto_pipeline.datasets.put(make_config(f"ds-{i}"))
    cursor = moto_pipeline.datasets.list(limit=1).cursor
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        moto_pipeline.files.by_run("r", limit=1, cursor=cursor)
    with pytest.raises(InvalidCursor):
        moto_pipeline.datasets.list(limit=1, cursor=cursor[:-2] + "xx")


def test_templates_expand_parts_and_every_placeholder() -> None:
    config = make_config(
        locations=[
            "s3://market-data/{dataset}/{businessDate}/part-{part:03d}.csv",
            "https://vendor.example.com/{yyyy}/{mm}/{dd}/{yyyymmdd}.json",
        ],
        parts=3,
    )
    assert resolve_locations(config, date(2024, 3, 8)) == [
        "s3://market-data/equities-eod/2024-03-08/part-001.csv",
        "s3://market-data/equities-eod/2024-03-08/part-002.csv",
        "s3://market-data/equities-eod/2024-03-08/part-003.csv",
        "https://vendor.example.com/2024/03/08/20240308.json",
    ]
    assert resolve_locations(config, "2024-03-08") == resolve_locations(config, date(2024, 3, 8))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"datasetName": "bad name"}, "datasetName"),
        ({"datasetName": ""}, "datasetName"),
        ({"locations": ["s3://b/{unknown}"]}, "locations"),
        ({"locations": ["s3://bucket/{dataset.__class__}"]}, "locations"),
        ({"locations": ["s3://bucket/{part!r}"]}, "locations"),
        ({"locations": ["s3://bucket/{part:x}"]}, "locations"),
        ({"locations": ["s3://bucket/{businessDate:>20}"]}, "locations"),
        ({"locations": ["ftp://bucket/{businessDate}"]}, "locations"),
        ({"locations": ["s3://bucket/{"]}, "locations"),
        ({"locations": [], "s3Prefix": None}, "__root__"),
        ({"locations": ["s3://bucket/one.csv"], "parts": 2}, "__root__"),
        ({"parts": 0}, "parts"),
        ({"parts": "3"}, "parts"),
        ({"s3Prefix": "https://not-s3/{businessDate}/"}, "s3Prefix"),
        ({"s3Prefix": "s3://bucket/{part}/"}, "s3Prefix"),
        ({"schedule": {"weekdays": [7], "dueBy": "10:00"}}, "schedule.weekdays"),
        ({"schedule": {"weekdays": [1, 1], "dueBy": "10:00"}}, "schedule.weekdays"),
        ({"schedule": {"weekdays": [1], "dueBy": "24:00"}}, "schedule.dueBy"),
        ({"schedule": {"weekdays": [1], "dueBy": "9:00"}}, "schedule.dueBy"),
        ({"environment": "dev"}, "environment"),
        ({"owner": "someone"}, "owner"),
    ],
)
def test_bad_dataset_configs_are_refused_with_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        make_config(**overrides)
    assert field in info.value.fields


def test_document_validation_reports_every_problem_and_duplicates() -> None:
    good = make_config().model_dump(by_alias=True)
    bad = dict(good, datasetName="also bad")
    with pytest.raises(ValidationFailed) as info:
        parse_dataset_documents({"datasets": [good, bad, good, "not an object"]})
    fields = info.value.fields
    assert "datasets[1] (also bad).datasetName" in fields
    assert "datasets[2] (equities-eod).datasetName" in fields  # the duplicate
    assert "datasets[3]" in fields
    assert [c.dataset_name for c in parse_dataset_documents([good])] == ["equities-eod"]


@pytest.mark.parametrize("document", [[], {}, {"datasets": []}, "text", {"other": []}])
def test_document_must_be_a_non_empty_list(document: Any) -> None:
    with pytest.raises(ValidationFailed):
        parse_dataset_documents(document)


@pytest.fixture
def s3() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="landing")
        yield client


def test_s3_prefix_lists_every_page_beyond_1000_objects(s3: Any) -> None:
    for i in range(1_203):
        s3.put_object(Bucket="landing", Key=f"bonds/20240308/file-{i:05d}.csv", Body=b"x")
    s3.put_object(Bucket="landing", Key="bonds/20240308/", Body=b"")  # a folder marker, not a file
    s3.put_object(Bucket="landing", Key="bonds/20240307/other.csv", Body=b"x")  # another date
    calls: list[dict[str, Any]] = []
    s3.meta.events.register("before-parameter-build.s3.ListObjectsV2", lambda params, **_: calls.append(params))
    config = make_config(
        "bonds", locations=["s3://landing/manifest/{businessDate}.json"], parts=1,
        s3Prefix="s3://landing/{dataset}/{yyyymmdd}/",
    )
    locations = resolve_locations(config, date(2024, 3, 8), s3_client=s3)
    assert locations[0] == "s3://landing/manifest/2024-03-08.json"
    listed = locations[1:]
    assert len(listed) == 1_203
    assert len(set(listed)) == 1_203
    assert all(loc.startswith("s3://landing/bonds/20240308/file-") for loc in listed)
    assert len(calls) == 2  # 1000 + 203: the continuation token was followed


def test_s3_prefix_on_a_missing_bucket_is_not_found(s3: Any) -> None:
    config = make_config("bonds", locations=[], parts=1, s3Prefix="s3://no-such-bucket/{businessDate}/")
    with pytest.raises(NotFound):
        resolve_locations(config, date(2024, 3, 8), s3_client=s3)


def test_duplicate_locations_collapse(s3: Any) -> None:
    s3.put_object(Bucket="landing", Key="eq/2024-03-08/a.csv", Body=b"x")
    config = make_config(
        locations=["s3://landing/eq/{businessDate}/a.csv"], parts=1, s3Prefix="s3://landing/eq/{businessDate}/"
    )
    assert resolve_locations(config, date(2024, 3, 8), s3_client=s3) == ["s3://landing/eq/2024-03-08/a.csv"]


def test_expected_dates_follow_the_weekday_schedule() -> None:
    weekdays = make_config()
    # 2024-03-04 is a Monday; the range covers two weekends.
    days = expected_dates(weekdays, date(2024, 3, 2), date(2024, 3, 17))
    assert days == [date(2024, 3, d) for d in (4, 5, 6, 7, 8, 11, 12, 13, 14, 15)]
    weekly = make_config(schedule={"weekdays": [0], "dueBy": "12:00"})
    assert expected_dates(weekly, date(2024, 3, 1), date(2024, 3, 31)) == [
        date(2024, 3, d) for d in (4, 11, 18, 25)
    ]
    assert expected_dates(make_config(schedule=None), date(2024, 3, 1), date(2024, 3, 31)) == []
    assert expected_dates(weekdays, date(2024, 3, 8), date(2024, 3, 7)) == []


def test_overdue_uses_due_time_and_day_offset_in_utc() -> None:
    config = make_config(schedule={"weekdays": [4], "dueBy": "06:30", "dueDayOffset": 1})
    friday = date(2024, 3, 8)
    assert not is_overdue(config, friday, datetime(2024, 3, 9, 6, 29, tzinfo=UTC))
    assert is_overdue(config, friday, datetime(2024, 3, 9, 6, 30, tzinfo=UTC))
    assert not is_overdue(config, date(2024, 3, 7), datetime(2030, 1, 1, tzinfo=UTC))  # Thursday: not expected


def test_names_come_from_a_projected_query_in_name_order(any_pipeline: Pipeline) -> None:
    for name in ("zeta-feed", "alpha-feed", "mid-feed"):
        any_pipeline.datasets.put(make_config(name))
    assert any_pipeline.datasets.names() == ["alpha-feed", "mid-feed", "zeta-feed"]
    assert any_pipeline.datasets.names() == [c.dataset_name for c in any_pipeline.datasets.all()]
