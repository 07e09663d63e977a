"""Serializers of the channel and silence API: strict JSON types at the boundary (the core then
checks the rules a schema cannot say: per-kind fields, URLs, secrets, spans), camelCase output."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from dataplatform.api.fields import (
    CHANNEL_KINDS,
    ENVIRONMENTS,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    StrictSerializer,
)
from dataplatform.pipeline.notify import Channel, Silence
from dataplatform.pipeline.notify.channels import MAX_NAME_LENGTH, MAX_RECIPIENTS, MAX_URL_LENGTH
from dataplatform.pipeline.notify.models import ALERT_KINDS
from dataplatform.pipeline.notify.silences import DAY_NAMES, MAX_REASON_LENGTH
from dataplatform.pipeline.timeutil import parse_ts

SILENCE_STATUSES = ["active", "upcoming", "expired"]
MAX_SECRET_LENGTH = 200
MAX_DATASETS = 500


@extend_schema_field(OpenApiTypes.DATETIME)
class TimestampField(serializers.Field):  # type: ignore[type-arg]
    """An ISO-8601 instant with its UTC offset (`Z` or `+hh:mm`); kept as the string given."""

    default_error_messages = {"invalid": "Must be an ISO-8601 date-time with a UTC offset (e.g. 2026-03-02T07:00:00Z)."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or len(data) > 40:
            self.fail("invalid")
        text = data.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            self.fail("invalid")
        if parsed.tzinfo is None:
            self.fail("invalid")
        return parse_ts(parsed).isoformat()

    def to_representation(self, value: Any) -> str:
        return str(value)


def _list(child: serializers.Field, **kwargs: Any) -> serializers.ListField:  # type: ignore[type-arg]
    return serializers.ListField(child=child, required=False, **kwargs)


class _ChannelFields(StrictSerializer):
    name = StrictCharField(required=False, max_length=MAX_NAME_LENGTH)
    url = StrictCharField(required=False, max_length=MAX_URL_LENGTH,
                          help_text="webhook and slack: http(s) URL without credentials (slack: https only).")
    to = _list(StrictCharField(max_length=254), min_length=1, max_length=MAX_RECIPIENTS,
               help_text="email: the recipients' addresses.")
    secret = StrictCharField(required=False, max_length=MAX_SECRET_LENGTH, write_only=True,
                             help_text="webhook: whsec_<base64> (24-64 bytes); generated when absent. Write-only.")
    datasets = _list(StrictCharField(max_length=128), max_length=MAX_DATASETS, help_text="Empty = all datasets.")
    environments = _list(StrictChoiceField(choices=ENVIRONMENTS), help_text="Empty = all environments.")
    kinds = _list(StrictChoiceField(choices=list(ALERT_KINDS)), help_text="Empty = all alert kinds.")
    repeatMinutes = _list(StrictIntegerField(min_value=5, max_value=7 * 24 * 60), max_length=10,
                          help_text="Waits between repeats of an open, unacknowledged alert (the last one "
                                    "repeats); [] = never repeat.")


class ChannelCreateSerializer(_ChannelFields):
    """Body of POST /channels/."""

    kind = StrictChoiceField(choices=CHANNEL_KINDS)
    name = StrictCharField(max_length=MAX_NAME_LENGTH)


class ChannelPatchSerializer(_ChannelFields):
    """Body of PATCH /channels/{id}/: only the given fields change (the kind never does);
    `enabled` disables (with `disabledReason`) or re-enables; `rotateSecret` makes a new
    webhook secret, answered once."""

    enabled = StrictBooleanField(required=False)
    disabledReason = StrictCharField(required=False, max_length=MAX_REASON_LENGTH)
    rotateSecret = StrictBooleanField(required=False)


class ChannelSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A channel as shown back: no secret (`hasSecret` instead), URL redacted."""

    channelId = serializers.CharField()
    kind = serializers.ChoiceField(choices=CHANNEL_KINDS)
    name = serializers.CharField()
    url = serializers.CharField(allow_null=True, help_text="Redacted: query values and Slack tokens masked.")
    to = serializers.ListField(child=serializers.CharField())
    hasSecret = serializers.BooleanField()
    datasets = serializers.ListField(child=serializers.CharField())
    environments = serializers.ListField(child=serializers.CharField())
    kinds = serializers.ListField(child=serializers.CharField())
    repeatMinutes = serializers.ListField(child=serializers.IntegerField())
    enabled = serializers.BooleanField()
    disabledReason = serializers.CharField(allow_null=True)
    disabledAt = serializers.DateTimeField(allow_null=True)
    createdAt = serializers.DateTimeField()
    createdBy = serializers.CharField(allow_null=True)
    updatedAt = serializers.DateTimeField(allow_null=True)


