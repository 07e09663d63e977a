"""The dataset registry: where a dataset's files live and when a run is expected.

Location templates
------------------
Each entry of `locations` is a URL template (``s3://``, ``https://`` or ``http://``) with
these placeholders, filled in for one business date:

=================  ===========================================
``{dataset}``      the dataset name
``{businessDate}`` the business date, ``YYYY-MM-DD``
``{yyyymmdd}``     the business date, ``YYYYMMDD``
``{yyyy}``         year, ``{mm}`` month, ``{dd}`` day (zero padded)
``{part}``         part number, 1..``parts`` (e.g. ``{part:03d}`` -> ``001``)
=================  ===========================================

A template that uses ``{part}`` expands to ``parts`` locations (parts numbered from 1), e.g.
``s3://bucket/{dataset}/{businessDate}/part-{part:03d}.csv`` with ``parts: 3`` gives
``part-001.csv``, ``part-002.csv`` and ``part-003.csv``. Templates without ``{part}`` give one
location. Literal braces are written ``{{`` and ``}}``. Nothing else is allowed inside braces.

``s3Prefix`` (optional) is a template of an S3 prefix, e.g.
``s3://bucket/prefix/{businessDate}/``; every object under it is listed with
``ListObjectsV2`` (all pages) when the files of a run are resolved.

Schedule
--------
When a run of a business date is expected and due (SPEC section 9). Every field is optional;
an item written before these fields existed keeps its meaning (timezone UTC).

=====================  ================================================================
``timezone``           IANA zone of the business dates and of every local time below
                       (default ``UTC``)
``weekdays``           0 = Monday .. 6 = Sunday: the days a run is expected (default Mon-Fri)
``holidays``           a country code, optionally with a subdivision (``GB``, ``GB-ENG``,
                       ``US-NY``), or a financial market code of the ``holidays`` package
                       (``NYSE``): its holidays are not business days
``calendar``           an exchange code of ``exchange_calendars`` (``XNYS``, ``XLON``): only
                       its sessions are business days (outside the calendar's range,
                       ~20 years back to 1 year ahead, the weekdays alone decide)
``extraHolidays``      dates that are never business days
``extraBusinessDays``  dates that always are (exceptions: they win over everything above)
``expectedBy``         local ``HH:MM`` by which a run must exist: the last such moment at or
                       before the due time (so ``22:00`` with a due time of ``06:00`` the
                       next day means 22:00 on the business date). Default: the due time
``startGraceMinutes``  tolerance after ``expectedBy`` before a missing run alerts (default 0)
``dueBy``              local ``HH:MM`` by which the run must be ``success`` (default 23:59)
``dueDayOffset``       days after the business date of that due time (0 = the same day)
``dueGraceMinutes``    tolerance after ``dueBy`` before the run counts as late (default 0)
``stuckAfterMinutes``  an in-flight run without progress for this long is stuck (default
                       120; ``null`` = never)
``since``              no expectations for business dates before this date
=====================  ================================================================

A local time that does not exist on a day (the hour skipped by a daylight-saving change) is
read with the offset before the change, a repeated one as its first occurrence (PEP 495
``fold=0``). A dataset without a schedule is never "missing".
"""

from __future__ import annotations

import builtins
import re
import string
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .calendars import check_exchange_code, check_holidays_code, exchange_closure, holiday_name
from .config import PipelineConfig
from .cursor import CursorCodec
from .dynamo import Expr, Page, Table, error_code, is_condition_failure, serialize
from .errors import NotFound, StoreUnavailable, ValidationFailed
from .models import DatasetName, Environment, parse_business_date, to_plain, validate_location
from .schema import page_keys
from .storable import MAX_SORT_KEY_BYTES, key_fits
from .timeutil import format_ts, parse_ts, utc_now

DATASET_PK = "DATASET"
# Write-once registration records (pk="REGISTERED", datasetName, registeredAt): replacing a
# dataset's configuration never moves the moment expectations start (SPEC section 9).
REGISTERED_PK = "REGISTERED"
MAX_PARTS = 10_000
MAX_LOCATIONS = 100_000  # the most files one trigger may register
TEMPLATE_FIELDS = frozenset({"dataset", "businessDate", "yyyymmdd", "yyyy", "mm", "dd", "part"})
_PART_SPEC = re.compile(r"^0?[1-9]?d?$")
_DUE_BY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_S3_PREFIX = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,62})/(\S*)$")
MAX_EXTRA_DATES = 1000
MAX_GRACE_MINUTES = 24 * 60
MAX_STUCK_MINUTES = 7 * 24 * 60
DEFAULT_STUCK_MINUTES = 120


