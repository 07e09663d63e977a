"""The run API (/api/v1/runs/...): thin DRF views over the core's services and selectors."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dataplatform.api.base import RUN_ID_PATTERN, PipelineViewSet
from dataplatform.api.pagination import CursorPagination, PageQuery
from dataplatform.api.permissions import OPERATE, READ, TRIGGER
from dataplatform.api.represent import represent, to_json
from dataplatform.api.schema import READ_ERRORS, WRITE_ERRORS, error_responses
from dataplatform.pipeline import selectors, services
from files.serializers import FileSerializer
from runs.serializers import (
    CancelSerializer,
    EventSerializer,
    FileListQuery,
    RedispatchResultSerializer,
    RedispatchSerializer,
    RetryResultSerializer,
    RetrySerializer,
    RunDetailQuery,
    RunDetailSerializer,
    RunListQuery,
    RunSerializer,
    TriggerSerializer,
)

RUN_ID = OpenApiParameter(
    "runId", str, OpenApiParameter.PATH, pattern=f"^{RUN_ID_PATTERN}$", description="The run id."
)


@extend_schema_view(
    list=extend_schema(
        summary="List runs, newest first",
        parameters=[RunListQuery],
        responses={200: CursorPagination.page_serializer(RunSerializer), **error_responses(*READ_ERRORS)},
    ),
    create=extend_schema(
        summary="Trigger a run",
        request=TriggerSerializer,
        responses={
            201: OpenApiResponse(RunSerializer, description="The run was created and its files dispatched."),
            200: OpenApiResponse(RunSerializer, description="A run with this idempotencyKey already exists."),
            **error_responses(*WRITE_ERRORS),
        },
    ),
    retrieve=extend_schema(
        summary="One run with its file counts (from its counters; ?exact=true recounts and repairs)",
        parameters=[RUN_ID, RunDetailQuery],
        responses={200: RunDetailSerializer, **error_responses(*READ_ERRORS, 404)},
    ),
)
class RunViewSet(PipelineViewSet):
    """Runs: list, trigger, read; their files and audit trail; cancel and retry."""

    lookup_field = "runId"
    lookup_value_regex = RUN_ID_PATTERN
    admin_actions = {"create": "trigger", "cancel": "cancel", "retry": "retry", "redispatch": "redispatch"}
    action_roles = {
        "list": READ,
        "retrieve": READ,
        "files": READ,
        "events": READ,
        "create": TRIGGER,
        "cancel": OPERATE,
        "retry": OPERATE,
        "redispatch": OPERATE,
    }

    def list(self, request: Request) -> Response:
        # Every filter is optional, so a blank one would silently widen the list: refuse it.
        blank = sorted(k for k, v in request.query_params.items() if v == "")
        if blank:
            raise exceptions.ValidationError({k: ["Give a value or leave the parameter out."] for k in blank})
        query = self.parse_query(RunListQuery)
        page = selectors.runs_list(
            self.pipeline,
            dataset_name=query.get("datasetName"),
            business_date=query.get("businessDate"),
            status=query.get("status"),
            environment=query.get("environment"),
            limit=query["limit"],
            cursor=query.get("cursor"),
        )
        return self.page_response(page, RunSerializer)

    def create(self, request: Request) -> Response:
        body = self.parse_action_body(TriggerSerializer, action="trigger")
        result = services.run_trigger(self.pipeline, request=body, actor=self.actor())
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(represent(RunSerializer, result.run), status=code)

    def retrieve(self, request: Request, runId: str) -> Response:
        query = self.parse_query(RunDetailQuery)
        run = selectors.run_detail(self.pipeline, run_id=runId, exact=query["exact"] == "true", actor=self.actor())
        return Response(RunDetailSerializer({**to_json(run), "fileCounts": run.counts()}).data)

    @extend_schema(
        summary="Files of a run",
        parameters=[RUN_ID, FileListQuery],
        responses={200: CursorPagination.page_serializer(FileSerializer), **error_responses(*READ_ERRORS, 404)},
    )
    @action(detail=True, methods=["get"])
    def files(self, request: Request, runId: str) -> Response:
        query = self.parse_query(FileListQuery)
        selectors.run_get(self.pipeline, run_id=runId)  # 404 for an unknown run, not an empty page
        page = selectors.files_list(
            self.pipeline, run_id=runId, status=query.get("status"), limit=query["limit"], cursor=query.get("cursor")
        )
        return self.page_response(page, FileSerializer)

    @extend_schema(
        summary="Audit trail of a run, newest first",
        parameters=[RUN_ID, PageQuery],
        responses={200: CursorPagination.page_serializer(EventSerializer), **error_responses(*READ_ERRORS, 404)},
    )
    @action(detail=True, methods=["get"])
    def events(self, request: Request, runId: str) -> Response:
        query = self.parse_query(PageQuery)
        selectors.run_get(self.pipeline, run_id=runId)
        page = selectors.run_events(self.pipeline, run_id=runId, limit=query["limit"], cursor=query.get("cursor"))
        return self.page_response(page, EventSerializer)

    @extend_schema(
        summary="Cancel a run",
        parameters=[RUN_ID],
        request=CancelSerializer,
        responses={200: RunSerializer, **error_responses(*WRITE_ERRORS)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, runId: str) -> Response:
        body = self.parse_action_body(CancelSerializer, action="cancel", run_id=runId)
        run = services.run_cancel(self.pipeline, run_id=runId, reason=body.get("reason"), actor=self.actor())
        return Response(represent(RunSerializer, run))

    @extend_schema(
        summary="Retry the failed files of a run",
        parameters=[RUN_ID],
        request=RetrySerializer,
        responses={200: RetryResultSerializer, **error_responses(*WRITE_ERRORS)},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, runId: str) -> Response:
        body = self.parse_action_body(RetrySerializer, action="retry", run_id=runId)
        result = services.run_retry(
            self.pipeline, run_id=runId, file_ids=body.get("fileIds"), dry_run=body["dryRun"], actor=self.actor()
        )
        data = {"retried": result.retried, "fileIds": result.file_ids, "dryRun": result.dry_run,
                "run": to_json(result.run)}
        return Response(RetryResultSerializer(data).data)

    @extend_schema(
        summary="Dispatch a stalled run's idle pending files again",
        parameters=[RUN_ID],
        request=RedispatchSerializer,
        responses={200: RedispatchResultSerializer, **error_responses(*WRITE_ERRORS)},
    )
    @action(detail=True, methods=["post"])
    def redispatch(self, request: Request, runId: str) -> Response:
        body = self.parse_action_body(RedispatchSerializer, action="redispatch", run_id=runId)
        result = services.run_redispatch(
            self.pipeline, run_id=runId, older_than_minutes=body.get("olderThanMinutes"), dry_run=body["dryRun"],
            actor=self.actor(),
        )
        data = {"redispatched": result.redispatched, "fileIds": result.file_ids, "dryRun": result.dry_run,
                "run": to_json(result.run)}
        return Response(RedispatchResultSerializer(data).data)
