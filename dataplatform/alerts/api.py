"""The alerts and expectations API (/api/v1/alerts/, /api/v1/expectations/): thin DRF views
over the watch core (`pipeline.alerts`, `pipeline.expectations`) and the notify core's history."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dataplatform.alerts.serializers import (
    AckSerializer,
    AlertDetailSerializer,
    AlertListQuery,
    AlertSerializer,
    ExpectationListSerializer,
    ExpectationQuery,
    history_json,
)
from dataplatform.api.base import PipelineViewSet
from dataplatform.api.pagination import CursorPagination
from dataplatform.api.permissions import OPERATE, READ
from dataplatform.api.represent import represent
from dataplatform.api.schema import READ_ERRORS, WRITE_ERRORS, error_responses
from dataplatform.pipeline.alerts import AlertState, alert_ack
from dataplatform.pipeline.expectations import expectations_for, expectations_today
from dataplatform.pipeline.models import parse_business_date
from dataplatform.pipeline.timeutil import utc_now

# Episode ids are uuid4 hex; the route refuses anything else (guard and evaluator items included).
ALERT_ID_PATTERN = r"[0-9a-f]{32}"
ALERT_ID = OpenApiParameter(
    "alertId", str, OpenApiParameter.PATH, pattern=f"^{ALERT_ID_PATTERN}$", description="The alert episode id."
)


@extend_schema_view(
    list=extend_schema(
        summary="Expectation state per dataset and business date",
        description=(
            "One entry per scheduled dataset (of its registry environment): the state of `date`, or "
            "without `date` of each dataset's today in its own timezone, and the run behind it."
        ),
        parameters=[ExpectationQuery],
        responses={200: ExpectationListSerializer, **error_responses(*READ_ERRORS, 404)},
    ),
)
class ExpectationViewSet(PipelineViewSet):
    """Expectations (SPEC section 9), computed on request from the registry and the runs."""

    action_roles = {"list": READ}

    def list(self, request: Request) -> Response:
        query = self.parse_query(ExpectationQuery)
        now = utc_now()
        if "date" in query:
            found = expectations_for(
                self.pipeline, dates=[parse_business_date(query["date"])], now=now,
                environment=query.get("environment"), dataset_name=query.get("datasetName"),
            )
        else:
            found = expectations_today(
                self.pipeline, now=now, environment=query.get("environment"), dataset_name=query.get("datasetName")
            )
        return Response({"results": [e.to_dict() for e in found], "next": None})


@extend_schema_view(
    list=extend_schema(
        summary="Alert episodes, newest first",
        parameters=[AlertListQuery],
        responses={200: CursorPagination.page_serializer(AlertSerializer), **error_responses(*READ_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="One alert episode with its notifications and every delivery attempt",
        parameters=[ALERT_ID],
        responses={200: AlertDetailSerializer, **error_responses(*READ_ERRORS, 404)},
    ),
)
class AlertViewSet(PipelineViewSet):
    """Alert episodes: list, read (with notifications), acknowledge."""

    lookup_field = "alertId"
    lookup_value_regex = ALERT_ID_PATTERN
    admin_actions = {"ack": "ack"}
    action_roles = {"list": READ, "retrieve": READ, "ack": OPERATE}

    def list(self, request: Request) -> Response:
        query = self.parse_query(AlertListQuery)
        alerts = self.pipeline.alerts
        if query.get("datasetName"):
            page = alerts.list_by_dataset(
                query["datasetName"], state=query.get("state"), kind=query.get("kind"),
                limit=query["limit"], cursor=query.get("cursor"),
            )
        else:
            page = alerts.list_by_state(
                query.get("state") or AlertState.OPEN, kind=query.get("kind"),
                limit=query["limit"], cursor=query.get("cursor"),
            )
        return self.page_response(page, AlertSerializer)

    def retrieve(self, request: Request, alertId: str) -> Response:
        alert = self.pipeline.alerts.get(alertId)
        data: dict[str, Any] = represent(AlertSerializer, alert)
        data.update(history_json(self.pipeline.notifications.alert_history(alertId)))
        return Response(data)

    @extend_schema(
        summary="Acknowledge an alert (repeats stop; it stays open until its condition clears)",
        parameters=[ALERT_ID],
        request=AckSerializer,
        responses={200: AlertSerializer, **error_responses(*WRITE_ERRORS)},
    )
    @action(detail=True, methods=["post"])
    def ack(self, request: Request, alertId: str) -> Response:
        try:
            body = self.parse_body(AckSerializer)
        except (serializers.ValidationError, exceptions.ParseError, exceptions.UnsupportedMediaType) as exc:
            # Refused input: the audit log line only (store=False), every table stays untouched.
            actor = self.actor()
            self.pipeline.audit.record(
                target_id=f"alert#{alertId}", actor=actor.name, action="ack", target=f"alert:{alertId}",
                outcome="refused", reason="invalid request", request_id=actor.request_id, store=False,
                detail={"error": str(exc.default_code), "status": exc.status_code},
            )
            raise
        alert = alert_ack(self.pipeline, alert_id=alertId, note=body.get("note"), actor=self.actor())
        return Response(represent(AlertSerializer, alert))