def _schedule_date(value: Any) -> date:
    try:
        return parse_business_date(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date written YYYY-MM-DD") from exc


ScheduleDate = Annotated[date, BeforeValidator(_schedule_date)]
# A fixed sample used to check at load time that every template renders to a valid URL.
_SAMPLE_DATE = date(2024, 1, 31)


def _template_fields(template: str) -> set[str]:
    """The placeholders a template uses; ValueError for anything but the documented ones."""
    used: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template {template!r} has unbalanced braces (write literal braces as {{{{ }}}})") from exc
    for _literal, field_name, format_spec, conversion in parsed:
        if field_name is None:
            continue
        if field_name not in TEMPLATE_FIELDS:
            allowed = ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS))
            raise ValueError(f"template {template!r} uses unknown placeholder {{{field_name}}}; allowed: {allowed}")
        if conversion:
            raise ValueError(f"template {template!r}: conversions like !{conversion} are not allowed")
        if field_name == "part":
            if not _PART_SPEC.match(format_spec or ""):
                raise ValueError(f"template {template!r}: {{part}} takes an integer format like {{part:03d}}")
        elif format_spec:
            raise ValueError(f"template {template!r}: {{{field_name}}} takes no format spec")
        used.add(field_name)
    return used


def _values(dataset: str, business_date: date) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "businessDate": business_date.isoformat(),
        "yyyymmdd": business_date.strftime("%Y%m%d"),
        "yyyy": business_date.strftime("%Y"),
        "mm": business_date.strftime("%m"),
        "dd": business_date.strftime("%d"),
    }


