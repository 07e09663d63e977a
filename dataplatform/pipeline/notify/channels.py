"""Notification channels: validated bodies, the stored item, and the conditional repository.

ChannelTable: HASH `pk`, RANGE `sk`. Channels live in partition pk="channel" (sk = channelId),
silences in pk="silence" (see silences.py), so each list is one single-partition Query.
Webhook secrets are write-only: returned once by `create` (and by `rotate_secret`), never by
`get`/`list`/`public()`. URLs are shown back redacted (query strings and Slack tokens masked)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import EmailStr, Field, ValidationError, field_validator, model_validator

from ..config import PipelineConfig
from ..cursor import CursorCodec
from ..dynamo import Expr, Page, Table, deserialize, is_condition_failure, serialize
from ..errors import AlreadyExists, InvalidTransition, NotFound, ValidationFailed
from ..models import DatasetName, Environment, UtcTimestamp, _Item
from ..schema import page_keys
from ..timeutil import format_ts, utc_now
from .models import AlertKind, AuditFacts, StrictBody, matches
from .settings import DEFAULT_REPEAT_MINUTES
from .signing import generate_secret, secret_key

ChannelKind = Literal["webhook", "slack", "email"]
CHANNEL_PARTITION = "channel"
MAX_URL_LENGTH = 2048
MAX_NAME_LENGTH = 100
MAX_RECIPIENTS = 20
MAX_REASON_LENGTH = 500


def check_url(value: str, *, https_only: bool = False) -> str:
    """An absolute http(s) URL with a host and no credentials; ValueError otherwise."""
    if len(value) > MAX_URL_LENGTH or any(c.isspace() for c in value):
        raise ValueError(f"url must be at most {MAX_URL_LENGTH} characters without spaces")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"url is not a valid URL: {exc}") from exc
    allowed = {"https"} if https_only else {"http", "https"}
    if parts.scheme not in allowed or not parts.hostname:
        raise ValueError("url must be an https:// URL" if https_only else "url must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("url must not contain credentials (user:password@); put secrets in the channel secret")
    return value


def redact_url(value: str | None, kind: str) -> str | None:
    """The URL as shown back: no userinfo, query values hidden, a Slack webhook's token masked."""
    if not value:
        return value
    parts = urlsplit(value)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    path = parts.path
    if kind == "slack":
        segments = path.split("/")
        if len(segments) > 1 and segments[-1]:
            segments[-1] = "****"
        path = "/".join(segments)
    query = "?****" if parts.query else ""
    return f"{parts.scheme}://{netloc}{path}{query}"


def _check_secret(value: str | None) -> str | None:
    if value is not None:
        secret_key(value)
    return value


def _check_repeat(value: list[int] | None) -> list[int] | None:
    if value is None:
        return None
    if len(value) > 10:
        raise ValueError("repeatMinutes takes at most 10 steps (the last one repeats)")
    for minutes in value:
        if not 5 <= minutes <= 7 * 24 * 60:
            raise ValueError("each repeatMinutes step must be between 5 and 10080 minutes")
    return value


class _ChannelFields(StrictBody):
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    url: str | None = None
    to: list[EmailStr] | None = Field(default=None, min_length=1, max_length=MAX_RECIPIENTS)
    secret: str | None = None
    datasets: list[DatasetName] | None = Field(default=None, max_length=500)
    environments: list[Environment] | None = None
    kinds: list[AlertKind] | None = None
    repeat_minutes: list[int] | None = Field(default=None, alias="repeatMinutes")

    _secret = field_validator("secret")(_check_secret)
    _repeat = field_validator("repeat_minutes")(_check_repeat)


class ChannelCreate(_ChannelFields):
    """Body of a channel creation (SPEC section 9); empty subscription lists mean "all"."""

    kind: ChannelKind
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)

    @model_validator(mode="after")
    def _per_kind(self) -> Self:
        check_kind_fields(self.kind, url=self.url, to=self.to, secret=self.secret, creating=True)
        return self


class ChannelPatch(_ChannelFields):
    """Body of a channel update: only the given fields change; the kind never does."""

    rotate_secret: bool = Field(default=False, alias="rotateSecret")


