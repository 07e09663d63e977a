"""The schema sync is additive and idempotent, on DynamoDB Local (and moto where said)."""

from __future__ import annotations

import logging
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.engine import DynamoDBLocal
from dataplatform.pipeline.schema import (
    FILE_RUN_STATUS_INDEX,
    RUN_DATASET_CREATED_INDEX,
    RUN_DATE_CREATED_INDEX,
    RUN_ENVIRONMENT_CREATED_INDEX,
    RUN_STATUS_CREATED_INDEX,
    sync_tables,
    table_specs,
)
from dataplatform.web import wiring

from ..conftest import unique_config


def _indexes(pipeline: Pipeline, table: str) -> dict[str, list[dict[str, str]]]:
    described = pipeline.client.describe_table(TableName=table)["Table"]
    return {i["IndexName"]: i["KeySchema"] for i in described.get("GlobalSecondaryIndexes", [])}


def test_second_sync_changes_nothing(ddb_local_server: DynamoDBLocal) -> None:
    pipeline = Pipeline(unique_config(endpoint_url=ddb_local_server.endpoint_url))
    first = pipeline.sync_tables()
    assert len(first) == len(table_specs(pipeline.config))
    before = {s.name: pipeline.client.describe_table(TableName=s.name)["Table"] for s in table_specs(pipeline.config)}
    assert pipeline.sync_tables() == []
    after = {s.name: pipeline.client.describe_table(TableName=s.name)["Table"] for s in table_specs(pipeline.config)}
    for name in before:
        assert before[name]["KeySchema"] == after[name]["KeySchema"]
        assert before[name].get("GlobalSecondaryIndexes") == after[name].get("GlobalSecondaryIndexes")
    assert _indexes(pipeline, pipeline.config.run_table) == {
        "datasetName-businessDate-index": [
            {"AttributeName": "datasetName", "KeyType": "HASH"},
            {"AttributeName": "businessDate", "KeyType": "RANGE"},
        ],
        "status-index": [
            {"AttributeName": "status", "KeyType": "HASH"},
            {"AttributeName": "createdAt", "KeyType": "RANGE"},
        ],
        **{
            f"{name}-createdAt-index": [
                {"AttributeName": name, "KeyType": "HASH"},
                {"AttributeName": "createdAt", "KeyType": "RANGE"},
            ]
            for name in ("datasetName", "businessDate", "environment")
        },
    }  # status-createdAt-index only stands in for a status-index without createdAt
    assert set(_indexes(pipeline, pipeline.config.file_table)) == {
        "runId-index", "datasetName-status-index", FILE_RUN_STATUS_INDEX,
    }


def _legacy_file_table(pipeline: Pipeline) -> None:
    # An existing FileTable with only the indexes the platform already had.
    pipeline.client.create_table(
        TableName=pipeline.config.file_table,
        KeySchema=[{"AttributeName": "fileId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "fileId", "AttributeType": "S"},
            {"AttributeName": "runId", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {"IndexName": "runId-index", "KeySchema": [{"AttributeName": "runId", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"},
             "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}},
        ],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    pipeline.client.put_item(TableName=pipeline.config.file_table, Item={"fileId": {"S": "keep"}, "runId": {"S": "r"}})


def test_sync_adds_missing_indexes_to_an_existing_table_without_touching_items(any_pipeline: Pipeline) -> None:
    pipeline = Pipeline(unique_config(endpoint_url=any_pipeline.config.endpoint_url), client=any_pipeline.client)
    _legacy_file_table(pipeline)
    updates: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: object) -> None:
        updates.append(params)

    events = pipeline.client.meta.events
    events.register("before-parameter-build.dynamodb.UpdateTable", record)
    try:
        changes = sync_tables(pipeline.client, pipeline.config)
    finally:
        events.unregister("before-parameter-build.dynamodb.UpdateTable", record)
    file_table = pipeline.config.file_table
    assert [c for c in changes if "index" in c] == [
        f"created index datasetName-status-index on {file_table}",
        f"created index {FILE_RUN_STATUS_INDEX} on {file_table}",
    ]
    # DynamoDB takes one index per UpdateTable.
    assert [len(u["GlobalSecondaryIndexUpdates"]) for u in updates] == [1, 1]
    described = pipeline.client.describe_table(TableName=file_table)["Table"]
    assert {i["IndexName"]: i["IndexStatus"] for i in described["GlobalSecondaryIndexes"]} == {
        "runId-index": "ACTIVE", "datasetName-status-index": "ACTIVE", FILE_RUN_STATUS_INDEX: "ACTIVE",
    }
    assert pipeline.client.get_item(TableName=file_table, Key={"fileId": {"S": "keep"}})["Item"]
    assert sync_tables(pipeline.client, pipeline.config) == []


def _seed_tables(pipeline: Pipeline) -> None:
    # The platform's tables exactly as SPEC section 1 describes them (status-index: HASH status only).
    def index(name: str, *keys: str) -> dict[str, Any]:
        schema = [{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ("HASH", "RANGE"), strict=False)]
        return {"IndexName": name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}}

    def attributes(*names: str) -> list[dict[str, str]]:
        return [{"AttributeName": n, "AttributeType": "S"} for n in names]

    client, config = pipeline.client, pipeline.config
    client.create_table(
        TableName=config.run_table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "runId", "KeyType": "HASH"}],
        AttributeDefinitions=attributes("runId", "datasetName", "businessDate", "status"),
        GlobalSecondaryIndexes=[
            index("datasetName-businessDate-index", "datasetName", "businessDate"), index("status-index", "status"),
        ],
    )
    client.create_table(
        TableName=config.file_table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "fileId", "KeyType": "HASH"}],
        AttributeDefinitions=attributes("fileId", "runId", "datasetName", "status"),
        GlobalSecondaryIndexes=[
            index("runId-index", "runId"), index("datasetName-status-index", "datasetName", "status"),
        ],
    )
    client.put_item(TableName=config.run_table, Item={"runId": {"S": "kept"}, "status": {"S": "pending"}})


