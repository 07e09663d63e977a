"""Thin adapter over the low-level DynamoDB client: (de)serialisation, error translation,
expression building from named parts, and paged queries that follow LastEvaluatedKey."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from .cursor import CursorCodec
from .errors import StoreUnavailable, UnreadableItem
from .models import to_dynamo

logger = logging.getLogger("dataplatform.pipeline")

T = TypeVar("T")

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
    }
)
CONDITION_FAILED = "ConditionalCheckFailedException"
# What Update.copy stores when the source attribute does not exist (a marker no token or status can be).
ABSENT = "-"


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(to_dynamo(v)) for k, v in item.items() if v is not None}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_condition_failure(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) == CONDITION_FAILED


@contextmanager
def unavailable_as_domain_error() -> Iterator[None]:
    """Throttling (after botocore's bounded retries), timeouts and a dead endpoint become
    StoreUnavailable; everything else (a failed condition included) propagates unchanged."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in UNAVAILABLE_CODES:
            raise StoreUnavailable("The data store is unavailable or throttling; try again shortly.") from exc
        raise
    except BotoCoreError as exc:
        raise StoreUnavailable("The data store could not be reached in time.") from exc


@dataclass
class Page(Generic[T]):
    """One page of a query: the items and an opaque cursor for the next page (None at the end);
    `unreadable`: the ids of items of this page that could not be read (left out, logged)."""

    items: list[T]
    cursor: str | None = None
    unreadable: list[str] = field(default_factory=list)


def readable(
    raw: Iterable[dict[str, Any]], load: Callable[[dict[str, Any]], T], left_out: list[str] | None = None
) -> Iterator[T]:
    """Each item through `load`; one that holds values no such item can have is left out, said
    in the log and its id added to `left_out` (other tools' writes must not take a list down)."""
    for item in raw:
        try:
            yield load(item)
        except UnreadableItem as exc:
            logger.error("%s Left out of this list.", exc.message)
            if left_out is not None:
                left_out.append(exc.key)


def load_each(raw: Iterable[dict[str, Any]], load: Callable[[dict[str, Any]], T]) -> tuple[list[T], list[str]]:
    """`readable` as a list: (the loaded items, the ids of those left out)."""
    left_out: list[str] = []
    return list(readable(raw, load, left_out)), left_out


class Expr:
    """Builds expressions from named parts; every attribute name is aliased (#n0, #n1...)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        for alias, existing in self.names.items():
            if existing == attribute:
                return alias
        alias = f"#n{len(self.names)}"
        self.names[alias] = attribute
        return alias

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _serializer.serialize(to_dynamo(value))
        return placeholder

    def one_of(self, attribute: str, allowed: list[str]) -> str:
        placeholders = ", ".join(self.value(v) for v in allowed)
        return f"{self.name(attribute)} IN ({placeholders})"

    def update(
        self,
        set_values: dict[str, Any] | None = None,
        add_values: dict[str, int] | None = None,
        remove: list[str] | None = None,
        copy: dict[str, str] | None = None,
    ) -> str:
        """`copy` maps target -> source: `SET target = source` reads the source as it was
        BEFORE this update (DynamoDB evaluates every right-hand side against the old item),
        so the returned ALL_NEW item carries the old value atomically. An absent source
        copies as ABSENT."""
        parts: list[str] = []
        sets = [f"{self.name(k)} = {self.value(v)}" for k, v in (set_values or {}).items() if v is not None]
        sets += [
            f"{self.name(target)} = if_not_exists({self.name(source)}, {self.value(ABSENT)})"
            for target, source in (copy or {}).items()
        ]
        if sets:
            parts.append("SET " + ", ".join(sets))
        adds = [f"{self.name(k)} {self.value(v)}" for k, v in (add_values or {}).items() if v]
        if adds:
            parts.append("ADD " + ", ".join(adds))
        removes = [self.name(k) for k in (remove or [])]
        if removes:
            parts.append("REMOVE " + ", ".join(removes))
        return " ".join(parts)

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            out["ExpressionAttributeValues"] = dict(self.values)
        return out


class Table:
    """One DynamoDB table behind the shared client; translates transport failures."""

    def __init__(
        self, client: Any, name: str, codec: CursorCodec, page_keys: dict[str | None, tuple[str, ...]] | None = None
    ) -> None:
        self.client = client
        self.name = name
        self.codec = codec
        # Key attributes per index: lets a page end exactly at its last item (see query_page).
        self.page_keys = page_keys

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Call a client operation on this table. Throttling (after botocore's retries),
        timeouts and a dead endpoint become StoreUnavailable; a failed condition propagates."""
        method: Callable[..., dict[str, Any]] = getattr(self.client, operation)
        with unavailable_as_domain_error():
            return method(TableName=self.name, **kwargs)

    def get(self, key: dict[str, Any], *, consistent: bool = False) -> dict[str, Any] | None:
        response = self.call("get_item", Key=serialize(key), ConsistentRead=consistent)
        item = response.get("Item")
        return deserialize(item) if item else None

    def query_page(
        self,
        *,
        kind: str,
        params: dict[str, Any],
        request: dict[str, Any],
        limit: int,
        cursor: str | None,
        load: Callable[[dict[str, Any]], T],
    ) -> Page[T]:
        """Read up to `limit` items, following LastEvaluatedKey across DynamoDB's 1 MB pages.

        The cursor resumes exactly after the last item returned, so pages never lose or
        repeat a row, and it only works for the query it was issued for. With `page_keys`,
        a cursor is given only when another item exists."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query_id = self.codec.query_id(kind, table=self.name, **params)
        start = self.codec.decode(cursor, query_id) if cursor else None
        keys = self.page_keys.get(request.get("IndexName")) if self.page_keys else None
        # With the key attributes known, read one item past the page: the cursor then points at
        # the page's last item and exists only when another item does (no empty last page).
        wanted = limit + 1 if keys else limit
        raw: list[dict[str, Any]] = []
        while True:
            kwargs = dict(request, Limit=wanted - len(raw))
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self.call("query", **kwargs)
            raw.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start or len(raw) >= wanted:
                break
        if keys and len(raw) > limit:
            raw = raw[:limit]
            start = {k: raw[-1][k] for k in keys}
        items, left_out = load_each((deserialize(item) for item in raw), load)
        return Page(items=items, cursor=self.codec.encode(query_id, start) if start else None, unreadable=left_out)

    def query_all(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a query, following LastEvaluatedKey to the end."""
        start: dict[str, Any] | None = None
        while True:
            kwargs = dict(request)
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self.call("query", **kwargs)
            for raw in response.get("Items", []):
                yield deserialize(raw)
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    def count(self, request: dict[str, Any]) -> int:
        """Exact number of items a query matches (Select=COUNT, every page)."""
        total = 0
        start: dict[str, Any] | None = None
        while True:
            kwargs = dict(request, Select="COUNT")
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self.call("query", **kwargs)
            total += int(response.get("Count", 0))
            start = response.get("LastEvaluatedKey")
            if not start:
                return total

    def batch_get(self, request: dict[str, Any], *, max_attempts: int = 8) -> dict[str, list[dict[str, Any]]]:
        """One BatchGetItem (tables -> {"Keys": [...]}, at most 100 keys), retrying unprocessed keys
        with backoff: table name -> the items found (deserialised). Absent keys are simply missing."""
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in request}
        pending = request
        for attempt in range(max_attempts):
            with unavailable_as_domain_error():
                response = self.client.batch_get_item(RequestItems=pending)
            for name, items in response.get("Responses", {}).items():
                found.setdefault(name, []).extend(deserialize(item) for item in items)
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return found
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise StoreUnavailable("Some items could not be read after several attempts; try again shortly.")

    def batch_put(self, items: list[dict[str, Any]], *, max_attempts: int = 8) -> None:
        """BatchWriteItem in groups of 25; unprocessed items are retried with backoff and
        never dropped silently (StoreUnavailable if they still fail)."""
        for start in range(0, len(items), 25):
            pending = [{"PutRequest": {"Item": serialize(item)}} for item in items[start : start + 25]]
            for attempt in range(max_attempts):
                with unavailable_as_domain_error():
                    response = self.client.batch_write_item(RequestItems={self.name: pending})
                pending = response.get("UnprocessedItems", {}).get(self.name, [])
                if not pending:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            if pending:
                raise StoreUnavailable(f"{len(pending)} items could not be written after {max_attempts} attempts.")


@dataclass
class Update:
    """The parts of one conditional UpdateItem."""

    set_values: dict[str, Any] = field(default_factory=dict)
    add_values: dict[str, int] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)
    copy: dict[str, str] = field(default_factory=dict)
