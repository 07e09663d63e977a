"""The schema sync is additive and idempotent against the real local engine."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.engine import LocalDynalite
from dataplatform.pipeline.schema import FILE_RUN_STATUS_INDEX, SchemaError, sync_tables, table_specs
from dataplatform.web import wiring

from ..conftest import unique_config


def _indexes(pipeline: Pipeline, table: str) -> dict[str, list[dict[str, str]]]:
    described = pipeline.client.describe_table(TableName=table)["Table"]
    return {i["IndexName"]: i["KeySchema"] for i in described.get("GlobalSecondaryIndexes", [])}


def test_second_sync_changes_nothing(dynalite_server: LocalDynalite) -> None:
    pipeline = Pipeline(unique_config(endpoint_url=dynalite_server.endpoint_url))
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
    }
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


def test_sync_adds_missing_indexes_to_an_existing_table_without_touching_items(moto_pipeline: Pipeline) -> None:
    pipeline = Pipeline(unique_config(), client=moto_pipeline.client)
    _legacy_file_table(pipeline)
    changes = sync_tables(pipeline.client, pipeline.config)
    assert f"created index {FILE_RUN_STATUS_INDEX} on {pipeline.config.file_table}" in changes
    assert "datasetName-status-index" in _indexes(pipeline, pipeline.config.file_table)
    assert pipeline.client.get_item(TableName=pipeline.config.file_table, Key={"fileId": {"S": "keep"}})["Item"]
    assert sync_tables(pipeline.client, pipeline.config) == []


def test_engine_that_cannot_add_an_index_gets_a_clear_error(dynalite_server: LocalDynalite) -> None:
    pipeline = Pipeline(unique_config(endpoint_url=dynalite_server.endpoint_url))
    _legacy_file_table(pipeline)
    with pytest.raises(SchemaError, match="did not create index"):
        sync_tables(pipeline.client, pipeline.config)


@pytest.mark.django_db
def test_sync_tables_command_is_idempotent(dynalite_server: LocalDynalite, settings: object) -> None:
    settings.PIPELINE_CONFIG = unique_config(endpoint_url=dynalite_server.endpoint_url)  # type: ignore[attr-defined]
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