class ChannelWithSecretSerializer(ChannelSerializer):
    """A channel just created or re-keyed: `secret` is the generated webhook secret, shown this
    once (null when the secret was given or the kind has none)."""

    secret = serializers.CharField(allow_null=True)


class TestResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The outcome of a channel's test message (200 whether or not the receiver took it)."""

    channelId = serializers.CharField()
    messageId = serializers.CharField(help_text="The webhook-id of the test message.")
    ok = serializers.BooleanField()
    statusCode = serializers.IntegerField(allow_null=True)
    durationMs = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)
    permanent = serializers.BooleanField(help_text="The failure would disable the channel in real delivery.")


class MatchersSerializer(StrictSerializer):
    """What a silence selects; a matcher left out matches anything."""

    datasetName = StrictCharField(required=False, max_length=128)
    environment = StrictChoiceField(required=False, choices=ENVIRONMENTS)
    kind = StrictChoiceField(required=False, choices=list(ALERT_KINDS))


class WindowSerializer(StrictSerializer):
    """A weekly maintenance window: on these days, from `start` to `end` local time in
    `timezone` (an end at or before the start ends the next day)."""

    days = serializers.ListField(child=StrictChoiceField(choices=list(DAY_NAMES)), min_length=1, max_length=7)
    start = StrictCharField(max_length=5, help_text="HH:MM local time.")
    end = StrictCharField(max_length=5, help_text="HH:MM local time.")
    timezone = StrictCharField(required=False, max_length=64, help_text="IANA timezone; default UTC.")


class SilenceCreateSerializer(StrictSerializer):
    """Body of POST /silences/: `endsAt` is required (no silence lasts for ever)."""

    matchers = MatchersSerializer(required=False)
    startsAt = TimestampField(required=False, help_text="Default: now.")
    endsAt = TimestampField()
    reason = StrictCharField(max_length=MAX_REASON_LENGTH)
    window = WindowSerializer(required=False, help_text="Only inside these weekly hours (maintenance window).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        starts, ends = attrs.get("startsAt"), attrs.get("endsAt")
        if starts and ends and parse_ts(ends) <= parse_ts(starts):
            raise serializers.ValidationError({"endsAt": ["Must be after startsAt."]})
        return attrs

    def core_body(self) -> dict[str, Any]:
        """The validated body in the core's flat shape (matchers spread out)."""
        data = dict(self.validated_data)
        matchers = dict(data.pop("matchers", None) or {})
        if "window" in data:
            data["window"] = dict(data["window"])
        return {**matchers, **data}


class SilenceListQuery(serializers.Serializer):  # type: ignore[type-arg]
    status = StrictChoiceField(required=False, choices=SILENCE_STATUSES)


class SilenceMatchersOut(serializers.Serializer):  # type: ignore[type-arg]
    datasetName = serializers.CharField(required=False)
    environment = serializers.CharField(required=False)
    kind = serializers.CharField(required=False)


class WindowOut(serializers.Serializer):  # type: ignore[type-arg]
    days = serializers.ListField(child=serializers.CharField())
    start = serializers.CharField()
    end = serializers.CharField()
    timezone = serializers.CharField()


class SilenceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A silence with its status now."""

    silenceId = serializers.CharField()
    matchers = SilenceMatchersOut()
    startsAt = serializers.DateTimeField()
    endsAt = serializers.DateTimeField()
    author = serializers.CharField()
    reason = serializers.CharField()
    window = WindowOut(allow_null=True)
    createdAt = serializers.DateTimeField()
    expiredBy = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=SILENCE_STATUSES)


@extend_schema_serializer(many=False)
class SilenceListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    results = SilenceSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="Always null: every silence fits one answer.")


def channel_json(channel: Channel, *, secret: str | None = None, with_secret: bool = False) -> dict[str, Any]:
    """The API view of a channel (`Channel.public()`), with the once-shown secret when asked."""
    data = channel.public()
    out = {name: data.get(name) for name in ChannelSerializer._declared_fields}
    if with_secret:
        out["secret"] = secret
    return out


def silence_json(silence: Silence, now: datetime | None = None) -> dict[str, Any]:
    """The API view of a silence: matchers grouped as in the request body."""
    data = silence.public(now)
    matchers = {k: data[k] for k in ("datasetName", "environment", "kind") if data.get(k)}
    return {
        "silenceId": data["silenceId"],
        "matchers": matchers,
        "startsAt": data["startsAt"],
        "endsAt": data["endsAt"],
        "author": data["author"],
        "reason": data["reason"],
        "window": data.get("window"),
        "createdAt": data["createdAt"],
        "expiredBy": data.get("expiredBy"),
        "status": data["status"],
    }
