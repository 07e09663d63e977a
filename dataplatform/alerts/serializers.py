"""Serializers of the alerts and expectations API: strict input, camelCase output."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from dataplatform.api.fields import DateStringField, StrictCharField, StrictChoiceField, StrictSerializer, regex_id
from dataplatform.api.pagination import PageQuery
from dataplatform.pipeline.alerts import MAX_NOTE_LENGTH, AlertState
from dataplatform.pipeline.expectations import AlertKind, ExpectationState
from dataplatform.pipeline.models import DATASET_NAME_PATTERN, Environment, to_plain


def _choices(kind: Any) -> list[str]:
    return [member.value for member in kind]


class ExpectationQuery(serializers.Serializer):  # type: ignore[type-arg]
    """Filters of GET /expectations/. Without `date`, each dataset's own today (the business
    date of now in the dataset's timezone)."""

    date = DateStringField(required=False, help_text="Business date (default: today in each dataset's timezone).")
    environment = StrictChoiceField(required=False, choices=_choices(Environment))
    datasetName = StrictCharField(
        required=False, max_length=128, validators=[regex_id(DATASET_NAME_PATTERN, "dataset name")]
    )


class ExpectationSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """What should have happened for one (dataset, environment, business date), and the run behind it."""

    datasetName = serializers.CharField()
    environment = serializers.ChoiceField(choices=_choices(Environment))
    businessDate = serializers.DateField()
    state = serializers.ChoiceField(choices=_choices(ExpectationState))
    reason = serializers.CharField(allow_null=True, help_text="Why the date is skipped (weekend, holiday...).")
    runId = serializers.CharField(allow_null=True, help_text="The latest non-cancelled run of the date.")
    runStatus = serializers.CharField(allow_null=True)
    runs = serializers.IntegerField(help_text="Runs of the date that count (created by the evaluation instant).")
    expectedAt = serializers.DateTimeField(allow_null=True, help_text="By when a run must exist.")
    missingAt = serializers.DateTimeField(allow_null=True, help_text="expectedAt + start grace.")
    dueAt = serializers.DateTimeField(allow_null=True, help_text="By when the run must have succeeded.")
    lateAt = serializers.DateTimeField(allow_null=True, help_text="dueAt + due grace.")
    lateMinutes = serializers.IntegerField(allow_null=True)
    idleMinutes = serializers.IntegerField(allow_null=True)
    alerts = serializers.ListField(child=serializers.ChoiceField(choices=_choices(AlertKind)))
    evaluatedAt = serializers.DateTimeField()


@extend_schema_serializer(many=False)  # one object, even on a "list" action
class ExpectationListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Every matching expectation (one per scheduled dataset and date: never more than the
    registry holds), so `next` is always null."""

    results = ExpectationSerializer(many=True)
    next = serializers.URLField(allow_null=True)


class AlertListQuery(PageQuery):
    """Filters of GET /alerts/: `state` (default `open` unless `datasetName` is given: then
    every state), `datasetName`, `kind`."""

    state = StrictChoiceField(required=False, choices=_choices(AlertState))
    datasetName = StrictCharField(
        required=False, max_length=128, validators=[regex_id(DATASET_NAME_PATTERN, "dataset name")]
    )
    kind = StrictChoiceField(required=False, choices=_choices(AlertKind))


class AlertSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One alert episode."""

    alertId = serializers.CharField()
    kind = serializers.ChoiceField(choices=_choices(AlertKind))
    datasetName = serializers.CharField()
    environment = serializers.ChoiceField(choices=_choices(Environment))
    businessDate = serializers.DateField()
    state = serializers.ChoiceField(choices=_choices(AlertState))
    openedAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField(allow_null=True)
    summary = serializers.CharField(allow_blank=True)
    runId = serializers.CharField(allow_null=True)
    lateMinutes = serializers.IntegerField(allow_null=True)
    acknowledgedBy = serializers.CharField(allow_null=True)
    acknowledgedAt = serializers.DateTimeField(allow_null=True)
    ackNote = serializers.CharField(allow_null=True)
    resolvedAt = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField(allow_null=True)
    openMinutes = serializers.IntegerField(allow_null=True)


class AttemptSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One delivery attempt."""

    at = serializers.DateTimeField()
    attempt = serializers.IntegerField()
    messageId = serializers.CharField(allow_null=True)
    statusCode = serializers.IntegerField(allow_null=True)
    durationMs = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)


class DeliverySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One notification to one channel: who was told, and every attempt."""

    channelId = serializers.CharField()
    channelKind = serializers.CharField(allow_null=True)
    channelName = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["pending", "sent", "failed", "skipped"])
    attemptCount = serializers.IntegerField()
    messageId = serializers.CharField(allow_null=True)
    sentAt = serializers.DateTimeField(allow_null=True)
    failReason = serializers.CharField(allow_null=True)
    nextAttemptAt = serializers.DateTimeField(allow_null=True)
    attempts = AttemptSerializer(many=True)


class NotificationSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One notification of the episode (opened, reminder, resolved) and its deliveries."""

    notificationId = serializers.CharField()
    type = serializers.CharField()
    createdAt = serializers.DateTimeField()
    deliveryState = serializers.CharField(allow_null=True, help_text="pending / held while being delivered")
    outcome = serializers.CharField(allow_null=True, help_text="sent, failed, skipped, silenced or unrouted")
    summary = serializers.CharField(allow_null=True)
    deliveries = DeliverySerializer(many=True)


class ScheduleItemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A repeat schedule (reminders on one channel) or a silence hold of the episode."""

    itemType = serializers.ChoiceField(choices=["reminder", "hold"])
    channelId = serializers.CharField(allow_null=True)
    deliveryState = serializers.CharField(allow_null=True, help_text="remind / held while active")
    dueAt = serializers.DateTimeField(allow_null=True)
    count = serializers.IntegerField(allow_null=True, help_text="reminders made")
    heldSince = serializers.DateTimeField(allow_null=True)
    heldType = serializers.CharField(allow_null=True)


class AlertDetailSerializer(AlertSerializer):
    """One episode with its notifications, their deliveries and attempts, and its schedules."""

    notifications = NotificationSerializer(many=True)
    schedules = ScheduleItemSerializer(many=True)


class AckSerializer(StrictSerializer):
    """Body of POST /alerts/{alertId}/ack/."""

    note = StrictCharField(required=False, max_length=MAX_NOTE_LENGTH, help_text="Why, or what is being done.")


def _pick(item: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: item.get(name) for name in fields}


ATTEMPT_FIELDS = ("at", "attempt", "messageId", "statusCode", "durationMs", "error")
DELIVERY_FIELDS = ("channelId", "channelKind", "channelName", "status", "attemptCount", "messageId", "sentAt",
                   "failReason", "nextAttemptAt")
NOTIFICATION_FIELDS = ("notificationId", "type", "createdAt", "deliveryState", "outcome", "summary")
SCHEDULE_FIELDS = ("itemType", "channelId", "deliveryState", "dueAt", "count", "heldSince", "heldType")


def history_json(history: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """`NotificationRepository.alert_history` as the API's `notifications` and `schedules`."""
    notifications: list[dict[str, Any]] = []
    schedules: list[dict[str, Any]] = []
    for raw in history:
        item = to_plain(raw)
        if item.get("itemType") in {"reminder", "hold"}:
            schedules.append(_pick(item, SCHEDULE_FIELDS))
            continue
        deliveries = []
        for delivery in sorted(item.get("deliveries", []), key=lambda d: str(d.get("channelName") or "")):
            attempts = [_pick(a, ATTEMPT_FIELDS) for a in delivery.get("attempts") or [] if isinstance(a, dict)]
            deliveries.append({**_pick(delivery, DELIVERY_FIELDS), "attemptCount": int(delivery.get("attemptCount")
                                                                                        or 0), "attempts": attempts})
        notifications.append({**_pick(item, NOTIFICATION_FIELDS), "deliveries": deliveries})
    return {"notifications": notifications, "schedules": schedules}
