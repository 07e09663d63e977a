"""pydantic v2 models of RunTable and FileTable items.

Strict on write (validated types, enums, formats), tolerant on read (unknown attributes
ignored, naive timestamps read as UTC, DynamoDB `Decimal` numbers turned into int/float).
`to_item()` / `from_item()` are the only way items cross the DynamoDB boundary.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from boto3.dynamodb.types import Binary
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError

from .errors import UnreadableItem
from .states import FILE_COUNTER, FileStatus, RunStatus
from .storable import readable_text
from .timeutil import format_ts, parse_ts

# The one definition of a dataset name (the API routes and forms use the pattern too).
DATASET_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}"
DATASET_NAME_RE = re.compile(rf"^{DATASET_NAME_PATTERN}$")
# Longest cancel reason (and audit reason) kept.
MAX_REASON_LENGTH = 1000
LOCATION_RE = re.compile(r"^(s3://[a-z0-9][a-z0-9.\-]{1,62}/\S+|https?://[^\s/$.?#][^\s]*)$")
MAX_LOCATION_LENGTH = 2048


class SourceType(StrEnum):
    CONTROL_M = "control-m"
    S3 = "s3"
    MANUAL = "manual"
    INTERNAL = "internal"


class Environment(StrEnum):
    STAGING = "staging"
    PROD = "prod"


def to_plain(value: Any) -> Any:
    """DynamoDB -> Python: Decimal becomes int or float, recursively; sets become lists;
    strings that are not valid Unicode (other tools' writes) get U+FFFD for the broken part, and
    so do binary values (B, which boto3 reads as `Binary`), shown as text."""
    if isinstance(value, str):
        return readable_text(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {readable_text(str(k)): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, Binary):
        value = value.value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return value


def to_dynamo(value: Any) -> Any:
    """Python -> DynamoDB: floats become Decimal (NaN/infinity refused), recursively."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError("NaN and infinity cannot be stored")
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {str(k): to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value


def validate_dataset_name(value: str) -> str:
    if not isinstance(value, str) or not DATASET_NAME_RE.match(value):
        raise ValueError(
            "datasetName must be 1-128 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def validate_location(value: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_LOCATION_LENGTH or not LOCATION_RE.match(value):
        raise ValueError("location must be an s3://bucket/key, https:// or http:// URL")
    return value


def parse_business_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError("businessDate must be a date (YYYY-MM-DD), not a timestamp")
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("businessDate must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"businessDate {value!r} is not a real calendar date") from exc


def _plain_mapping(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        # Another tool stored a scalar or a list here: shown as it is, never a failed read
        # (written values come through the request models, which only take objects).
        return {"value": to_plain(value)}
    plain: dict[str, Any] = to_plain(value)
    to_dynamo(plain)  # refuses NaN/infinity early, before anything is written
    return plain


def _optional_mapping(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return _plain_mapping(value)


def _count(value: Any) -> int:
    plain = to_plain(value) if isinstance(value, Decimal) else value
    if isinstance(plain, bool) or not isinstance(plain, int | float) or plain != int(plain):
        raise ValueError("must be a whole number")
    return int(plain)


def _unreadable(kind: str, key: str, exc: ValidationError) -> UnreadableItem:
    """The error of an item that does not load: which one, and which values (shortened)."""
    problems = "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']} (stored: {str(e.get('input'))[:60]!r})"
        for e in exc.errors()[:5]
    )
    return UnreadableItem(
        f"{kind} {key!r} is stored with values this monitor cannot read ({problems}); another tool or "
        "an older version wrote it. Correct or remove the item.",
        key=key,
    )


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, validate_assignment=True)
    # What an unreadable item is called in its error: the kind, and the attribute that names it.
    item_kind: ClassVar[str] = "Item"
    item_key: ClassVar[str] = ""

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Self:
        """Load an item as DynamoDB returns it (Decimals, extra attributes, older formats);
        UnreadableItem when it holds values no such item can have."""
        plain = to_plain(item)
        try:
            return cls.model_validate(plain)
        except ValidationError as exc:
            raise _unreadable(cls.item_kind, str(plain.get(cls.item_key, "?")), exc) from exc

    def to_item(self) -> dict[str, Any]:
        """The item as written to DynamoDB: aliases, Decimals, fixed timestamps, no None values."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        item: dict[str, Any] = to_dynamo(data)
        return item


# Reusable field types: each carries its own read tolerance and write format.
DatasetName = Annotated[str, AfterValidator(validate_dataset_name)]
BusinessDate = Annotated[date, BeforeValidator(parse_business_date)]
Location = Annotated[str, AfterValidator(validate_location)]
UtcTimestamp = Annotated[datetime, BeforeValidator(parse_ts), PlainSerializer(format_ts, when_used="json")]
JsonMap = Annotated[dict[str, Any], BeforeValidator(_plain_mapping)]
OptionalJsonMap = Annotated[dict[str, Any] | None, BeforeValidator(_optional_mapping)]
Count = Annotated[int, BeforeValidator(_count)]


class Run(_Item):
    item_kind: ClassVar[str] = "Run"
    item_key: ClassVar[str] = "runId"
    run_id: str = Field(alias="runId", min_length=1, max_length=256)
    dataset_name: DatasetName = Field(alias="datasetName")
    business_date: BusinessDate = Field(alias="businessDate")
    source_type: SourceType = Field(alias="sourceType", default=SourceType.MANUAL)
    source_trigger: JsonMap = Field(alias="sourceTrigger", default_factory=dict)
    created_at: UtcTimestamp = Field(alias="createdAt")
    status: RunStatus = RunStatus.PENDING
    resolved_files: Count = Field(alias="resolvedFiles", default=0, ge=0)
    processed_files: Count = Field(alias="processedFiles", default=0)
    failed_files: Count = Field(alias="failedFiles", default=0)
    pending_files: Count = Field(alias="pendingFiles", default=0)
    fetched_files: Count = Field(alias="fetchedFiles", default=0)
    verified_files: Count = Field(alias="verifiedFiles", default=0)
    environment: Environment = Environment.STAGING
    metadata: JsonMap = Field(default_factory=dict)
    error: OptionalJsonMap = None
    updated_at: UtcTimestamp | None = Field(alias="updatedAt", default=None)
    idempotency_key: str | None = Field(alias="idempotencyKey", default=None)
    # sha256 of the trigger's sorted file list ("registry" when it named none): a repeat of
    # the idempotency key with another list is refused.
    files_digest: str | None = Field(alias="filesDigest", default=None)
    cancelled_by: str | None = Field(alias="cancelledBy", default=None)
    cancelled_at: UtcTimestamp | None = Field(alias="cancelledAt", default=None)
    cancel_reason: str | None = Field(alias="cancelReason", default=None)
    # When the counters were last verified against FileTable (recount, roll-up, first read).
    counts_checked_at: UtcTimestamp | None = Field(alias="countsCheckedAt", default=None)
    # Id of the newest audit event about this run: a live page re-reads the trail when it moves.
    last_event_id: str | None = Field(alias="lastEventId", default=None)

    @property
    def has_counters(self) -> bool:
        """False for items whose per-status counters were never written (other tools' writers):
        their counts come from FileTable once, then are stored."""
        return set(_COUNTER_FIELDS_SET) <= self.model_fields_set

    def counts(self) -> dict[str, int]:
        """Per-status file counts from the run's counters (kept with ADD, checked by recounts)."""
        return {status.value: int(getattr(self, _COUNTER_FIELD[status])) for status in FileStatus}

    def version(self) -> str:
        """Changes whenever anything a run page shows about the run (or its files) may have changed."""
        counters = ",".join(str(n) for n in self.counts().values())
        stamp = format_ts(self.updated_at) if self.updated_at else ""
        return f"{self.status.value}:{counters}:{self.resolved_files}:{stamp}"


_COUNTER_FIELD = {
    FileStatus.PENDING: "pending_files",
    FileStatus.FETCHED: "fetched_files",
    FileStatus.VERIFIED: "verified_files",
    FileStatus.PREPROCESSED: "processed_files",
    FileStatus.FAILED: "failed_files",
}
_COUNTER_FIELDS_SET = ("pending_files", "fetched_files", "verified_files", "failed_files")
if set(_COUNTER_FIELD) != set(FILE_COUNTER):  # pragma: no cover - guards edits to states.py
    raise RuntimeError("every file status needs a run counter field")


class FileRecord(_Item):
    item_kind: ClassVar[str] = "File"
    item_key: ClassVar[str] = "fileId"
    file_id: str = Field(alias="fileId", min_length=1, max_length=512)
    run_id: str = Field(alias="runId", min_length=1, max_length=256)
    dataset_name: DatasetName = Field(alias="datasetName")
    business_date: BusinessDate = Field(alias="businessDate")
    environment: Environment = Environment.STAGING
    location: Location
    status: FileStatus = FileStatus.PENDING
    last_updated: UtcTimestamp = Field(alias="lastUpdated")
    file_size: Count | None = Field(alias="fileSize", default=None, ge=0)
    checksum: str | None = Field(default=None, max_length=256)
    metadata: JsonMap = Field(default_factory=dict)
    error: OptionalJsonMap = None
    attempts: Count = Field(default=0, ge=0)
