"""The file API (/api/v1/files/...): read one file, retry it, and the worker's status report."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dataplatform.api.base import FILE_ID_PATTERN, PipelineViewSet
from dataplatform.api.permissions import OPERATE, READ, REPORT
from dataplatform.api.represent import represent
from dataplatform.api.schema import READ_ERRORS, WRITE_ERRORS, error_responses
from dataplatform.pipeline import selectors, services
from files.serializers import FileReportSerializer, FileRetrySerializer, FileSerializer

FILE_ID = OpenApiParameter(
    "fileId", str, OpenApiParameter.PATH, pattern=f"^{FILE_ID_PATTERN}$", description="The file id."
)


@extend_schema_view(
    retrieve=extend_schema(
        summary="One file",
        parameters=[FILE_ID],
        responses={200: FileSerializer, **error_responses(*READ_ERRORS, 404)},
    ),
)
class FileViewSet(PipelineViewSet):
    """Files: read, retry (operator) and progress reports (pipeline workers)."""

    lookup_field = "fileId"
    lookup_value_regex = FILE_ID_PATTERN
    admin_actions = {"retry": "file_retry"}
    action_roles = {"retrieve": READ, "retry": OPERATE, "status": REPORT}

    def retrieve(self, request: Request, fileId: str) -> Response:
        return Response(represent(FileSerializer, selectors.file_get(self.pipeline, file_id=fileId)))

    @extend_schema(
        summary="Retry one failed file",
        parameters=[FILE_ID],
        request=FileRetrySerializer,
        responses={200: FileSerializer, **error_responses(*WRITE_ERRORS)},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, fileId: str) -> Response:
        self.parse_action_body(FileRetrySerializer, action="file_retry", file_id=fileId)
        record = services.file_retry(self.pipeline, file_id=fileId, actor=self.actor())
        return Response(represent(FileSerializer, record))

    @extend_schema(
        summary="Worker report: a file moved to a new status",
        parameters=[FILE_ID],
        request=FileReportSerializer,
        responses={200: FileSerializer, **error_responses(*WRITE_ERRORS)},
    )
    @action(detail=True, methods=["post"])
    def status(self, request: Request, fileId: str) -> Response:
        body = self.parse_body(FileReportSerializer)
        record = services.file_report(
            self.pipeline,
            file_id=fileId,
            status=body["status"],
            file_size=body.get("fileSize"),
            checksum=body.get("checksum"),
            error=body.get("error"),
            actor=self.actor(),
        )
        return Response(represent(FileSerializer, record))
