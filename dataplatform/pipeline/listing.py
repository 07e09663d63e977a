"""Complete run lists for every filter combination, newest first, without a Scan.

A list is ordered by (createdAt, runId), newest first. A filter combination is answered from
one or more *sources*: partitions of an index, each either ordered by createdAt (a GSI with
RANGE createdAt: read newest first and stop early) or unordered (read every page of the
partition, then sort). The filters a source's key does not cover become a FilterExpression.
Several sources (e.g. one per environment, or one per status on tables that only have the
platform's indexes) are merged newest first.

Cursors carry the position of a page's last run (its createdAt and runId), signed and bound to
the filters: they stay valid whichever indexes answer the next page."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .cursor import CursorCodec
from .dynamo import Expr, Page, Table, deserialize, error_code, load_each, readable
from .errors import InvalidCursor
from .models import Environment, Run
from .schema import (
    RUN_DATASET_CREATED_INDEX,
    RUN_DATASET_INDEX,
    RUN_DATE_CREATED_INDEX,
    RUN_ENVIRONMENT_CREATED_INDEX,
    RUN_STATUS_CREATED_INDEX,
    RUN_STATUS_INDEX,
)
from .states import RunStatus

# How long a process trusts what DescribeTable said about a table's indexes (a new index
# becomes usable this long after sync_tables added it, without a restart).
INDEX_CACHE_SECONDS = 300.0
# Items a filtered Query evaluates per call: DynamoDB applies Limit before the filter, so a
# selective filter with a small Limit would cost many round trips for one page.
FILTERED_READ_LIMIT = 500

_ATTRIBUTES = {
    "dataset_name": "datasetName",
    "business_date": "businessDate",
    "status": "status",
    "environment": "environment",
}


@dataclass(frozen=True)
class RunFilters:
    """What a run list is narrowed to (None: any)."""

    dataset_name: str | None = None
    business_date: str | None = None
    status: RunStatus | None = None
    environment: Environment | None = None

    def values(self) -> dict[str, str]:
        """The given filters as attribute name -> stored value."""
        out: dict[str, str] = {}
        for field_name, attribute in _ATTRIBUTES.items():
            value = getattr(self, field_name)
            if value is not None and value != "":
                out[attribute] = str(getattr(value, "value", value))
        return out


@dataclass(frozen=True)
class Position:
    """A place in the newest-first order: pages start strictly after the previous page's last run."""

    created_at: str
    run_id: str

    def after(self, item: dict[str, Any]) -> bool:
        """True when `item` comes after this position (is older, or as old with a smaller id)."""
        return order_key(item) < (self.created_at, self.run_id)


def order_key(item: dict[str, Any]) -> tuple[str, str]:
    """The sort key of the newest-first order, on the stored strings (as the indexes sort them)."""
    return str(item.get("createdAt", "")), str(item.get("runId", ""))


@dataclass(frozen=True)
class Source:
    """One index partition: `key` (attribute -> value) is its key condition; `ordered` says
    its sort key is createdAt."""

    index: str
    key: tuple[tuple[str, str], ...]
    ordered: bool


class IndexCatalog:
    """The ACTIVE indexes a table really has (DescribeTable), cached per process."""

    def __init__(
        self, table: Table, *, ttl: float = INDEX_CACHE_SECONDS,
        assumed: dict[str, tuple[str, str | None]] | None = None,
    ) -> None:
        self.table = table
        self.ttl = ttl
        # What to assume when the role may not describe the table: the indexes sync_tables makes.
        self.assumed = assumed or {}
        self._lock = threading.Lock()
        self._indexes: dict[str, tuple[str, str | None]] | None = None
        self._read_at = 0.0

    def indexes(self) -> dict[str, tuple[str, str | None]]:
        """Index name -> (hash key, range key or None), ACTIVE indexes only."""
        with self._lock:
            if self._indexes is not None and time.monotonic() - self._read_at < self.ttl:
                return self._indexes
        try:
            described = self.table.call("describe_table")["Table"]
        except ClientError as exc:
            if error_code(exc) not in {"AccessDeniedException", "UnrecognizedOperation"}:
                raise
            described = {"GlobalSecondaryIndexes": [
                {"IndexName": name, "KeySchema": [{"AttributeName": h, "KeyType": "HASH"}]
                 + ([{"AttributeName": r, "KeyType": "RANGE"}] if r else [])}
                for name, (h, r) in self.assumed.items()
            ]}
        found: dict[str, tuple[str, str | None]] = {}
        for index in described.get("GlobalSecondaryIndexes", []):
            if index.get("IndexStatus", "ACTIVE") != "ACTIVE" or index.get("Backfilling"):
                continue
            keys = {k["KeyType"]: k["AttributeName"] for k in index.get("KeySchema", [])}
            found[index["IndexName"]] = (keys.get("HASH", ""), keys.get("RANGE"))
        with self._lock:
            self._indexes, self._read_at = found, time.monotonic()
        return found

    def forget(self) -> None:
        """Read the indexes again on next use (after an index vanished or appeared)."""
        with self._lock:
            self._indexes = None


