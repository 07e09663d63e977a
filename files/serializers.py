"""Serializers of the file API: the file (camelCase) and the worker's status report."""

from __future__ import annotations

from rest_framework import serializers

from dataplatform.api.fields import (
    StrictCharField,
    StrictChoiceField,
    StrictDictField,
    StrictIntegerField,
    StrictSerializer,
)
from dataplatform.pipeline.models import Environment
from dataplatform.pipeline.states import FileStatus

FILE_STATUSES = [member.value for member in FileStatus]
MAX_FILE_SIZE = 2**63 - 1


class FileSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A file as stored in FileTable (camelCase)."""

    fileId = serializers.CharField()
    runId = serializers.CharField()
    datasetName = serializers.CharField()
    businessDate = serializers.DateField()
    environment = serializers.ChoiceField(choices=[member.value for member in Environment])
    location = serializers.CharField()
    status = serializers.ChoiceField(choices=FILE_STATUSES)
    lastUpdated = serializers.DateTimeField()
    fileSize = serializers.IntegerField(allow_null=True)
    checksum = serializers.CharField(allow_null=True)
    metadata = serializers.DictField()
    error = serializers.DictField(allow_null=True)
    attempts = serializers.IntegerField()


class FileReportSerializer(StrictSerializer):
    """Body of POST /files/{fileId}/status/ (a worker's progress report)."""

    status = StrictChoiceField(choices=FILE_STATUSES)
    fileSize = StrictIntegerField(required=False, min_value=0, max_value=MAX_FILE_SIZE)
    checksum = StrictCharField(required=False, max_length=256)
    error = StrictDictField(required=False)


class FileRetrySerializer(StrictSerializer):
    """Body of POST /files/{fileId}/retry/: an empty object."""
