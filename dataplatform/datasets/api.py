"""The dataset API (/api/v1/datasets/...): the registry and each dataset's calendar."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dataplatform.api.base import DATASET_NAME_PATTERN, PipelineViewSet
from dataplatform.api.fields import DateStringField, StrictChoiceField
from dataplatform.api.pagination import CursorPagination, PageQuery
from dataplatform.api.permissions import READ
from dataplatform.api.schema import READ_ERRORS, error_responses
from dataplatform.pipeline import selectors
from dataplatform.pipeline.models import Environment, parse_business_date

DATASET_NAME = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, pattern=f"^{DATASET_NAME_PATTERN}$", description="The dataset name."
)


class ScheduleSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """When a run is expected and due (SPEC section 9); times are local to `timezone`."""

    timezone = serializers.CharField(help_text="IANA timezone of the business dates and times")
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6))
    holidays = serializers.CharField(allow_null=True, help_text="country (or country-subdivision) code")
    calendar = serializers.CharField(allow_null=True, help_text="exchange calendar code, e.g. XNYS")
    extraHolidays = serializers.ListField(child=serializers.DateField())
    extraBusinessDays = serializers.ListField(child=serializers.DateField())
    expectedBy = serializers.CharField(allow_null=True, help_text="local time HH:MM by which a run must exist")
    startGraceMinutes = serializers.IntegerField()
    dueBy = serializers.CharField(help_text="local time HH:MM by which the run must succeed")
    dueDayOffset = serializers.IntegerField()
    dueGraceMinutes = serializers.IntegerField()
    stuckAfterMinutes = serializers.IntegerField(allow_null=True)
    since = serializers.DateField(allow_null=True)


class DatasetSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One registered dataset."""

    datasetName = serializers.CharField()
    environment = serializers.ChoiceField(choices=[member.value for member in Environment])
    description = serializers.CharField(allow_blank=True)
    locations = serializers.ListField(child=serializers.CharField())
    parts = serializers.IntegerField()
    s3Prefix = serializers.CharField(allow_null=True)
    schedule = ScheduleSerializer(allow_null=True)


class CalendarQuery(serializers.Serializer):  # type: ignore[type-arg]
    """`from` and `to` (YYYY-MM-DD, inclusive; default: the last 30 days up to today, UTC) and
    `environment` (default: the dataset's, from the registry)."""

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return {
            "from": DateStringField(required=False, help_text="First business date (default: to - 29 days)."),
            "to": DateStringField(required=False, help_text="Last business date (default: today, UTC)."),
            "environment": StrictChoiceField(
                required=False, choices=[member.value for member in Environment],
                help_text="The runs of this environment only (default: the registry's).",
            ),
        }


class CalendarDaySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One business date: the latest run and its status, `missing` or `none`."""

    businessDate = serializers.DateField()
    status = serializers.CharField(help_text="A run status, 'missing' (expected, overdue, no run) or 'none'.")
    runId = serializers.CharField(allow_null=True)
    expected = serializers.BooleanField()
    runs = serializers.IntegerField(help_text="Number of runs for this business date.")
    state = serializers.CharField(allow_null=True, help_text="Expectation state (SPEC section 9); null: no schedule.")
    reason = serializers.CharField(allow_null=True, help_text="Why a skipped date is skipped.")


class CalendarSerializer(serializers.Serializer):  # type: ignore[type-arg]
    datasetName = serializers.CharField()
    results = CalendarDaySerializer(many=True)


@extend_schema_view(
    list=extend_schema(
        summary="Registered datasets",
        parameters=[PageQuery],
        responses={200: CursorPagination.page_serializer(DatasetSerializer), **error_responses(*READ_ERRORS)},
    ),
)
class DatasetViewSet(PipelineViewSet):
    """The dataset registry (read only)."""

    lookup_field = "name"
    lookup_value_regex = DATASET_NAME_PATTERN
    action_roles = {"list": READ, "calendar": READ}

    def list(self, request: Request) -> Response:
        query = self.parse_query(PageQuery)
        page = selectors.datasets_list(self.pipeline, limit=query["limit"], cursor=query.get("cursor"))
        return self.page_response(page, DatasetSerializer)

    @extend_schema(
        summary="Per business date: latest run and status, or missing",
        parameters=[DATASET_NAME, CalendarQuery],
        responses={200: CalendarSerializer, **error_responses(*READ_ERRORS, 404)},
    )
    @action(detail=True, methods=["get"])
    def calendar(self, request: Request, name: str) -> Response:
        query = self.parse_query(CalendarQuery)
        start = parse_business_date(query["from"]) if "from" in query else None
        end = parse_business_date(query["to"]) if "to" in query else None
        days = selectors.dataset_calendar(
            self.pipeline, name=name, start=start, end=end, environment=query.get("environment")
        )
        data: dict[str, Any] = {
            "datasetName": name,
            "results": [
                {"businessDate": day.business_date, "status": day.status, "runId": day.run_id,
                 "expected": day.expected, "runs": day.runs, "state": day.state, "reason": day.reason}
                for day in days
            ],
        }
        return Response(CalendarSerializer(data).data)
