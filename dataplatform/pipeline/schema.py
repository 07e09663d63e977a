"""Table and index definitions (SPEC section 1) and the additive, idempotent schema sync."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .config import PipelineConfig
from .dynamo import error_code

RUN_DATASET_INDEX = "datasetName-businessDate-index"
RUN_STATUS_INDEX = "status-index"
FILE_RUN_INDEX = "runId-index"
FILE_DATASET_STATUS_INDEX = "datasetName-status-index"
# Ours: makes "files of a run in one status" a direct Query (failed files of a 10k-file run).
FILE_RUN_STATUS_INDEX = "runId-status-index"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: str
    range_key: str | None = None

    def key_schema(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key:
            schema.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        return schema

    def definition(self) -> dict[str, Any]:
        return {"IndexName": self.name, "KeySchema": self.key_schema(), "Projection": {"ProjectionType": "ALL"}}


@dataclass(frozen=True)
class TableSpec:
    name: str
    hash_key: str
    range_key: str | None
    indexes: tuple[IndexSpec, ...]

    def attributes(self) -> list[dict[str, str]]:
        names = [self.hash_key] + ([self.range_key] if self.range_key else [])
        for index in self.indexes:
            names += [index.hash_key] + ([index.range_key] if index.range_key else [])
        return [{"AttributeName": n, "AttributeType": "S"} for n in dict.fromkeys(names)]

    def page_keys(self) -> dict[str | None, tuple[str, ...]]:
        """Attributes of an ExclusiveStartKey per index (None: the table itself)."""
        own = (self.hash_key,) + ((self.range_key,) if self.range_key else ())
        keys: dict[str | None, tuple[str, ...]] = {None: own}
        for index in self.indexes:
            extra = (index.hash_key,) + ((index.range_key,) if index.range_key else ())
            keys[index.name] = tuple(dict.fromkeys(own + extra))
        return keys

    def key_schema(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key:
            schema.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        return schema


def table_specs(config: PipelineConfig) -> list[TableSpec]:
    return [
        TableSpec(
            config.run_table, "runId", None,
            (
                IndexSpec(RUN_DATASET_INDEX, "datasetName", "businessDate"),
                IndexSpec(RUN_STATUS_INDEX, "status", "createdAt"),
            ),
        ),
        TableSpec(
            config.file_table, "fileId", None,
            (
                IndexSpec(FILE_RUN_INDEX, "runId"),
                IndexSpec(FILE_DATASET_STATUS_INDEX, "datasetName", "status"),
                IndexSpec(FILE_RUN_STATUS_INDEX, "runId", "status"),
            ),
        ),
        TableSpec(config.dataset_table, "pk", "datasetName", ()),
        TableSpec(config.audit_table, "targetId", "eventId", ()),
    ]


def page_keys(config: PipelineConfig, table_name: str) -> dict[str | None, tuple[str, ...]]:
    """The page keys of one of our tables (see TableSpec.page_keys)."""
    for spec in table_specs(config):
        if spec.name == table_name:
            return spec.page_keys()
    raise KeyError(table_name)


logger = logging.getLogger("dataplatform.schema")


def _describe(client: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(client.describe_table(TableName=name)["Table"])
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def _wait_active(client: Any, name: str, timeout: float, *, index: str | None = None) -> dict[str, Any]:
    """Wait until the table and every index on it are ACTIVE (and `index` exists); return it."""
    deadline = time.monotonic() + timeout
    while True:
        table = _describe(client, name)
        indexes = {i["IndexName"]: i for i in (table or {}).get("GlobalSecondaryIndexes", [])}
        if (
            table is not None
            and table.get("TableStatus") == "ACTIVE"
            and (index is None or index in indexes)
            and all(i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes.values())
        ):
            return table
        if time.monotonic() > deadline:
            what = f"index {index} on table {name}" if index else f"table {name}"
            raise TimeoutError(f"{what} did not become ACTIVE within {timeout:.0f}s")
        time.sleep(0.2)


def _schema_text(key_schema: list[dict[str, str]]) -> str:
    return ", ".join(f"{k['KeyType']} {k['AttributeName']}" for k in key_schema)


def sync_tables(client: Any, config: PipelineConfig, *, timeout: float = 600.0) -> list[str]:
    """Create missing tables and add missing indexes (one UpdateTable per index, as DynamoDB
    requires, each waited for until ACTIVE). Never drops or changes a table or an existing index:
    an index whose key schema differs from ours is kept as it is and logged as a warning.
    Idempotent and safe to run from several processes at once. Returns what changed."""
    changes: list[str] = []
    for spec in table_specs(config):
        existing = _describe(client, spec.name)
        if existing is None:
            if _create_table(client, spec):
                changes.append(f"created table {spec.name}")
            _wait_active(client, spec.name, timeout)
            continue
        present = {i["IndexName"]: i for i in existing.get("GlobalSecondaryIndexes", [])}
        for index in spec.indexes:
            found = present.get(index.name)
            if found is not None:
                if found["KeySchema"] != index.key_schema():
                    logger.warning(
                        "index %s on table %s has key schema [%s], not [%s]; kept as it is (sync never changes "
                        "or drops an existing index)",
                        index.name, spec.name, _schema_text(found["KeySchema"]), _schema_text(index.key_schema()),
                    )
                continue
            # DynamoDB refuses an index update while the table or another index is still changing.
            table = _wait_active(client, spec.name, timeout)
            if _create_index(client, spec, index, table):
                changes.append(f"created index {index.name} on {spec.name}")
            _wait_active(client, spec.name, timeout, index=index.name)
    return changes


def _create_table(client: Any, spec: TableSpec) -> bool:
    """CreateTable with every index; False when another process created it first."""
    request: dict[str, Any] = {
        "TableName": spec.name,
        "KeySchema": spec.key_schema(),
        "AttributeDefinitions": spec.attributes(),
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [i.definition() for i in spec.indexes]
    try:
        client.create_table(**request)
    except ClientError as exc:
        if error_code(exc) == "ResourceInUseException":
            return False
        raise
    return True


def _create_index(client: Any, spec: TableSpec, index: IndexSpec, table: dict[str, Any]) -> bool:
    """One UpdateTable that adds `index`; False when another process added it first."""
    wanted = {index.hash_key} | ({index.range_key} if index.range_key else set())
    attributes = [a for a in spec.attributes() if a["AttributeName"] in wanted]
    create: dict[str, Any] = index.definition()
    if table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") == "PROVISIONED":
        # A provisioned table's index needs its own capacity: start it at the table's.
        throughput = table.get("ProvisionedThroughput", {})
        create["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(throughput.get("ReadCapacityUnits") or 5),
            "WriteCapacityUnits": int(throughput.get("WriteCapacityUnits") or 5),
        }
    try:
        client.update_table(
            TableName=spec.name, AttributeDefinitions=attributes, GlobalSecondaryIndexUpdates=[{"Create": create}]
        )
    except ClientError:
        described = _describe(client, spec.name) or {}
        if index.name in {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])}:
            return False
        raise
    return True
