"""OpenAPI helpers of the admin API: the error body, the documented error responses, the
required request bodies, and the schema and docs views."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from dataplatform.api.base import JsonErrorsMixin
from dataplatform.api.permissions import ReadAccess


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


class SchemaView(JsonErrorsMixin, SpectacularAPIView):
    """The OpenAPI 3 schema (viewers and operators)."""

    permission_classes = [ReadAccess]


class DocsView(JsonErrorsMixin, SpectacularSwaggerSplitView):
    """Swagger UI served from drf-spectacular-sidecar's local static files (no CDN). The split
    view serves its start-up script as a separate file, so no inline script is needed."""

    permission_classes = [ReadAccess]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Swagger UI sets inline style attributes; scripts stay self-only.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
        )
        return response
