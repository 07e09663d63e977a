"""What callers may ask of the services, as strict pydantic models (Lambda event body, API
request, page form, simulator): unknown fields, wrong JSON types, control characters, and
anything DynamoDB could not store or a later read could not show (lone surrogates anywhere,
keys too; nesting deeper than 32 levels; numbers out of DynamoDB's range) are refused before
anything is written, with one message per bad field."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from ..errors import ValidationFailed
from ..models import (
    MAX_REASON_LENGTH,
    DatasetName,
    Environment,
    SourceType,
    parse_business_date,
    to_dynamo,
    validate_location,
)
from ..states import FileStatus
from ..storable import describe_problem, storable_problem

MAX_FILES = 100_000
MAX_MAPPING_BYTES = 32 * 1024
MAX_ERROR_BYTES = 8 * 1024
MAX_CHECKSUM_LENGTH = 256
MAX_FILE_ID_LENGTH = 512
# Statuses a worker reports; `pending` is set by a retry only.
REPORTABLE = frozenset({FileStatus.FETCHED, FileStatus.VERIFIED, FileStatus.PREPROCESSED, FileStatus.FAILED})

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Actor:
    """Who asks: a user name (or a service identity) and the request id for the audit trail."""

    name: str
    request_id: str | None = None
    roles: tuple[str, ...] = ()


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), allow_nan=False, default=str).encode())


def bounded_mapping(value: dict[str, Any], limit: int) -> dict[str, Any]:
    """`value` when it is finite JSON of at most `limit` bytes; ValueError otherwise."""
    try:
        to_dynamo(value)  # refuses NaN/infinity before anything is written
        size = _json_size(value)
    except ValueError as exc:
        raise ValueError("must not contain NaN or infinity") from exc
    if size > limit:
        raise ValueError(f"must be at most {limit} bytes of JSON")
    return value


def validation_fields(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors as one message per field (dotted location; `__root__` for the whole)."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "__root__"
        fields.setdefault(location, str(error["msg"]).removeprefix("Value error, "))
    return fields


def parse_request(model: type[M], data: M | dict[str, Any], *, what: str) -> M:
    """`data` validated as `model`; ValidationFailed naming each bad field otherwise."""
    if isinstance(data, model):
        return data
    if not isinstance(data, dict):
        raise ValidationFailed(f"The {what} must be a JSON object.", fields={"__root__": "expected an object"})
    found = storable_problem(data)
    if found is not None:
        # Named by the top-level field it is in; checked first, so pydantic never walks a
        # 10,000-level structure.
        where = found[0]
        field = where.split(".")[0].split("[")[0] or "__root__"
        raise ValidationFailed(f"Invalid {what}: {describe_problem(found)}", fields={field: describe_problem(found)})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = validation_fields(exc)
        summary = "; ".join(f"{k}: {v}" for k, v in list(fields.items())[:5])
        raise ValidationFailed(f"Invalid {what}: {summary}", fields=fields) from exc


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        # Also for callers that skip parse_request (model_validate directly).
        found = storable_problem(data) if isinstance(data, dict) else None
        if found is not None:
            raise ValueError(describe_problem(found))
        return data


class TriggerRequest(_Request):
    """A trigger as received: dataset, business date, and optionally the files."""

    datasetName: DatasetName  # camelCase: the wire names of the trigger
    businessDate: str = Field(min_length=1, max_length=10)
    sourceType: SourceType = Field(default=SourceType.MANUAL, strict=False)
    sourceTrigger: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    files: list[str] | None = Field(default=None, max_length=MAX_FILES)
    idempotencyKey: str | None = Field(default=None, min_length=1, max_length=256)
    environment: Environment | None = Field(default=None, strict=False)

    @field_validator("businessDate")
    @classmethod
    def _date(cls, value: str) -> str:
        return parse_business_date(value).isoformat()

    @field_validator("sourceTrigger", "metadata")
    @classmethod
    def _mapping(cls, value: dict[str, Any]) -> dict[str, Any]:
        return bounded_mapping(value, MAX_MAPPING_BYTES)

    @field_validator("files")
    @classmethod
    def _files(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("must list at least one file (or be left out to use the dataset registry)")
        cleaned: list[str] = []
        for index, location in enumerate(value):
            try:
                cleaned.append(validate_location(location.strip()))
            except ValueError as exc:
                raise ValueError(f"files[{index}]: {exc}") from exc
        return cleaned

    @field_validator("idempotencyKey")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("must contain printable characters only")
        return value


class FileReport(_Request):
    """A worker's report on one file: the status reached and what it learned."""

    # A checksum or an error is kept exactly as reported.
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False, frozen=True)

    status: FileStatus = Field(strict=False)
    fileSize: int | None = Field(default=None, ge=0)
    checksum: str | None = Field(default=None, min_length=1, max_length=MAX_CHECKSUM_LENGTH)
    error: dict[str, Any] | None = None

    @field_validator("status")
    @classmethod
    def _reportable(cls, value: FileStatus) -> FileStatus:
        if value not in REPORTABLE:
            raise ValueError(f"not a worker status: workers report {', '.join(sorted(REPORTABLE))}")
        return value

    @field_validator("checksum")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError(f"must be 1-{MAX_CHECKSUM_LENGTH} printable characters")
        return value

    @field_validator("error")
    @classmethod
    def _error(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else bounded_mapping(value, MAX_ERROR_BYTES)

    def values(self) -> dict[str, Any]:
        """The attributes the report sets on the file item."""
        return {
            name: value for name, value in
            (("fileSize", self.fileSize), ("checksum", self.checksum), ("error", self.error))
            if value is not None
        }


FileId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_FILE_ID_LENGTH)]


class RetryRequest(_Request):
    """Which failed files of a run to retry (None: all of them)."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False, frozen=True)

    fileIds: list[FileId] | None = Field(default=None, max_length=MAX_FILES)

    @field_validator("fileIds")
    @classmethod
    def _ids(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for file_id in value:
            if _CONTROL.search(file_id):
                raise ValueError(f"invalid file id {file_id[:64]!r}")
        return list(dict.fromkeys(value))


class CancelRequest(_Request):
    """Why a run is cancelled (optional; blank counts as none)."""

    reason: str | None = Field(default=None, max_length=MAX_REASON_LENGTH)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value or None
