"""Shared pieces of the alert tests: engines with transactions, moto made atomic, helpers.

The local engine tests (ids ending ``[local_engine]``, find them with ``-k local_engine``) run on
Amazon's DynamoDB Local, whose conditional writes and transactions are atomic under concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from dataplatform.pipeline.app import Pipeline

LOCAL_ENGINE = pytest.param("local_engine", marks=pytest.mark.ddb_local)
ENGINES = ["moto", LOCAL_ENGINE]


def engine_pipeline(request: pytest.FixtureRequest) -> Pipeline:
    name = "moto_pipeline" if request.param == "moto" else "ddb_local_pipeline"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def separate_client(p: Pipeline) -> Any:
    """A new DynamoDB client for the same engine as `p` (one per simulated process)."""
    import boto3

    from dataplatform.pipeline.clients import new_client

    if p.config.endpoint_url:
        return new_client("dynamodb", endpoint_url=p.config.endpoint_url, region_name=p.config.region)
    return boto3.client("dynamodb", region_name=p.config.region)


@contextmanager
def atomic_moto() -> Iterator[None]:
    """Serialise moto's item writes. moto has no locking, so two threads can both pass a
    condition before either writes; DynamoDB itself checks and writes each item atomically
    (and a transaction as a whole). This restores that guarantee, so a concurrency test
    on moto tests our conditions, not moto's thread safety."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    names = ("put_item", "update_item", "delete_item", "transact_write_items")
    originals = {name: getattr(DynamoDBBackend, name) for name in names}

    def locked(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return call

    for name, original in originals.items():
        setattr(DynamoDBBackend, name, locked(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)


def scan(p: Pipeline, table: str) -> list[dict[str, Any]]:
    """Every item of a table (tests only: the product never scans)."""
    from dataplatform.pipeline.dynamo import deserialize

    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        response = p.client.scan(**kwargs)
        items.extend(deserialize(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def outbox(p: Pipeline) -> list[dict[str, Any]]:
    return sorted(scan(p, p.config.notification_table), key=lambda i: (str(i["createdAt"]), str(i["type"])))


def episodes(p: Pipeline) -> list[dict[str, Any]]:
    return [i for i in scan(p, p.config.alert_table) if "state" in i]


def guards(p: Pipeline) -> list[dict[str, Any]]:
    return [i for i in scan(p, p.config.alert_table) if str(i["alertId"]).startswith("open#")]
