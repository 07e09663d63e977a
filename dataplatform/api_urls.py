"""Routes of the REST admin API, mounted at /api/v1/ (SPEC section 4)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
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


class DocsView(JsonErrorsMixin, SpectacularSwaggerView):
    """Swagger UI served from drf-spectacular-sidecar's local static files (no CDN)."""

    permission_classes = [ReadAccess]


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
