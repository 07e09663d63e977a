"""What every admin API view shares: roles per action, strict parsing, the Actor, list pages,
JSON-only error responses, and the documented error responses."""

from __future__ import annotations

from functools import cache
from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from dataplatform import wiring
from dataplatform.api_fields import StrictCharField
from dataplatform.api_log import log_event
from dataplatform.permissions import ActionRolePermission
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.cursor import MAX_CURSOR_LENGTH
from dataplatform.pipeline.dynamo import Page

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Path ids: a letter or digit, then letters, digits and . _ : - only, so "../", NUL or a 1,000-character id never
# reach DynamoDB (they do not match the route and get the JSON 404 of the catch-all).
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,255}"
FILE_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,511}"
DATASET_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}"


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


class PageQuery(serializers.Serializer):  # type: ignore[type-arg]
    """`limit` and `cursor` of every list endpoint."""

    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    cursor = StrictCharField(required=False, max_length=MAX_CURSOR_LENGTH)


class PipelineViewSet(JsonErrorsMixin, viewsets.ViewSet):
    """A plain ViewSet over the core (no ORM): parse, call a service or selector, serialize."""

    permission_classes = [ActionRolePermission]
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

    def actor(self) -> Any:
        """The audit Actor for this request: the authenticated user and the request id."""
        from dataplatform.pipeline.services import Actor
        from dataplatform.roles import user_roles

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
        """`parse_body` for an admin action: a refused body still leaves its audit record.

        Like the core does for an invalid trigger, that record is the audit log line only
        (`store=False`): bad input must leave every table untouched, and no DynamoDB call is
        made for it."""
        try:
            return self.parse_body(serializer_class)
        except (serializers.ValidationError, exceptions.ParseError, exceptions.UnsupportedMediaType) as exc:
            actor = self.actor()
            detail: dict[str, Any] = {"error": str(exc.default_code), "status": exc.status_code}
            if isinstance(exc.detail, dict):
                detail["fields"] = sorted(str(name) for name in exc.detail)
            self.pipeline.audit.record(
                target_id=run_id or file_id or "-",
                actor=actor.name,
                action=action,
                target=f"file:{file_id}" if file_id else f"run:{run_id}",
                outcome="refused",
                reason="invalid request",
                detail=detail,
                request_id=actor.request_id,
                store=False,
            )
            raise

    def parse_query(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:  # type: ignore[type-arg]
        """The validated query-string parameters. A parameter given twice is refused (which
        one would win is a guess); blank values count as absent."""
        repeated = sorted(k for k, values in self.request.query_params.lists() if len(values) > 1)
        if repeated:
            raise exceptions.ValidationError({k: ["Give this parameter at most once."] for k in repeated})
        params = {key: value for key, value in self.request.query_params.items() if value != ""}
        serializer = serializer_class(data=params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def page_response(self, page: Page[Any], serializer_class: type[serializers.Serializer]) -> Response:  # type: ignore[type-arg]
        """`{"results": [...], "next": URL|null}`; the core's signed cursor goes into `cursor=`."""
        url = self.request.build_absolute_uri()
        next_url = replace_query_param(url, "cursor", page.cursor) if page.cursor else None
        results = [represent(serializer_class, item) for item in page.items]
        return Response({"results": results, "next": next_url})


def to_json(item: Any) -> Any:
    """A core model as JSON-ready camelCase data (no Decimals, ISO dates)."""
    if hasattr(item, "model_dump"):
        return item.model_dump(mode="json", by_alias=True)
    return item


@cache
def _output_fields(serializer_class: type[serializers.Serializer]) -> tuple[str, ...]:  # type: ignore[type-arg]
    return tuple(serializer_class._declared_fields)


def represent(serializer_class: type[serializers.Serializer], item: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    """What `serializer_class(to_json(item)).data` answers, without building DRF fields on
    every call (~1 ms a page): the output serializers document flat field lists over the
    core's JSON dump, whose values are JSON already. tests/api/test_represent.py checks the
    two agree for every output serializer."""
    data = to_json(item)
    return {name: data[name] for name in _output_fields(serializer_class) if name in data}


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The body of every 4xx/5xx response."""

    detail = serializers.CharField(help_text="What went wrong, for humans.")
    code = serializers.CharField(help_text="What went wrong, for programs (e.g. invalid, not_found).")
    fields = serializers.DictField(
        required=False, help_text="Per-field messages (lists of strings) when the input was invalid."
    )
    current = serializers.CharField(
        required=False, allow_null=True, help_text="On 409: the current state that refused the change."
    )


_ERROR_TEXT = {
    400: "Invalid input, filter or cursor.",
    401: "Not authenticated (send `Authorization: Token <key>` or log in).",
    403: "Authenticated, but the role does not allow this (or the CSRF token is missing).",
    404: "No such run, file or dataset.",
    409: "The current state does not allow this change (see `current`).",
    413: "The request body is too large.",
    415: "The body must be application/json.",
    429: "Too many requests; slow down (see Retry-After).",
    503: "The data store or the dispatcher is unavailable; retry after Retry-After seconds.",
}

READ_ERRORS = (400, 401, 403, 429, 503)
WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 429, 503)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for `codes`, all with the ErrorSerializer body."""
    return {code: OpenApiResponse(ErrorSerializer, description=_ERROR_TEXT[code]) for code in codes}


def require_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every POST needs a JSON body (`{}` at least),
    as `PipelineViewSet.parse_body` enforces."""
    for operations in result.get("paths", {}).values():
        body = operations.get("post", {}).get("requestBody")
        if body is not None:
            body["required"] = True
    return result