def plan_sources(filters: RunFilters, indexes: dict[str, tuple[str, str | None]]) -> list[Source]:
    """The partitions that answer `filters`, most selective first choice, given the indexes."""

    def has(name: str, hash_key: str, range_key: str | None) -> bool:
        return indexes.get(name) == (hash_key, range_key)

    wanted = filters.values()
    dataset, day = wanted.get("datasetName"), wanted.get("businessDate")
    status, env = wanted.get("status"), wanted.get("environment")
    status_index = None
    if has(RUN_STATUS_INDEX, "status", "createdAt"):
        status_index = RUN_STATUS_INDEX
    elif has(RUN_STATUS_CREATED_INDEX, "status", "createdAt"):
        status_index = RUN_STATUS_CREATED_INDEX
    if dataset and day and has(RUN_DATASET_INDEX, "datasetName", "businessDate"):
        # One dataset on one date: a handful of runs, read whole and sorted.
        return [Source(RUN_DATASET_INDEX, (("datasetName", dataset), ("businessDate", day)), ordered=False)]
    if dataset and has(RUN_DATASET_CREATED_INDEX, "datasetName", "createdAt"):
        return [Source(RUN_DATASET_CREATED_INDEX, (("datasetName", dataset),), ordered=True)]
    if dataset and has(RUN_DATASET_INDEX, "datasetName", "businessDate"):
        return [Source(RUN_DATASET_INDEX, (("datasetName", dataset),), ordered=False)]
    if day and has(RUN_DATE_CREATED_INDEX, "businessDate", "createdAt"):
        return [Source(RUN_DATE_CREATED_INDEX, (("businessDate", day),), ordered=True)]
    if status and status_index:
        return [Source(status_index, (("status", status),), ordered=True)]
    if env and has(RUN_ENVIRONMENT_CREATED_INDEX, "environment", "createdAt"):
        return [Source(RUN_ENVIRONMENT_CREATED_INDEX, (("environment", env),), ordered=True)]
    if not (status or day) and has(RUN_ENVIRONMENT_CREATED_INDEX, "environment", "createdAt"):
        # No filter: every run has an environment, so its partitions together are every run.
        return [
            Source(RUN_ENVIRONMENT_CREATED_INDEX, (("environment", e.value),), ordered=True) for e in Environment
        ]
    # Only the platform's own indexes: a status partition, or every status merged.
    statuses = [status] if status else [s.value for s in RunStatus]
    if status_index:
        return [Source(status_index, (("status", s),), ordered=True) for s in statuses]
    if RUN_STATUS_INDEX in indexes and indexes[RUN_STATUS_INDEX][0] == "status":
        return [Source(RUN_STATUS_INDEX, (("status", s),), ordered=False) for s in statuses]
    raise LookupError("RunTable has neither a status index nor a datasetName index to list runs from")


def _request(source: Source, filters: RunFilters, start: Position | None, limit: int | None) -> dict[str, Any]:
    expr = Expr()
    keyed = dict(source.key)
    conditions = [f"{expr.name(a)} = {expr.value(v)}" for a, v in source.key]
    if source.ordered and start is not None:
        # Everything at or before the position in time; ties are sorted out in memory.
        conditions.append(f"{expr.name('createdAt')} <= {expr.value(start.created_at)}")
    request: dict[str, Any] = {
        "IndexName": source.index,
        "KeyConditionExpression": " AND ".join(conditions),
        "ScanIndexForward": False,
    }
    rest = [f"{expr.name(a)} = {expr.value(v)}" for a, v in filters.values().items() if a not in keyed]
    if rest:
        request["FilterExpression"] = " AND ".join(rest)
    if limit is not None:
        request["Limit"] = limit
    request.update(expr.kwargs())
    return request


