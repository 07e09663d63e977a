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
# Ours: complete, newest-first run lists for every filter combination (listing.py). Each has
# RANGE createdAt, so a filter becomes one partition read newest first (no Scan, no sort).
RUN_DATASET_CREATED_INDEX = "datasetName-createdAt-index"
RUN_DATE_CREATED_INDEX = "businessDate-createdAt-index"
RUN_ENVIRONMENT_CREATED_INDEX = "environment-createdAt-index"
# Added only where the platform's `status-index` has no createdAt sort key (SPEC section 1):
# we never change an existing index, so the ordered one gets a new name.
RUN_STATUS_CREATED_INDEX = "status-createdAt-index"
FILE_RUN_INDEX = "runId-index"
FILE_DATASET_STATUS_INDEX = "datasetName-status-index"
# Ours: makes "files of a run in one status" a direct Query (failed files of a 10k-file run).
FILE_RUN_STATUS_INDEX = "runId-status-index"
# AlertTable (alerts.py): episodes by state / dataset / run, newest first. Guard, heartbeat and
# snapshot items carry none of these attributes, so they stay out of every index.
ALERT_STATE_INDEX = "state-openedAt-index"
ALERT_DATASET_INDEX = "datasetName-openedAt-index"
ALERT_RUN_INDEX = "runId-openedAt-index"
# NotificationTable: the outbox. Sparse: the sender removes deliveryState when it is done.
NOTIFICATION_DUE_INDEX = "deliveryState-dueAt-index"
NOTIFICATION_ALERT_INDEX = "alertId-createdAt-index"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: str
    range_key: str | None = None
    # Set on an index that only stands in for another one: it is added (by sync, or expected by
    # --check) only when that index exists with a key schema other than this one's.
    stands_in_for: str | None = None

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
            if index.name in keys:
                continue
            extra = (index.hash_key,) + ((index.range_key,) if index.range_key else ())
            keys[index.name] = tuple(dict.fromkeys(own + extra))
        return keys

    def key_schema(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key:
            schema.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        return schema

    def created_indexes(self) -> tuple[IndexSpec, ...]:
        """The indexes a new table is created with (stand-ins are not needed there)."""
        return tuple(i for i in self.indexes if i.stands_in_for is None)

    def wanted_indexes(self, present: dict[str, Any]) -> tuple[IndexSpec, ...]:
        """The indexes an existing table should have, given its live indexes (name -> description):
        a stand-in is wanted only when the index it stands in for has another key schema."""
        wanted = []
        by_name = {i.name: i for i in self.indexes}
        for index in self.indexes:
            if index.stands_in_for is not None:
                original, found = by_name.get(index.stands_in_for), present.get(index.stands_in_for)
                if original is None or found is None or found.get("KeySchema") == original.key_schema():
                    continue
            wanted.append(index)
        return tuple(wanted)


def table_specs(config: PipelineConfig) -> list[TableSpec]:
    return [
        TableSpec(
            config.run_table, "runId", None,
            (
                IndexSpec(RUN_DATASET_INDEX, "datasetName", "businessDate"),
                IndexSpec(RUN_STATUS_INDEX, "status", "createdAt"),
                IndexSpec(RUN_DATASET_CREATED_INDEX, "datasetName", "createdAt"),
                IndexSpec(RUN_DATE_CREATED_INDEX, "businessDate", "createdAt"),
                IndexSpec(RUN_ENVIRONMENT_CREATED_INDEX, "environment", "createdAt"),
                IndexSpec(RUN_STATUS_CREATED_INDEX, "status", "createdAt", stands_in_for=RUN_STATUS_INDEX),
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
        TableSpec(
            config.alert_table, "alertId", None,
            (
                IndexSpec(ALERT_STATE_INDEX, "state", "openedAt"),
                IndexSpec(ALERT_DATASET_INDEX, "datasetName", "openedAt"),
                IndexSpec(ALERT_RUN_INDEX, "runId", "openedAt"),
            ),
        ),
        TableSpec(
            config.notification_table, "notificationId", None,
            (
                IndexSpec(NOTIFICATION_DUE_INDEX, "deliveryState", "dueAt"),
                IndexSpec(NOTIFICATION_ALERT_INDEX, "alertId", "createdAt"),
            ),
        ),
        # Channels and silences: one partition each (pk "channel" / "silence"), listed by Query.
        TableSpec(config.channel_table, "pk", "sk", ()),
    ]


def run_table_spec(config: PipelineConfig) -> TableSpec:
    """RunTable's spec (its indexes are what a run list may use)."""
    return next(spec for spec in table_specs(config) if spec.name == config.run_table)


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
        for index in spec.wanted_indexes(present):
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
    if spec.created_indexes():
        request["GlobalSecondaryIndexes"] = [i.definition() for i in spec.created_indexes()]
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


@dataclass(frozen=True)
class SchemaDifference:
    """One way a live table differs from what the app expects (see schema_diff)."""

    table: str
    index: str | None
    problem: str
    expected: Any = None
    actual: Any = None

    def __str__(self) -> str:
        where = f"{self.table}" + (f" index {self.index}" if self.index else "")
        detail = f": expected {self.expected}, found {self.actual}" if self.expected is not None else ""
        return f"{where}: {self.problem}{detail}"


def _key_pairs(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def _projection(projection: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    # NonKeyAttributes order carries no meaning; compare them as a sorted tuple.
    return projection.get("ProjectionType", "ALL"), tuple(sorted(projection.get("NonKeyAttributes", [])))


def schema_diff(client: Any, config: PipelineConfig) -> list[SchemaDifference]:
    """Compare the live tables with table_specs(config) and return the differences; changes nothing.

    Reported: a missing table, a table key that differs, a key attribute of another type, a missing
    index, an index whose key schema or projection differs. Extra tables, indexes and attributes are
    not differences (the schema is additive; other tools may add their own)."""
    differences: list[SchemaDifference] = []
    for spec in table_specs(config):
        live = _describe(client, spec.name)
        if live is None:
            differences.append(SchemaDifference(spec.name, None, "missing table"))
        else:
            differences.extend(_table_diff(spec, live))
    return differences


def _table_diff(spec: TableSpec, live: dict[str, Any]) -> list[SchemaDifference]:
    out: list[SchemaDifference] = []
    wanted_keys, live_keys = _key_pairs(spec.key_schema()), _key_pairs(live.get("KeySchema", []))
    if wanted_keys != live_keys:
        out.append(SchemaDifference(spec.name, None, "key schema differs", wanted_keys, live_keys))
    types = {a["AttributeName"]: a["AttributeType"] for a in live.get("AttributeDefinitions", [])}
    for attribute in spec.attributes():
        name, wanted_type = attribute["AttributeName"], attribute["AttributeType"]
        if name in types and types[name] != wanted_type:
            out.append(SchemaDifference(spec.name, None, f"attribute {name} type differs", wanted_type, types[name]))
    live_indexes = {i["IndexName"]: i for i in live.get("GlobalSecondaryIndexes", [])}
    # An index with another key schema that a stand-in replaces (the platform's `status-index`
    # without createdAt) is not drift: the stand-in is wanted instead, reported if missing.
    stood_in = {i.stands_in_for for i in spec.indexes if i.stands_in_for is not None}
    for index in spec.wanted_indexes(live_indexes):
        expected = index.definition()
        found = live_indexes.get(index.name)
        if found is None:
            out.append(SchemaDifference(spec.name, index.name, "missing index"))
            continue
        wanted_keys, live_keys = _key_pairs(expected["KeySchema"]), _key_pairs(found.get("KeySchema", []))
        if wanted_keys != live_keys and index.name not in stood_in:
            out.append(SchemaDifference(spec.name, index.name, "key schema differs", wanted_keys, live_keys))
        wanted_projection = _projection(expected["Projection"])
        live_projection = _projection(found.get("Projection", {}))
        if wanted_projection != live_projection:
            out.append(
                SchemaDifference(spec.name, index.name, "projection differs", wanted_projection, live_projection)
            )
    return out
