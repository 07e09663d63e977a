"""Silences: matchers (dataset, environment, kind; absent = any), a start, an end that always
comes, an author and a reason; optionally a weekly maintenance window in an IANA timezone.

Stored in ChannelTable partition pk="silence" (sk = silenceId): listing is one single-partition
Query. "Deleting" a silence expires it now (the record stays for the audit trail).

A silence is *active* between `startsAt` and `endsAt`; it is *in effect* at an instant when it
is active and, if it has a weekly window, the instant falls inside one of the window's
occurrences. Window occurrences are computed in the window's timezone and compared in UTC, so
they stay at the same local hours across daylight-saving changes (a local time that does not
exist on a spring-forward day moves forward by the gap: 02:30 becomes 03:30)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from ..config import PipelineConfig
from ..cursor import CursorCodec
from ..dynamo import Expr, Table, deserialize, is_condition_failure, serialize
from ..errors import InvalidTransition, NotFound, ValidationFailed
from ..models import DatasetName, Environment, UtcTimestamp, _Item
from ..schema import page_keys
from ..timeutil import utc_now
from .channels import parse_body
from .models import AlertKind, AuditFacts, StrictBody

SILENCE_PARTITION = "silence"
MAX_SILENCE = timedelta(days=90)
MAX_WINDOWED_SILENCE = timedelta(days=366)
MAX_REASON_LENGTH = 500
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SilenceStatus = Literal["upcoming", "active", "expired"]


def _clock(value: str) -> str:
    try:
        parsed = time.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValueError("must be a local time written HH:MM") from exc
    if parsed.second or parsed.microsecond or parsed.tzinfo or len(value) != 5:
        raise ValueError("must be a local time written HH:MM")
    return value


class WeeklyWindow(StrictBody):
    """A weekly maintenance window: on these days, from `start` to `end` local time in `timezone`;
    an `end` at or before `start` ends the next day (e.g. sat 22:00 to 02:00)."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1, max_length=7)
    start: str
    end: str
    timezone: str = "UTC"

    _start = field_validator("start")(_clock)
    _end = field_validator("end")(_clock)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    def occurrence_around(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The window occurrence (start, end in UTC) containing `at`, if any."""
        zone = ZoneInfo(self.timezone)
        start, end = time.fromisoformat(self.start), time.fromisoformat(self.end)
        wraps = end <= start
        local_day = at.astimezone(zone).date()
        for day in (local_day - timedelta(days=1), local_day):
            if DAY_NAMES[day.weekday()] not in self.days:
                continue
            begins = _local(day, start, zone)
            ends = _local(day + timedelta(days=1) if wraps else day, end, zone)
            if begins <= at < ends:
                return begins, ends
        return None


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """A local wall time as an aware UTC instant (compared in UTC: aware datetimes sharing a
    tzinfo compare by wall time, which is wrong across a daylight-saving change)."""
    # fold=0: an ambiguous (fall-back) time is its first occurrence; a time inside a
    # spring-forward gap moves forward by the gap (02:30 becomes 03:30), as wall clocks do.
    return datetime.combine(day, clock).replace(tzinfo=zone).astimezone(UTC)


class SilenceCreate(StrictBody):
    """Body of a silence creation. Matchers left out match anything; `endsAt` is required."""

    dataset_name: DatasetName | None = Field(default=None, alias="datasetName")
    environment: Environment | None = None
    kind: AlertKind | None = None
    starts_at: UtcTimestamp | None = Field(default=None, alias="startsAt")
    ends_at: UtcTimestamp = Field(alias="endsAt")
    reason: str = Field(min_length=1, max_length=MAX_REASON_LENGTH)
    window: WeeklyWindow | None = None

    @model_validator(mode="after")
    def _span(self) -> Self:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("endsAt must be after startsAt")
        return self


class Silence(_Item):
    """A stored silence (tolerant on read)."""

    silence_id: str = Field(alias="silenceId", min_length=1)
    dataset_name: str | None = Field(default=None, alias="datasetName")
    environment: str | None = None
    kind: str | None = None
    starts_at: UtcTimestamp = Field(alias="startsAt")
    ends_at: UtcTimestamp = Field(alias="endsAt")
    author: str
    reason: str
    window: WeeklyWindow | None = None
    created_at: UtcTimestamp = Field(alias="createdAt")
    expired_by: str | None = Field(default=None, alias="expiredBy")

    def status(self, at: datetime) -> SilenceStatus:
        """upcoming / active / expired at an instant (a windowed silence is active all its span)."""
        if at < self.starts_at:
            return "upcoming"
        return "active" if at < self.ends_at else "expired"

    def matches(self, *, dataset_name: str | None, environment: str | None, kind: str | None) -> bool:
        """Whether the matchers select an episode (an absent matcher matches anything)."""
        return (
            (self.dataset_name is None or self.dataset_name == dataset_name)
            and (self.environment is None or self.environment == environment)
            and (self.kind is None or self.kind == kind)
        )

    def in_effect_until(self, at: datetime) -> datetime | None:
        """When the silence stops holding notifications, if it holds them at `at`; else None."""
        if self.status(at) != "active":
            return None
        if self.window is None:
            return self.ends_at
        occurrence = self.window.occurrence_around(at)
        if occurrence is None or occurrence[0] < self.starts_at:
            return None
        return min(occurrence[1], self.ends_at)

    def public(self, at: datetime | None = None) -> dict[str, Any]:
        """The API view, with the status at `at` (now by default)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["status"] = self.status(at or utc_now())
        return data


def silenced_until(
    silences: list[Silence], *, dataset_name: str | None, environment: str | None, kind: str | None, at: datetime
) -> tuple[datetime, str] | None:
    """(until, silenceId) of the silences holding an episode's notifications at `at`, or None.
    `until` is the latest end among them: nothing goes out before it."""
    held = [
        (until, s.silence_id)
        for s in silences
        if s.matches(dataset_name=dataset_name, environment=environment, kind=kind)
        and (until := s.in_effect_until(at)) is not None
    ]
    return max(held) if held else None


class SilenceResult:
    def __init__(self, silence: Silence, audit: AuditFacts) -> None:
        self.silence = silence
        self.audit = audit


class SilenceRepository:
    """Silences in ChannelTable partition "silence"; conditional writes only."""

    def __init__(self, client: Any, config: PipelineConfig, codec: CursorCodec) -> None:
        self.table = Table(client, config.channel_table, codec, page_keys(config, config.channel_table))

    @staticmethod
    def _key(silence_id: str) -> dict[str, str]:
        return {"pk": SILENCE_PARTITION, "sk": silence_id}

    def create(self, body: Any, *, actor: str, now: datetime | None = None) -> SilenceResult:
        """Create a silence. It must end (at most 90 days, 366 with a weekly window) and not
        already be over."""
        request: SilenceCreate = parse_body(SilenceCreate, body)
        now = now or utc_now()
        starts = request.starts_at or now
        if request.ends_at <= starts:
            raise ValidationFailed("endsAt must be after startsAt.", {"endsAt": "must be after startsAt"})
        if request.ends_at <= now:
            raise ValidationFailed("endsAt is in the past.", {"endsAt": "must be in the future"})
        longest = MAX_WINDOWED_SILENCE if request.window else MAX_SILENCE
        if request.ends_at - starts > longest:
            raise ValidationFailed(
                f"A silence lasts at most {longest.days} days.", {"endsAt": f"at most {longest.days} days after start"}
            )
        silence = Silence.model_validate(
            {
                "silenceId": uuid.uuid4().hex,
                "datasetName": request.dataset_name,
                "environment": request.environment.value if request.environment else None,
                "kind": request.kind,
                "startsAt": starts,
                "endsAt": request.ends_at,
                "author": actor,
                "reason": request.reason,
                "window": request.window.model_dump() if request.window else None,
                "createdAt": now,
            }
        )
        expr = Expr()
        self.table.call(
            "put_item",
            Item=serialize({**self._key(silence.silence_id), **silence.to_item()}),
            ConditionExpression=f"attribute_not_exists({expr.name('sk')})",
            **expr.kwargs(),
        )
        return SilenceResult(silence, self._facts("silence.create", actor, silence, request.reason))

    def get(self, silence_id: str) -> Silence:
        item = self.table.get(self._key(silence_id), consistent=True)
        if item is None:
            raise NotFound(f"Silence {silence_id} does not exist.")
        return Silence.from_item(item)

    def all(self) -> list[Silence]:
        """Every silence (one single-partition Query, every page)."""
        expr = Expr()
        request = {
            "KeyConditionExpression": f"{expr.name('pk')} = {expr.value(SILENCE_PARTITION)}",
            **expr.kwargs(),
        }
        return [Silence.from_item(item) for item in self.table.query_all(request)]

    def list(self, *, status: SilenceStatus | None = None, now: datetime | None = None) -> list[Silence]:
        """Silences with that status at `now` (all when None): active and upcoming soonest
        ending first, expired most recent first."""
        now = now or utc_now()
        chosen = [s for s in self.all() if status is None or s.status(now) == status]
        if status == "expired":
            return sorted(chosen, key=lambda s: s.ends_at, reverse=True)
        return sorted(chosen, key=lambda s: (s.starts_at, s.ends_at))

    def expire(self, silence_id: str, *, actor: str, now: datetime | None = None) -> SilenceResult:
        """End a silence now (the "delete"): refused (409) when it is already over."""
        now = now or utc_now()
        current = self.get(silence_id)
        values: dict[str, Any] = {"endsAt": now, "expiredBy": actor}
        if current.starts_at > now:
            values["startsAt"] = now  # an upcoming silence is cancelled: it never takes effect
        expr = Expr()
        update = expr.update(set_values=values)
        condition = f"attribute_exists({expr.name('sk')}) AND {expr.name('endsAt')} > {expr.value(now)}"
        try:
            response = self.table.call(
                "update_item",
                Key=serialize(self._key(silence_id)),
                UpdateExpression=update,
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
                **expr.kwargs(),
            )
        except Exception as exc:
            if is_condition_failure(exc):
                raise InvalidTransition(f"Silence {silence_id} has already ended.", current="expired") from exc
            raise
        silence = Silence.from_item(deserialize(response["Attributes"]))
        return SilenceResult(silence, self._facts("silence.expire", actor, silence, None))

    @staticmethod
    def _facts(action: str, actor: str, silence: Silence, reason: str | None) -> AuditFacts:
        matchers = {k: v for k, v in (("datasetName", silence.dataset_name), ("environment", silence.environment),
                                      ("kind", silence.kind)) if v}
        return AuditFacts(
            action=action,
            actor=actor,
            target_id=f"silence#{silence.silence_id}",
            target=f"silence {silence.silence_id}",
            reason=reason,
            detail={"silenceId": silence.silence_id, "matchers": matchers,
                    "startsAt": silence.starts_at.isoformat(), "endsAt": silence.ends_at.isoformat()},
        )