class Schedule(BaseModel):
    """When a run is expected and due, in the dataset's own timezone (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    timezone: StrictStr = Field(default="UTC", max_length=64)
    weekdays: list[StrictInt] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=1, max_length=7)
    holidays: StrictStr | None = Field(default=None, max_length=32)
    calendar: StrictStr | None = Field(default=None, max_length=32)
    extra_holidays: list[ScheduleDate] = Field(alias="extraHolidays", default_factory=list, max_length=MAX_EXTRA_DATES)
    extra_business_days: list[ScheduleDate] = Field(
        alias="extraBusinessDays", default_factory=list, max_length=MAX_EXTRA_DATES
    )
    expected_by: StrictStr | None = Field(alias="expectedBy", default=None)
    start_grace_minutes: StrictInt = Field(alias="startGraceMinutes", default=0, ge=0, le=MAX_GRACE_MINUTES)
    due_by: StrictStr = Field(alias="dueBy", default="23:59")
    due_day_offset: StrictInt = Field(alias="dueDayOffset", default=0, ge=0, le=7)
    due_grace_minutes: StrictInt = Field(alias="dueGraceMinutes", default=0, ge=0, le=MAX_GRACE_MINUTES)
    stuck_after_minutes: StrictInt | None = Field(
        alias="stuckAfterMinutes", default=DEFAULT_STUCK_MINUTES, ge=1, le=MAX_STUCK_MINUTES
    )
    since: ScheduleDate | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone {value!r} is not an IANA time zone (e.g. Europe/London, UTC)") from exc
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(day < 0 or day > 6 for day in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        if len(set(value)) != len(value):
            raise ValueError("weekdays must not repeat")
        return sorted(value)

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: str | None) -> str | None:
        return check_holidays_code(value) if value else None

    @field_validator("calendar")
    @classmethod
    def _calendar(cls, value: str | None) -> str | None:
        return check_exchange_code(value) if value else None

    @field_validator("extra_holidays", "extra_business_days")
    @classmethod
    def _dates(cls, value: list[date]) -> list[date]:
        return sorted(set(value))

    @field_validator("due_by", "expected_by")
    @classmethod
    def _local_time(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not _DUE_BY.match(value):
            name = "dueBy" if info.field_name == "due_by" else "expectedBy"
            raise ValueError(f"{name} must be a local time written HH:MM (00:00 to 23:59)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        both = set(self.extra_holidays) & set(self.extra_business_days)
        if both:
            raise ValueError(
                "extraHolidays and extraBusinessDays both list " + ", ".join(d.isoformat() for d in sorted(both))
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def closure(self, business_date: date) -> str | None:
        """Why `business_date` is not a business day (weekend, a holiday's name, ...), or None
        when a run is expected on it. extraBusinessDays win over everything else."""
        if business_date in self.extra_business_days:
            return None
        if business_date in self.extra_holidays:
            return "holiday (extraHolidays)"
        if business_date.weekday() not in self.weekdays:
            return "weekend" if business_date.weekday() >= 5 else "not a scheduled weekday"
        if self.holidays:
            name = holiday_name(self.holidays, business_date)
            if name:
                return f"holiday: {name} ({self.holidays})"
        if self.calendar:
            closed = exchange_closure(self.calendar, business_date)
            if closed:
                return f"{self.calendar} closed" + ("" if closed == "closed" else f": {closed}")
        return None

    def is_business_day(self, business_date: date) -> bool:
        return self.closure(business_date) is None

    def _local(self, day: date, hhmm: str) -> datetime:
        hours, minutes = (int(part) for part in hhmm.split(":"))
        # fold=0: a skipped local time takes the offset before the change, a repeated one its first occurrence.
        return datetime.combine(day, time(hours, minutes), tzinfo=self.zone).astimezone(UTC)

    def due_at(self, business_date: date) -> datetime:
        """The UTC moment by which the run of `business_date` must be success (before grace)."""
        return self._local(business_date + timedelta(days=self.due_day_offset), self.due_by)

    def expected_at(self, business_date: date) -> datetime:
        """The UTC moment by which a run of `business_date` must exist (before grace): the last
        local `expectedBy` at or before the due time; the due time itself without expectedBy."""
        due = self.due_at(business_date)
        if self.expected_by is None:
            return due
        due_day = business_date + timedelta(days=self.due_day_offset)
        expected = self._local(due_day, self.expected_by)
        return expected if expected <= due else self._local(due_day - timedelta(days=1), self.expected_by)

    def local_date(self, moment: datetime) -> date:
        """The calendar date in the schedule's timezone at the UTC instant `moment`."""
        return moment.astimezone(self.zone).date()


class DatasetConfig(BaseModel):
    """One dataset of the registry (an item of DatasetTable, pk="DATASET")."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    dataset_name: DatasetName = Field(alias="datasetName", strict=True)
    environment: Environment = Environment.STAGING
    description: StrictStr = Field(default="", max_length=1000)
    locations: list[StrictStr] = Field(default_factory=list, max_length=1000)
    parts: StrictInt = Field(default=1, ge=1, le=MAX_PARTS)
    s3_prefix: StrictStr | None = Field(alias="s3Prefix", default=None, max_length=1024)
    schedule: Schedule | None = None

    @field_validator("locations")
    @classmethod
    def _locations(cls, value: list[str]) -> list[str]:
        for template in value:
            _template_fields(template)
            rendered = template.format(**_values("sample", _SAMPLE_DATE), part=1)
            try:
                validate_location(rendered)
            except ValueError as exc:
                raise ValueError(f"template {template!r} does not render to a valid location: {exc}") from exc
        if len(set(value)) != len(value):
            raise ValueError("locations must not repeat")
        return value

    @field_validator("s3_prefix")
    @classmethod
    def _s3_prefix(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        used = _template_fields(value)
        if "part" in used:
            raise ValueError("s3Prefix cannot use {part}")
        if not _S3_PREFIX.match(value.format(**_values("sample", _SAMPLE_DATE))):
            raise ValueError("s3Prefix must look like s3://bucket/prefix/{businessDate}/")
        return value

    @model_validator(mode="after")
    def _resolvable(self) -> Self:
        if not self.locations and not self.s3_prefix:
            raise ValueError("a dataset needs at least one location template or an s3Prefix")
        with_parts = sum(1 for t in self.locations if "part" in _template_fields(t))
        if self.parts > 1 and not with_parts:
            raise ValueError("parts is set but no location template uses {part}")
        if with_parts * self.parts + (len(self.locations) - with_parts) > MAX_LOCATIONS:
            raise ValueError(f"the templates expand to more than {MAX_LOCATIONS} locations")
        return self

    def to_item(self) -> dict[str, Any]:
        """The DynamoDB item (registry key pk="DATASET", RANGE datasetName)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {"pk": DATASET_PK, **data, "updatedAt": format_ts(utc_now())}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Self:
        """Load a stored item; attributes this version does not know are ignored."""
        plain = to_plain(item)
        known = {f.alias or name for name, f in cls.model_fields.items()}
        data = {k: v for k, v in plain.items() if k in known}
        schedule = data.get("schedule")
        if isinstance(schedule, dict):
            schedule_known = {f.alias or name for name, f in Schedule.model_fields.items()}
            data["schedule"] = {k: v for k, v in schedule.items() if k in schedule_known}
        return cls.model_validate(data)


def _validation_fields(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "__root__"
        message = str(error["msg"]).removeprefix("Value error, ")
        fields[f"{prefix}{location}"] = message
    return fields


def parse_dataset(data: Any) -> DatasetConfig:
    """Validate one dataset document; ValidationFailed (with per-field messages) if it is bad."""
    if not isinstance(data, dict):
        raise ValidationFailed("A dataset must be a JSON object.")
    try:
        return DatasetConfig.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("The dataset configuration is invalid.", fields=_validation_fields(exc)) from exc


def parse_dataset_documents(data: Any) -> list[DatasetConfig]:
    """Validate a whole registry file: a list of datasets or {"datasets": [...]}.

    Every entry is checked before anything is returned, so a caller writes all or nothing."""
    if isinstance(data, dict) and set(data) == {"datasets"}:
        data = data["datasets"]
    if not isinstance(data, list) or not data:
        raise ValidationFailed('Expected a non-empty list of datasets, or {"datasets": [...]}.')
    configs: list[DatasetConfig] = []
    fields: dict[str, str] = {}
    seen: set[str] = set()
    for index, entry in enumerate(data):
        name = entry.get("datasetName") if isinstance(entry, dict) else None
        prefix = f"datasets[{index}]" + (f" ({name})" if isinstance(name, str) and name else "")
        try:
            config = parse_dataset(entry)
        except ValidationFailed as exc:
            fields.update({f"{prefix}.{k}": v for k, v in exc.fields.items()} or {prefix: exc.message})
            continue
        if config.dataset_name in seen:
            fields[f"{prefix}.datasetName"] = f"dataset {config.dataset_name!r} appears more than once"
        seen.add(config.dataset_name)
        configs.append(config)
    if fields:
        raise ValidationFailed(f"{len(fields)} problem(s) in the dataset file; nothing was written.", fields=fields)
    return configs


class DatasetRepository:
    """The registry in DatasetTable: one partition (pk="DATASET"), so listing is a Query."""

    def __init__(self, client: Any, config: PipelineConfig, codec: CursorCodec) -> None:
        self.table = Table(client, config.dataset_table, codec, page_keys(config, config.dataset_table))

    def get(self, name: str) -> DatasetConfig:
        """The dataset called `name`; NotFound if it is not registered (or cannot be a key)."""
        if not key_fits(name, limit=MAX_SORT_KEY_BYTES):
            raise NotFound(f"Dataset {name[:64]!r} is not registered.")
        item = self.table.get({"pk": DATASET_PK, "datasetName": name})
        if item is None:
            raise NotFound(f"Dataset {name!r} is not registered.")
        return DatasetConfig.from_item(item)

    def put(self, config: DatasetConfig) -> DatasetConfig:
        """Create or replace one dataset (the registry is configuration: last write wins)."""
        self.table.call("put_item", Item=serialize(config.to_item()))
        self.register(config.dataset_name)
        return config

    def put_many(self, configs: Iterable[DatasetConfig]) -> int:
        """Create or replace many datasets with BatchWriteItem (retried, never dropped)."""
        configs = builtins.list(configs)
        items = [c.to_item() for c in configs]
        self.table.batch_put(items)
        known = self.registrations()
        for config in configs:
            if config.dataset_name not in known:
                self.register(config.dataset_name)
        return len(items)

    def register(self, name: str, at: datetime | None = None) -> bool:
        """Record when `name` was first registered; a no-op (False) when it already was.

        Conditional put (attribute_not_exists), so concurrent writers agree on the first time."""
        expr = Expr()
        item = {"pk": REGISTERED_PK, "datasetName": name, "registeredAt": format_ts(at or utc_now())}
        try:
            self.table.call(
                "put_item", Item=serialize(item),
                ConditionExpression=f"attribute_not_exists({expr.name('datasetName')})", **expr.kwargs(),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def registered_at(self, name: str) -> datetime | None:
        """When `name` was first registered (one GetItem), or None (unrecorded or unreadable)."""
        item = self.table.get({"pk": REGISTERED_PK, "datasetName": name})
        try:
            return parse_ts(str(item["registeredAt"])) if item else None
        except (KeyError, ValueError):
            return None  # a damaged record must not break a read

    def registrations(self) -> dict[str, datetime]:
        """When each dataset was first registered (one Query, every page). Datasets stored
        before registration records existed have none until the evaluator records one."""
        expr = Expr()
        request = {"KeyConditionExpression": f"{expr.name('pk')} = {expr.value(REGISTERED_PK)}", **expr.kwargs()}
        out: dict[str, datetime] = {}
        for item in self.table.query_all(request):
            try:
                out[str(item["datasetName"])] = parse_ts(str(item["registeredAt"]))
            except (KeyError, ValueError):
                continue  # a damaged record must not break a read: treated as unregistered
        return out

    def list(self, *, limit: int = 100, cursor: str | None = None) -> Page[DatasetConfig]:
        """Registered datasets in name order, one page at a time (signed cursor)."""
        expr = Expr()
        request = {
            "KeyConditionExpression": f"{expr.name('pk')} = {expr.value(DATASET_PK)}",
            **expr.kwargs(),
        }
        return self.table.query_page(
            kind="datasets", params={}, request=request, limit=limit, cursor=cursor, load=DatasetConfig.from_item
        )

    def names(self) -> builtins.list[str]:
        """Every registered dataset name, in name order: the same Query as `all`, projected to the
        names (nothing is parsed: a page that only matches names never loads exchange calendars)."""
        expr = Expr()
        request = {
            "KeyConditionExpression": f"{expr.name('pk')} = {expr.value(DATASET_PK)}",
            "ProjectionExpression": expr.name("datasetName"),
            **expr.kwargs(),
        }
        items = self.table.query_all(request)
        return [item["datasetName"] for item in items if isinstance(item.get("datasetName"), str)]

    def all(self) -> builtins.list[DatasetConfig]:
        """Every registered dataset (follows every page)."""
        expr = Expr()
        request = {"KeyConditionExpression": f"{expr.name('pk')} = {expr.value(DATASET_PK)}", **expr.kwargs()}
        return [DatasetConfig.from_item(item) for item in self.table.query_all(request)]


def expand_templates(config: DatasetConfig, business_date: date) -> list[str]:
    """The locations the templates give for one business date (no S3 listing)."""
    values = _values(config.dataset_name, business_date)
    out: list[str] = []
    for template in config.locations:
        if "part" in _template_fields(template):
            out.extend(template.format(**values, part=part) for part in range(1, config.parts + 1))
        else:
            out.append(template.format(**values))
    return out


def list_s3_prefix(s3_client: Any, prefix_url: str) -> list[str]:
    """Every object under an s3://bucket/prefix, following ListObjectsV2 continuation tokens."""
    match = _S3_PREFIX.match(prefix_url)
    if not match:
        raise ValidationFailed(f"{prefix_url!r} is not an s3://bucket/prefix URL.")
    bucket, prefix = match.group(1), match.group(2)
    locations: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        try:
            response = s3_client.list_objects_v2(**kwargs)
        except ClientError as exc:
            if error_code(exc) == "NoSuchBucket":
                raise NotFound(f"S3 bucket {bucket!r} does not exist.") from exc
            if error_code(exc) in {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"}:
                raise StoreUnavailable("S3 is unavailable or throttling; try again shortly.") from exc
            raise
        except BotoCoreError as exc:
            raise StoreUnavailable("S3 could not be reached in time.") from exc
        for obj in response.get("Contents", []):
            key = str(obj["Key"])
            # Zero-byte "folder" markers are not files.
            if not key.endswith("/"):
                locations.append(f"s3://{bucket}/{key}")
        token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
        if not token:
            return locations


def resolve_locations(config: DatasetConfig, business_date: date | str, s3_client: Any | None = None) -> list[str]:
    """The file locations of one run: expanded templates, then the S3 prefix listing.

    Duplicates collapse (first occurrence wins, order kept). `s3_client` is only needed when
    the dataset has an s3Prefix; without one, the process-wide client for the environment's
    configuration is used."""
    day = parse_business_date(business_date)
    locations = expand_templates(config, day)
    if config.s3_prefix:
        if s3_client is None:
            from .clients import get_client

            s3_client = get_client("s3", PipelineConfig.from_env())
        prefix = config.s3_prefix.format(**_values(config.dataset_name, day))
        locations.extend(list_s3_prefix(s3_client, prefix))
    return list(dict.fromkeys(locations))


def expected_dates(config: DatasetConfig, start: date, end: date) -> list[date]:
    """Business dates in [start, end] on which the schedule expects a run (none without one)."""
    if config.schedule is None or end < start:
        return []
    schedule = config.schedule
    days = (end - start).days + 1
    return [d for d in (start + timedelta(days=i) for i in range(days)) if schedule.is_business_day(d)]


def is_overdue(config: DatasetConfig, business_date: date, now: datetime | None = None) -> bool:
    """True when a run of `business_date` is expected and its due time has passed."""
    if config.schedule is None or not config.schedule.is_business_day(business_date):
        return False
    return (now or utc_now()) >= config.schedule.due_at(business_date)