def test_sync_on_the_seed_tables_adds_the_missing_index_and_a_second_run_changes_nothing(
    ddb_local_server: DynamoDBLocal, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = Pipeline(unique_config(endpoint_url=ddb_local_server.endpoint_url))
    _seed_tables(pipeline)
    with caplog.at_level(logging.WARNING, logger="dataplatform.schema"):
        changes = pipeline.sync_tables()
    config = pipeline.config
    assert changes == [
        *(f"created index {name} on {config.run_table}" for name in (
            RUN_DATASET_CREATED_INDEX, RUN_DATE_CREATED_INDEX, RUN_ENVIRONMENT_CREATED_INDEX, RUN_STATUS_CREATED_INDEX,
        )),
        f"created index {FILE_RUN_STATUS_INDEX} on {config.file_table}",
    ] + [f"created table {spec.name}" for spec in table_specs(config)[2:]]
    # The platform's status-index has no createdAt: the ordered one is added under a new name.
    assert _indexes(pipeline, config.run_table)[RUN_STATUS_CREATED_INDEX] == [
        {"AttributeName": "status", "KeyType": "HASH"}, {"AttributeName": "createdAt", "KeyType": "RANGE"},
    ]
    assert set(_indexes(pipeline, config.file_table)) == {
        "runId-index", "datasetName-status-index", FILE_RUN_STATUS_INDEX,
    }
    # An existing index with another key schema is reported, never changed or dropped.
    assert _indexes(pipeline, config.run_table)["status-index"] == [{"AttributeName": "status", "KeyType": "HASH"}]
    assert [r.getMessage() for r in caplog.records] == [
        f"index status-index on table {config.run_table} has key schema [HASH status], not [HASH status, "
        "RANGE createdAt]; kept as it is (sync never changes or drops an existing index)"
    ]
    before = {n: pipeline.client.describe_table(TableName=n)["Table"] for n in (config.run_table, config.file_table)}
    assert pipeline.sync_tables() == []
    for name, table in before.items():
        after = pipeline.client.describe_table(TableName=name)["Table"]
        assert after["GlobalSecondaryIndexes"] == table["GlobalSecondaryIndexes"]
        assert after["AttributeDefinitions"] == table["AttributeDefinitions"]
    assert pipeline.client.get_item(TableName=config.run_table, Key={"runId": {"S": "kept"}})["Item"]


@pytest.mark.django_db
def test_sync_tables_command_is_idempotent(ddb_local_server: DynamoDBLocal, settings: object) -> None:
    settings.PIPELINE_CONFIG = unique_config(endpoint_url=ddb_local_server.endpoint_url)  # type: ignore[attr-defined]
    wiring.reset()
    try:
        out = StringIO()
        call_command("sync_tables", stdout=out)
        assert f"{len(table_specs(settings.PIPELINE_CONFIG))} change(s)" in out.getvalue()  # type: ignore[attr-defined]
        out = StringIO()
        call_command("sync_tables", stdout=out)
        assert "tables up to date" in out.getvalue()
    finally:
        wiring.reset()
