"""Routes of the REST admin API, mounted at /api/v1/ (SPEC section 4)."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from dataplatform.api_base import JsonErrorsMixin
from dataplatform.api_datasets import DatasetViewSet
from dataplatform.api_errors import api_not_found
from dataplatform.permissions import ReadAccess
from files.api import FileViewSet
from runs.api import RunViewSet


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


router = SimpleRouter(trailing_slash=True)
router.register("runs", RunViewSet, basename="run")
router.register("files", FileViewSet, basename="file")
router.register("datasets", DatasetViewSet, basename="dataset")

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/v1/ is a JSON 404 (whatever DEBUG says).
    re_path(r"^.*$", api_not_found, name="api-not-found"),
]
