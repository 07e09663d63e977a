"""Serializers of the run API: strict input (trigger, cancel, retry, filters), camelCase output."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from dataplatform.api.base import FILE_ID_PATTERN
from dataplatform.api.fields import (
    DateStringField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictDictField,
    StrictIntegerField,
    StrictSerializer,
    regex_id,
)
from dataplatform.api.pagination import PageQuery
from dataplatform.pipeline.datasets import MAX_LOCATIONS
from dataplatform.pipeline.models import MAX_LOCATION_LENGTH, MAX_REASON_LENGTH, Environment, SourceType
from dataplatform.pipeline.services.redispatch import MAX_IDLE_MINUTES
from dataplatform.pipeline.states import FileStatus, RunStatus

DATASET_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}"
MAX_RETRY_FILE_IDS = 1000


def _choices(kind: Any) -> list[str]:
    return [member.value for member in kind]


class RunSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A run as stored in RunTable (camelCase)."""

    runId = serializers.CharField()
    datasetName = serializers.CharField()
    businessDate = serializers.DateField()
    sourceType = serializers.ChoiceField(choices=_choices(SourceType))
    sourceTrigger = serializers.DictField()
    createdAt = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=_choices(RunStatus))
    environment = serializers.ChoiceField(choices=_choices(Environment))
    resolvedFiles = serializers.IntegerField()
    pendingFiles = serializers.IntegerField()
    fetchedFiles = serializers.IntegerField()
    verifiedFiles = serializers.IntegerField()
    processedFiles = serializers.IntegerField()
    failedFiles = serializers.IntegerField()
    metadata = serializers.DictField()
    error = serializers.DictField(allow_null=True)
    updatedAt = serializers.DateTimeField(allow_null=True)
    idempotencyKey = serializers.CharField(allow_null=True)
    cancelledBy = serializers.CharField(allow_null=True)
    cancelledAt = serializers.DateTimeField(allow_null=True)
    cancelReason = serializers.CharField(allow_null=True)


class FileCountsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Number of files per status (the run's counters)."""

    pending = serializers.IntegerField()
    fetched = serializers.IntegerField()
    verified = serializers.IntegerField()
    preprocessed = serializers.IntegerField()
    failed = serializers.IntegerField()


class RunDetailSerializer(RunSerializer):
    """A run with `fileCounts` from its counters and when they were last checked against FileTable."""

    fileCounts = FileCountsSerializer()
    countsCheckedAt = serializers.DateTimeField(allow_null=True)


class RunDetailQuery(serializers.Serializer):  # type: ignore[type-arg]
    """`?exact=true` recounts the run's files in FileTable and repairs drifted counters."""

    exact = serializers.ChoiceField(
        required=False, choices=["true", "false"], default="false",
        help_text="true: count the files in FileTable now and repair the counters (reads every file once).",
    )


class RunListQuery(PageQuery):
    """Filters of GET /runs/, in any combination (none: every run), newest first."""

    datasetName = StrictCharField(required=False, max_length=128, validators=[regex_id(DATASET_NAME, "dataset name")])
    businessDate = DateStringField(required=False)
    status = StrictChoiceField(required=False, choices=_choices(RunStatus))
    environment = StrictChoiceField(required=False, choices=_choices(Environment))


class TriggerSerializer(StrictSerializer):
    """Body of POST /runs/ (trigger a run)."""

    datasetName = StrictCharField(max_length=128, validators=[regex_id(DATASET_NAME, "dataset name")])
    businessDate = DateStringField()
    sourceType = StrictChoiceField(required=False, choices=_choices(SourceType))
    sourceTrigger = StrictDictField(required=False)
    metadata = StrictDictField(required=False)
    files = serializers.ListField(
        child=StrictCharField(max_length=MAX_LOCATION_LENGTH), required=False, min_length=1, max_length=MAX_LOCATIONS,
        help_text="Explicit file locations (s3://bucket/key or http(s) URLs); default: the dataset's templates.",
    )
    idempotencyKey = StrictCharField(required=False, max_length=256)
    environment = StrictChoiceField(required=False, choices=_choices(Environment))


class CancelSerializer(StrictSerializer):
    """Body of POST /runs/{runId}/cancel/."""

    reason = StrictCharField(required=False, max_length=MAX_REASON_LENGTH)


class RetrySerializer(StrictSerializer):
    """Body of POST /runs/{runId}/retry/: all failed files, or only `fileIds`; `dryRun` changes nothing."""

    dryRun = StrictBooleanField(required=False, default=False)
    fileIds = serializers.ListField(
        child=StrictCharField(max_length=512, validators=[regex_id(FILE_ID_PATTERN, "file id")]),
        required=False, min_length=1, max_length=MAX_RETRY_FILE_IDS,
    )


class RedispatchSerializer(StrictSerializer):
    """Body of POST /runs/{runId}/redispatch/: pending files idle for `olderThanMinutes`
    (default RUN_STALLED_MINUTES, or the dataset's stuckAfterMinutes when shorter) are dispatched
    again; `dryRun` only lists them."""

    olderThanMinutes = StrictIntegerField(required=False, min_value=0, max_value=MAX_IDLE_MINUTES)
    dryRun = StrictBooleanField(required=False, default=False)


class RedispatchResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    redispatched = serializers.IntegerField()
    fileIds = serializers.ListField(child=serializers.CharField())
    dryRun = serializers.BooleanField()
    run = RunSerializer()


class RetryResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    retried = serializers.IntegerField()
    fileIds = serializers.ListField(child=serializers.CharField())
    dryRun = serializers.BooleanField()
    run = RunSerializer()


class FileListQuery(PageQuery):
    status = StrictChoiceField(required=False, choices=_choices(FileStatus))


class EventSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One audit record of a run."""

    targetId = serializers.CharField()
    eventId = serializers.CharField()
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    action = serializers.CharField()
    target = serializers.CharField()
    reason = serializers.CharField(allow_null=True)
    outcome = serializers.ChoiceField(choices=["allowed", "refused"])
    detail = serializers.DictField(allow_null=True)
    requestId = serializers.CharField(allow_null=True)


