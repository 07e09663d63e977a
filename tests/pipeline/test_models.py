"""Model round trips of items shaped as the existing tables hold them, and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dataplatform.pipeline.errors import UnreadableItem
from dataplatform.pipeline.models import FileRecord, Run, to_dynamo
from dataplatform.pipeline.states import FileStatus, RunStatus
from dataplatform.pipeline.timeutil import format_ts, parse_ts

LEGACY_RUN = {
    "runId": "equities-20260102-abc",
    "datasetName": "equities",
    "businessDate": "2026-01-02",
    "sourceType": "control-m",
    "sourceTrigger": {"jobName": "EQ_EOD", "orderId": Decimal("123"), "ratio": Decimal("0.25")},
    "createdAt": "2026-01-02T03:04:05",  # naive, written by an older writer
    "status": "processing",
    "resolvedFiles": Decimal("10"),
    "processedFiles": Decimal("4"),
    "environment": "prod",
    "metadata": {"nested": {"weights": [Decimal("1.5"), Decimal("2")]}, "owner": "team-a"},
    "error": {"message": "boom", "code": Decimal("7")},
    "someFutureAttribute": "ignored",
    "anotherTool": {"x": Decimal("1")},
}

LEGACY_FILE = {
    "fileId": "f-1",
    "runId": "equities-20260102-abc",
    "datasetName": "equities",
    "businessDate": "2026-01-02",
    "environment": "prod",
    "location": "s3://bucket-a/equities/2026-01-02/part-000.csv",
    "status": "verified",
    "lastUpdated": "2026-01-02T03:04:05.123+02:00",
    "fileSize": Decimal("1048576"),
    "checksum": "sha256:abc",
    "metadata": {"rows": Decimal("100"), "score": Decimal("0.5")},
    "extra": "ignored",
}


def test_legacy_run_item_loads_with_decimals_extras_and_naive_time() -> None:
    run = Run.from_item(LEGACY_RUN)
    assert run.status is RunStatus.PROCESSING
    assert run.resolved_files == 10
    assert isinstance(run.resolved_files, int)
    assert run.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert run.source_trigger == {"jobName": "EQ_EOD", "orderId": 123, "ratio": 0.25}
    assert run.metadata["nested"]["weights"] == [1.5, 2]
    assert not hasattr(run, "someFutureAttribute")


def test_run_round_trip_writes_decimals_and_fixed_utc_format() -> None:
    item = Run.from_item(LEGACY_RUN).to_item()
    assert item["createdAt"] == "2026-01-02T03:04:05.000000Z"
    assert item["metadata"]["nested"]["weights"] == [Decimal("1.5"), 2]
    assert item["sourceTrigger"]["ratio"] == Decimal("0.25")
    assert "someFutureAttribute" not in item
    again = Run.from_item(item)
    assert again == Run.from_item(LEGACY_RUN)


def test_file_round_trip_normalises_offset_timestamp_to_utc() -> None:
    record = FileRecord.from_item(LEGACY_FILE)
    assert record.status is FileStatus.VERIFIED
    assert record.file_size == 1048576
    assert record.last_updated == datetime(2026, 1, 2, 1, 4, 5, 123000, tzinfo=UTC)
    item = record.to_item()
    assert item["lastUpdated"] == "2026-01-02T01:04:05.123000Z"
    assert item["metadata"] == {"rows": 100, "score": Decimal("0.5")}
    assert FileRecord.from_item(item) == record


def test_floats_in_metadata_are_written_as_decimal() -> None:
    record = FileRecord.from_item({**LEGACY_FILE, "metadata": {"a": 0.1, "b": [1.25, {"c": 3.5}]}})
    item = record.to_item()
    assert item["metadata"] == {"a": Decimal("0.1"), "b": [Decimal("1.25"), {"c": Decimal("3.5")}]}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("status", "done", "Input should be"),
        ("businessDate", "2026-02-30", "not a real calendar date"),
        ("businessDate", "02/01/2026", "YYYY-MM-DD"),
        ("location", "ftp://host/file", "location must be"),
        ("location", "s3://", "location must be"),
        ("datasetName", "", "datasetName must be"),
        ("datasetName", "bad name!", "datasetName must be"),
    ],
)
def test_bad_values_give_clear_errors(field: str, value: str, message: str) -> None:
    with pytest.raises(UnreadableItem) as info:
        FileRecord.from_item({**LEGACY_FILE, field: value})
    assert message in info.value.message
    assert info.value.key == LEGACY_FILE["fileId"]
    assert f"File {LEGACY_FILE['fileId']!r} is stored with values this monitor cannot read" in info.value.message
    assert field in info.value.message
    assert repr(value) in info.value.message  # the stored value, shown


def test_nan_in_metadata_is_refused() -> None:
    with pytest.raises(UnreadableItem):
        FileRecord.from_item({**LEGACY_FILE, "metadata": {"x": float("nan")}})


def test_timestamps_are_aware_and_naive_refused_on_write() -> None:
    assert parse_ts("2026-01-01T00:00:00").tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        format_ts(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    assert to_dynamo(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000000Z"