def check_kind_fields(
    kind: str, *, url: str | None, to: list[str] | None, secret: str | None, creating: bool
) -> None:
    """Which of url / to / secret a kind takes; ValueError naming the field otherwise."""
    if kind in {"webhook", "slack"}:
        if creating and not url:
            raise ValueError(f"a {kind} channel needs a url")
        if url is not None:
            check_url(url, https_only=kind == "slack")
        if to is not None:
            raise ValueError(f"a {kind} channel takes a url, not 'to'")
        if kind == "slack" and secret is not None:
            raise ValueError("a slack channel takes no secret (its webhook URL is the secret)")
    else:
        if creating and not to:
            raise ValueError("an email channel needs 'to': a list of addresses")
        if url is not None or secret is not None:
            raise ValueError("an email channel takes 'to' addresses, not a url or secret")


class Channel(_Item):
    """A stored channel (tolerant on read). `secret` never leaves through `public()`."""

    channel_id: str = Field(alias="channelId", min_length=1)
    kind: ChannelKind
    name: str
    url: str | None = None
    to: list[str] = Field(default_factory=list)
    secret: str | None = None
    datasets: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)
    kinds: list[str] = Field(default_factory=list)
    repeat_minutes: list[int] = Field(alias="repeatMinutes", default_factory=lambda: list(DEFAULT_REPEAT_MINUTES))
    enabled: bool = True
    disabled_reason: str | None = Field(alias="disabledReason", default=None)
    disabled_at: UtcTimestamp | None = Field(alias="disabledAt", default=None)
    created_at: UtcTimestamp = Field(alias="createdAt")
    created_by: str | None = Field(alias="createdBy", default=None)
    updated_at: UtcTimestamp | None = Field(alias="updatedAt", default=None)

    def subscribed(self, *, dataset_name: str | None, environment: str | None, kind: str | None) -> bool:
        """Whether this channel wants alerts about that dataset, environment and kind."""
        return (
            matches(self.datasets, dataset_name)
            and matches(self.environments, environment)
            and matches(self.kinds, kind)
        )

    def public(self) -> dict[str, Any]:
        """What the API and pages show: no secret, URL redacted, `hasSecret` instead."""
        data = self.model_dump(mode="json", by_alias=True, exclude={"secret"})
        data["url"] = redact_url(self.url, self.kind)
        data["hasSecret"] = bool(self.secret)
        return data


class ChannelResult:
    """The outcome of one channel operation: the channel, a secret shown once, audit facts."""

    def __init__(self, channel: Channel | None, audit: AuditFacts, secret: str | None = None) -> None:
        self.channel = channel
        self.audit = audit
        self.secret = secret


def _validation_error(exc: ValidationError) -> ValidationFailed:
    fields: dict[str, str] = {}
    for error in exc.errors():
        location = ".".join(str(p) for p in error.get("loc", ())) or "body"
        message = str(error.get("msg", "invalid"))
        fields.setdefault(location, message.removeprefix("Value error, "))
    summary = "; ".join(f"{k}: {v}" for k, v in fields.items())
    return ValidationFailed(f"Invalid channel: {summary}", fields)


def parse_body(model: type[StrictBody], body: Any) -> Any:
    """Validate a request body with one of the notify body models; ValidationFailed if bad."""
    if isinstance(body, model):
        return body
    if not isinstance(body, dict):
        raise ValidationFailed("The body must be a JSON object.", {"body": "must be a JSON object"})
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _validation_error(exc) from exc


