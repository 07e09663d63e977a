"""What every admin API view shares: roles per action, strict parsing, the Actor, list pages
and JSON-only error responses."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from rest_framework import exceptions, serializers, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from dataplatform.accounts.roles import user_roles
from dataplatform.api.log import log_event
from dataplatform.api.pagination import CursorPagination
from dataplatform.api.parsers import PayloadTooLarge
from dataplatform.api.permissions import ActionRolePermission
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dynamo import Page
from dataplatform.pipeline.errors import PipelineError
from dataplatform.pipeline.models import DATASET_NAME_PATTERN as DATASET_NAME
from dataplatform.pipeline.services import Actor
from dataplatform.web import wiring

# Path ids: a letter or digit, then letters, digits and . _ : - only, so "../", NUL or a 1,000-character id never
# reach DynamoDB (they do not match the route and get the JSON 404 of the catch-all).
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,255}"
FILE_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,511}"
DATASET_NAME_PATTERN = DATASET_NAME

audit_logger = logging.getLogger("dataplatform.audit")


class JsonErrorsMixin:
    """Errors are JSON even when the browsable API or an HTML page was negotiated."""

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        renderer = getattr(response, "accepted_renderer", None)
        plain_json = type(renderer) is JSONRenderer
        if response.status_code >= 400 and not plain_json:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
            response.renderer_context = self.get_renderer_context()  # type: ignore[attr-defined]
        return response


class PipelineViewSet(JsonErrorsMixin, viewsets.ViewSet):
    """A plain ViewSet over the core (no ORM): parse, call a service or selector, serialize."""

    permission_classes = [ActionRolePermission]
    pagination = CursorPagination()
    # action name -> roles allowed to call it; an action missing here is refused.
    action_roles: dict[str, tuple[str, ...]] = {}
    # viewset action -> audit action name, for the admin actions (one JSON log line each).
    admin_actions: dict[str, str] = {}

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        audit_action = self.admin_actions.get(getattr(self, "action", None) or "")
        if audit_action is not None:
            user = getattr(request, "user", None)
            log_event(
                "admin_action",
                action=audit_action,
                target=dict(kwargs) or None,
                user=getattr(user, "username", None) or None,
                status=response.status_code,
                outcome="allowed" if response.status_code < 400 else "refused",
                code=(response.data or {}).get("code") if response.status_code >= 400 else None,
            )
        return response

    @property
    def pipeline(self) -> Pipeline:
        return wiring.get_pipeline()

    def actor(self) -> Actor:
        """The audit Actor for this request: the authenticated user and the request id."""
        return Actor(
            name=self.request.user.username,
            request_id=getattr(self.request._request, "request_id", None),
            roles=tuple(sorted(user_roles(self.request.user))),
        )

    def parse_body(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:  # type: ignore[type-arg]
        """The validated JSON object body (a body is required: `{}` for all defaults)."""
        if not self.request.META.get("CONTENT_LENGTH") and "HTTP_TRANSFER_ENCODING" not in self.request.META:
            raise serializers.ValidationError(["A JSON object body is required (send {} for the defaults)."],
                                              code="missing_body")
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def parse_action_body(
        self, serializer_class: type[serializers.Serializer], *, action: str, run_id: str | None = None,  # type: ignore[type-arg]
        file_id: str | None = None,
    ) -> dict[str, Any]:
        """`parse_body` for an admin action: a refused body still leaves its one audit record
        (stored and logged, SPEC section 4); no run or file is touched."""
        try:
            return self.parse_body(serializer_class)
        except (serializers.ValidationError, exceptions.ParseError, exceptions.UnsupportedMediaType,
                PayloadTooLarge) as exc:
            detail: dict[str, Any] = {"error": str(exc.default_code), "status": exc.status_code}
            if isinstance(exc.detail, dict):
                detail["fields"] = sorted(str(name) for name in exc.detail)
            self.audit_refusal(action, run_id=run_id, file_id=file_id, reason="invalid request", detail=detail)
            raise

    def audit_refusal(
        self, action: str, *, run_id: str | None, file_id: str | None, reason: str, detail: dict[str, Any],
        store: bool = True, user: Any = None,
    ) -> None:
        """The one audit record of a refused admin action, filed under the target id given
        (also when it names nothing that exists). A store failure is logged, never raised."""
        who = user if user is not None else self.request.user
        name = who.get_username() if who is not None and who.is_authenticated else "anonymous"
        request_id = getattr(getattr(self.request, "_request", None), "request_id", None)
        try:
            self.pipeline.audit.record(
                target_id=run_id or file_id or "-",
                actor=name,
                action=action,
                target=f"file:{file_id}" if file_id else (f"run:{run_id}" if run_id else "run:-"),
                outcome="refused",
                reason=reason,
                detail=detail,
                request_id=request_id,
                store=store,
            )
        except (PipelineError, ClientError):
            audit_logger.exception("audit record of refused %s could not be stored", action)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """DRF's authentication, permission and throttle checks; a refusal of an admin action by
        role (403) or by a failed CSRF check leaves its audit record. Anonymous callers and bad
        tokens (401) are logged only: storing them would let anyone write to the audit table."""
        # The session's user, taken before DRF replaces it with AnonymousUser on a failed check.
        session_user = getattr(request._request, "user", None)
        try:
            super().initial(request, *args, **kwargs)
        except (exceptions.PermissionDenied, exceptions.NotAuthenticated, exceptions.AuthenticationFailed) as exc:
            action = self.admin_actions.get(getattr(self, "action", None) or "")
            if action is not None:
                user = request.user if request.user.is_authenticated else session_user
                self.audit_refusal(
                    action, user=user, run_id=kwargs.get("runId"), file_id=kwargs.get("fileId"),
                    reason="CSRF check failed" if "CSRF" in str(exc.detail) else (
                        "role does not allow this action" if user.is_authenticated else "not signed in"),
                    detail={"error": str(exc.default_code), "status": exc.status_code,
                            "roles": sorted(user_roles(user))},
                    store=bool(user is not None and user.is_authenticated)
                    and isinstance(exc, exceptions.PermissionDenied),
                )
            raise

    def parse_query(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:  # type: ignore[type-arg]
        """The validated query-string parameters. A parameter given twice is refused (which
        one would win is a guess), and so is a blank one (the schema says minLength 1: leave the
        parameter out instead)."""
        repeated = sorted(k for k, values in self.request.query_params.lists() if len(values) > 1)
        if repeated:
            raise exceptions.ValidationError({k: ["Give this parameter at most once."] for k in repeated})
        blank = sorted(k for k, value in self.request.query_params.items() if value == "")
        if blank:
            raise exceptions.ValidationError(
                {k: ["This parameter is blank: give a value or leave it out."] for k in blank}
            )
        params = dict(self.request.query_params.items())
        serializer = serializer_class(data=params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def page_response(self, page: Page[Any], serializer_class: type[serializers.Serializer]) -> Response:  # type: ignore[type-arg]
        """`{"results": [...], "next": URL|null}`; the core's signed cursor goes into `cursor=`."""
        return self.pagination.get_paginated_response(self.request, page, serializer_class)