def read_source(
    table: Table, source: Source, filters: RunFilters, start: Position | None, need: int
) -> list[dict[str, Any]]:
    """The `need` newest items of `source` after `start` (all of them if fewer), sorted newest
    first, plus at least one more when more exist. An ordered source stops reading once every
    item that could sort before its `need`-th has been read; an unordered one is read to its end."""
    filtered = len(filters.values()) > len(source.key)
    kept: list[dict[str, Any]] = []
    last_key: dict[str, Any] | None = None
    while True:
        limit = None
        if source.ordered:
            # need + 1 (the item that says more exist) + 1 when resuming: the run at the position
            # itself comes back from `createdAt <= position` and is dropped.
            limit = FILTERED_READ_LIMIT if filtered else max(need + 1 - len(kept), 1) + (1 if start else 0)
        request = _request(source, filters, start, limit)
        if last_key:
            request["ExclusiveStartKey"] = last_key
        response = table.call("query", **request)
        for raw in response.get("Items", []):
            item = deserialize(raw)
            if start is None or start.after(item):
                kept.append(item)
        last_key = response.get("LastEvaluatedKey")
        if not last_key:
            break
        if source.ordered and len(kept) > need:
            kept.sort(key=order_key, reverse=True)
            # Every item newer than the last one evaluated has been read, so the top `need` are
            # final once the need-th is strictly newer than it (an equal createdAt may follow).
            evaluated = str(deserialize(last_key).get("createdAt", ""))
            if str(kept[need - 1].get("createdAt", "")) > evaluated:
                break
    kept.sort(key=order_key, reverse=True)
    return kept


class RunLister:
    """Pages of runs for any RunFilters, newest first (see the module docstring)."""

    def __init__(self, table: Table, codec: CursorCodec, catalog: IndexCatalog, *, reads: Any = None) -> None:
        self.table = table
        self.codec = codec
        self.catalog = catalog
        # A TaskPool (or None): the sources of one page are read at once.
        self.reads = reads

    def query_id(self, filters: RunFilters) -> str:
        return self.codec.query_id("runs", table=self.table.name, **filters.values())

    def page(
        self, filters: RunFilters, *, limit: int, cursor: str | None, load: Callable[[dict[str, Any]], Run]
    ) -> Page[Run]:
        """Up to `limit` runs after the cursor's position; a cursor only when more exist."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query_id = self.query_id(filters)
        start = self._start(cursor, query_id) if cursor else None
        sources = plan_sources(filters, self.catalog.indexes())
        items = self._merged(sources, filters, start, limit)
        more = len(items) > limit
        items = items[:limit]
        next_cursor = None
        if more:
            created_at, run_id = order_key(items[-1])
            next_cursor = self.codec.encode(query_id, {"createdAt": created_at, "runId": run_id})
        loaded, left_out = load_each(items, load)
        return Page(items=loaded, cursor=next_cursor, unreadable=left_out)

    def newer(
        self, filters: RunFilters, *, than: Position | None, limit: int, load: Callable[[dict[str, Any]], Run]
    ) -> list[Run]:
        """The newest runs (at most `limit`) that come before `than` in the order: runs created
        since a page was shown."""
        sources = plan_sources(filters, self.catalog.indexes())
        items = self._merged(sources, filters, None, limit)[:limit]
        if than is not None:
            items = [i for i in items if order_key(i) > (than.created_at, than.run_id)]
        return list(readable(items, load))

    def _merged(
        self, sources: Sequence[Source], filters: RunFilters, start: Position | None, need: int
    ) -> list[dict[str, Any]]:
        """The `need` newest items over all sources, and one more when more exist."""

        def read(source: Source) -> list[dict[str, Any]]:
            return read_source(self.table, source, filters, start, need)

        if self.reads is not None and len(sources) > 1:
            parts: list[list[dict[str, Any]]] = self.reads.map(read, list(sources))
        else:
            parts = [read(s) for s in sources]
        seen: dict[str, dict[str, Any]] = {}
        for part in parts:
            for item in part:
                seen.setdefault(str(item.get("runId")), item)
        return sorted(seen.values(), key=order_key, reverse=True)[: need + 1]

    def _start(self, cursor: str, query_id: str) -> Position:
        key = self.codec.decode(cursor, query_id)
        created_at, run_id = key.get("createdAt"), key.get("runId")
        if not isinstance(created_at, str) or not isinstance(run_id, str):
            raise InvalidCursor("The page cursor is malformed.")
        return Position(created_at, run_id)