class ChannelRepository:
    """Channels in ChannelTable partition "channel"; every write is conditional."""

    def __init__(self, client: Any, config: PipelineConfig, codec: CursorCodec) -> None:
        self.table = Table(client, config.channel_table, codec, page_keys(config, config.channel_table))

    @staticmethod
    def _key(channel_id: str) -> dict[str, str]:
        return {"pk": CHANNEL_PARTITION, "sk": channel_id}

    def create(self, body: Any, *, actor: str, now: datetime | None = None) -> ChannelResult:
        """Create a channel; a webhook without a secret gets one, returned ONCE in the result."""
        request: ChannelCreate = parse_body(ChannelCreate, body)
        now = now or utc_now()
        generated = generate_secret() if request.kind == "webhook" and not request.secret else None
        channel = Channel.model_validate(
            {
                "channelId": uuid.uuid4().hex,
                "kind": request.kind,
                "name": request.name,
                "url": request.url,
                "to": [str(a) for a in request.to or []],
                "secret": generated or request.secret,
                "datasets": request.datasets or [],
                "environments": [str(e) for e in request.environments or []],
                "kinds": request.kinds or [],
                "repeatMinutes": (
                    request.repeat_minutes if request.repeat_minutes is not None else list(DEFAULT_REPEAT_MINUTES)
                ),
                "createdAt": now,
                "createdBy": actor,
                "updatedAt": now,
            }
        )
        expr = Expr()
        try:
            self.table.call(
                "put_item",
                Item=serialize({**self._key(channel.channel_id), **channel.to_item()}),
                ConditionExpression=f"attribute_not_exists({expr.name('sk')})",
                **expr.kwargs(),
            )
        except Exception as exc:
            if is_condition_failure(exc):
                raise AlreadyExists(f"Channel {channel.channel_id} already exists.") from exc
            raise
        return ChannelResult(
            channel, self._facts("channel.create", actor, channel, {"kind": channel.kind}), secret=generated
        )

    def get(self, channel_id: str, *, consistent: bool = True) -> Channel:
        """One channel; NotFound when absent."""
        item = self.table.get(self._key(channel_id), consistent=consistent)
        if item is None:
            raise NotFound(f"Channel {channel_id} does not exist.")
        return Channel.from_item(item)

    def all(self) -> list[Channel]:
        """Every channel (one single-partition Query, every page), oldest first."""
        expr = Expr()
        request = {
            "KeyConditionExpression": f"{expr.name('pk')} = {expr.value(CHANNEL_PARTITION)}",
            **expr.kwargs(),
        }
        channels = [Channel.from_item(item) for item in self.table.query_all(request)]
        return sorted(channels, key=lambda c: (c.created_at, c.channel_id))

    def list_page(self, *, limit: int = 50, cursor: str | None = None) -> Page[Channel]:
        """Channels one signed-cursor page at a time (ordered by channel id)."""
        expr = Expr()
        request = {
            "KeyConditionExpression": f"{expr.name('pk')} = {expr.value(CHANNEL_PARTITION)}",
            **expr.kwargs(),
        }
        return self.table.query_page(
            kind="channels", params={}, request=request, limit=limit, cursor=cursor, load=Channel.from_item
        )

    def _update(
        self,
        channel_id: str,
        *,
        set_values: dict[str, Any] | None = None,
        remove: list[str] | None = None,
        condition: str | None = None,
        expr: Expr | None = None,
        refused: str = "",
    ) -> Channel:
        expr = expr or Expr()
        exists = f"attribute_exists({expr.name('sk')})"
        update = expr.update(set_values=set_values, remove=remove)
        try:
            response = self.table.call(
                "update_item",
                Key=serialize(self._key(channel_id)),
                UpdateExpression=update,
                ConditionExpression=f"{exists} AND ({condition})" if condition else exists,
                ReturnValues="ALL_NEW",
                **expr.kwargs(),
            )
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
            current = self.get(channel_id)  # NotFound when it is gone
            state = "enabled" if current.enabled else "disabled"
            raise InvalidTransition(refused or f"Channel {channel_id} changed meanwhile.", current=state) from exc
        return Channel.from_item(deserialize(response["Attributes"]))

    def patch(self, channel_id: str, body: Any, *, actor: str, now: datetime | None = None) -> ChannelResult:
        """Change the given fields (validated against the stored kind); `rotateSecret` makes a
        new webhook secret, returned once."""
        request: ChannelPatch = parse_body(ChannelPatch, body)
        current = self.get(channel_id)
        try:
            check_kind_fields(current.kind, url=request.url, to=request.to, secret=request.secret, creating=False)
        except ValueError as exc:
            raise ValidationFailed(f"Invalid channel: {exc}", {"body": str(exc)}) from exc
        if request.rotate_secret and current.kind != "webhook":
            raise ValidationFailed("Only webhook channels have a secret.", {"rotateSecret": "webhook channels only"})
        given = request.model_dump(by_alias=True, exclude_unset=True, exclude={"rotate_secret"})
        if "name" in given and not request.name:
            raise ValidationFailed("Invalid channel: name must not be empty.", {"name": "must not be empty"})
        values: dict[str, Any] = {}
        for key, value in given.items():
            if value is None:
                raise ValidationFailed(f"Invalid channel: {key} cannot be null.", {key: "cannot be null"})
            values[key] = [str(v) for v in value] if key in {"to", "environments"} else value
        generated = generate_secret() if request.rotate_secret else None
        if generated:
            values["secret"] = generated
        values["updatedAt"] = now or utc_now()
        channel = self._update(channel_id, set_values=values)
        changed = sorted(k for k in values if k != "updatedAt")
        return ChannelResult(channel, self._facts("channel.update", actor, channel, {"fields": changed}), generated)

    def delete(self, channel_id: str, *, actor: str) -> ChannelResult:
        """Delete a channel (NotFound if absent). Its pending deliveries end as `skipped`."""
        expr = Expr()
        try:
            response = self.table.call(
                "delete_item",
                Key=serialize(self._key(channel_id)),
                ConditionExpression=f"attribute_exists({expr.name('sk')})",
                ReturnValues="ALL_OLD",
                **expr.kwargs(),
            )
        except Exception as exc:
            if is_condition_failure(exc):
                raise NotFound(f"Channel {channel_id} does not exist.") from exc
            raise
        channel = Channel.from_item(deserialize(response["Attributes"]))
        return ChannelResult(None, self._facts("channel.delete", actor, channel, {"kind": channel.kind}))

    def disable(self, channel_id: str, *, reason: str, actor: str, now: datetime | None = None) -> ChannelResult:
        """enabled → disabled with a reason (a person, or the sender after a permanent failure)."""
        reason = (reason or "").strip()[:MAX_REASON_LENGTH]
        if not reason:
            raise ValidationFailed("A reason is required to disable a channel.", {"reason": "required"})
        expr = Expr()
        now = now or utc_now()
        condition = f"{expr.name('enabled')} = {expr.value(True)}"
        channel = self._update(
            channel_id,
            set_values={"enabled": False, "disabledReason": reason, "disabledAt": now, "updatedAt": now},
            condition=condition,
            expr=expr,
            refused=f"Channel {channel_id} is already disabled.",
        )
        facts = self._facts("channel.disable", actor, channel, {})
        return ChannelResult(channel, AuditFacts(**{**facts.__dict__, "reason": reason}))

    def enable(self, channel_id: str, *, actor: str, now: datetime | None = None) -> ChannelResult:
        """disabled → enabled; the disable reason is cleared."""
        expr = Expr()
        condition = f"{expr.name('enabled')} = {expr.value(False)}"
        channel = self._update(
            channel_id,
            set_values={"enabled": True, "updatedAt": now or utc_now()},
            remove=["disabledReason", "disabledAt"],
            condition=condition,
            expr=expr,
            refused=f"Channel {channel_id} is already enabled.",
        )
        return ChannelResult(channel, self._facts("channel.enable", actor, channel, {}))

    def acquire_lease(self, channel_id: str, *, owner: str, now: datetime, seconds: int) -> bool:
        """Take the channel's send lease if free or expired: one sender per channel at a time,
        which also makes grouping race-free. False when another sender holds it (or gone)."""
        expr = Expr()
        lease = expr.name("leaseUntil")
        free = f"attribute_not_exists({lease}) OR {lease} < {expr.value(format_ts(now))}"
        until = format_ts(now + timedelta(seconds=seconds))
        update = expr.update(set_values={"leaseUntil": until, "leaseOwner": owner})
        try:
            self.table.call(
                "update_item",
                Key=serialize(self._key(channel_id)),
                UpdateExpression=update,
                ConditionExpression=f"attribute_exists({expr.name('sk')}) AND ({free})",
                **expr.kwargs(),
            )
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def release_lease(self, channel_id: str, *, owner: str) -> None:
        """Give the lease back (only if still ours; an expired and re-taken lease is left alone)."""
        expr = Expr()
        update = expr.update(remove=["leaseUntil", "leaseOwner"])
        try:
            self.table.call(
                "update_item",
                Key=serialize(self._key(channel_id)),
                UpdateExpression=update,
                ConditionExpression=f"{expr.name('leaseOwner')} = {expr.value(owner)}",
                **expr.kwargs(),
            )
        except Exception as exc:
            if not is_condition_failure(exc):
                raise

    @staticmethod
    def _facts(action: str, actor: str, channel: Channel, detail: dict[str, Any]) -> AuditFacts:
        return AuditFacts(
            action=action,
            actor=actor,
            target_id=f"channel#{channel.channel_id}",
            target=f"channel {channel.name} ({channel.kind})",
            detail={"channelId": channel.channel_id, **detail},
        )
