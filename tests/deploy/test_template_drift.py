"""`schema_diff` / `sync_tables --check`: every kind of drift is reported, nothing is changed."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.schema import (
    FILE_RUN_STATUS_INDEX,
    RUN_DATASET_CREATED_INDEX,
    RUN_DATE_CREATED_INDEX,
    RUN_ENVIRONMENT_CREATED_INDEX,
    RUN_STATUS_CREATED_INDEX,
    RUN_STATUS_INDEX,
    SchemaDifference,
    schema_diff,
    sync_tables,
    table_specs,
)
from dataplatform.web import wiring

from ..conftest import unique_config


def _describe_all(p: Pipeline) -> dict[str, Any]:
    names = set(p.client.list_tables()["TableNames"])
    return {
        s.name: p.client.describe_table(TableName=s.name)["Table"].get("GlobalSecondaryIndexes")
        for s in table_specs(p.config) if s.name in names
    }


def _index(name: str, keys: list[tuple[str, str]], projection: dict[str, Any]) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": a, "KeyType": t} for a, t in keys],
        "Projection": projection,
    }


def _create(p: Pipeline, table: str, key: str, attributes: list[str], indexes: list[dict[str, Any]]) -> None:
    p.client.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        GlobalSecondaryIndexes=indexes,
    )


@pytest.fixture
def fresh(moto_pipeline: Pipeline) -> Pipeline:
    """A Pipeline whose tables do not exist yet (same moto client)."""
    return Pipeline(unique_config(), client=moto_pipeline.client)


def test_tables_made_by_sync_tables_have_no_difference(moto_pipeline: Pipeline) -> None:
    assert schema_diff(moto_pipeline.client, moto_pipeline.config) == []


def test_missing_tables_are_reported_and_not_created(fresh: Pipeline) -> None:
    differences = schema_diff(fresh.client, fresh.config)
    assert {(d.table, d.problem) for d in differences} == {(s.name, "missing table") for s in table_specs(fresh.config)}
    assert _describe_all(fresh) == {}


def test_a_missing_index_is_reported_and_not_created(fresh: Pipeline) -> None:
    sync_tables(fresh.client, fresh.config)
    fresh.client.delete_table(TableName=fresh.config.file_table)
    _create(fresh, fresh.config.file_table, "fileId", ["fileId", "runId"],
            [_index("runId-index", [("runId", "HASH")], {"ProjectionType": "ALL"})])
    before = _describe_all(fresh)
    differences = schema_diff(fresh.client, fresh.config)
    assert [(d.index, d.problem) for d in differences] == [
        ("datasetName-status-index", "missing index"), (FILE_RUN_STATUS_INDEX, "missing index"),
    ]
    assert _describe_all(fresh) == before


def test_an_index_with_other_keys_or_projection_is_reported(fresh: Pipeline) -> None:
    sync_tables(fresh.client, fresh.config)
    fresh.client.delete_table(TableName=fresh.config.run_table)
    _create(
        fresh, fresh.config.run_table, "runId", ["runId", "datasetName", "businessDate", "status"],
        [
            _index("datasetName-businessDate-index", [("datasetName", "HASH"), ("businessDate", "RANGE")],
                   {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status"]}),
            _index(RUN_STATUS_INDEX, [("status", "HASH")], {"ProjectionType": "ALL"}),
        ],
    )
    differences = schema_diff(fresh.client, fresh.config)
    assert differences == [
        SchemaDifference(
            fresh.config.run_table, "datasetName-businessDate-index", "projection differs",
            ("ALL", ()), ("INCLUDE", ("status",)),
        ),
        # The platform's status-index (no createdAt) is accepted; the ordered stand-in is wanted.
        *(
            SchemaDifference(fresh.config.run_table, name, "missing index")
            for name in (RUN_DATASET_CREATED_INDEX, RUN_DATE_CREATED_INDEX, RUN_ENVIRONMENT_CREATED_INDEX,
                         RUN_STATUS_CREATED_INDEX)
        ),
    ]
    assert "projection differs" in str(differences[0])


def test_a_table_with_another_key_or_key_type_is_reported(fresh: Pipeline) -> None:
    sync_tables(fresh.client, fresh.config)
    fresh.client.delete_table(TableName=fresh.config.audit_table)
    fresh.client.create_table(
        TableName=fresh.config.audit_table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "targetId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "targetId", "AttributeType": "N"}],
    )
    problems = [d.problem for d in schema_diff(fresh.client, fresh.config)]
    assert problems == ["key schema differs", "attribute targetId type differs"]


def test_extra_indexes_and_tables_are_not_differences(fresh: Pipeline) -> None:
    sync_tables(fresh.client, fresh.config)
    fresh.client.update_table(
        TableName=fresh.config.dataset_table,
        AttributeDefinitions=[{"AttributeName": "owner", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": _index("owner-index", [("owner", "HASH")], {"ProjectionType": "ALL"})}],
    )
    assert schema_diff(fresh.client, fresh.config) == []


@pytest.mark.django_db
def test_check_command_exits_non_zero_on_drift_and_changes_nothing(fresh: Pipeline, settings: Any) -> None:
    settings.PIPELINE_CONFIG = fresh.config
    wiring.reset()
    try:
        err = StringIO()
        with pytest.raises(CommandError, match=r"\d+ schema difference\(s\); nothing was changed"):
            call_command("sync_tables", "--check", stdout=StringIO(), stderr=err)
        assert f"{fresh.config.run_table}: missing table" in err.getvalue()
        assert _describe_all(fresh) == {}
    finally:
        wiring.reset()
