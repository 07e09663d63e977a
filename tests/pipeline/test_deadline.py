"""pipeline.deadline: once a unit of work's deadline has passed, no further DynamoDB attempt
starts; the call raises StoreUnavailable (503 + Retry-After) instead of waiting again."""

from __future__ import annotations

import time

import pytest

from dataplatform.pipeline.clients import get_client, reset_clients
from dataplatform.pipeline.deadline import deadline, remaining
from dataplatform.pipeline.errors import StoreUnavailable
from tests.conftest import unique_config


def test_no_attempt_starts_after_the_deadline(hung_endpoint: str) -> None:
    config = unique_config(endpoint_url=hung_endpoint, read_timeout=1.0, connect_timeout=1.0, max_attempts=4)
    client = get_client("dynamodb", config)
    started = time.monotonic()
    with deadline(0.5), pytest.raises(StoreUnavailable, match="time budget"):
        client.get_item(TableName=config.run_table, Key={"runId": {"S": "x"}})
    elapsed = time.monotonic() - started
    reset_clients()
    # One attempt (1 s read timeout) instead of four (4 s and more with backoff).
    assert elapsed < 2.5, elapsed


def test_deadlines_nest_and_end_with_their_block() -> None:
    assert remaining() is None
    with deadline(10):
        with deadline(60):
            left = remaining()
            assert left is not None
            assert left <= 10
        with deadline(0):  # no deadline: the enclosing one still holds
            left = remaining()
            assert left is not None
            assert left <= 10
    assert remaining() is None
