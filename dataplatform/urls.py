"""The project's routes: each app brings its own `urls.py`; the admin API (/api/v1/) is the
apps' `api_urlpatterns` plus the schema, the docs and a JSON 404 for anything else."""

from django.urls import URLPattern, URLResolver, include, path, re_path

from dataplatform.alerts import urls as alert_urls
from dataplatform.api.errors import api_not_found
from dataplatform.api.schema import DocsView, SchemaView
from dataplatform.datasets import urls as dataset_urls
from dataplatform.notifications import urls as notification_urls
from files import urls as file_urls
from runs import urls as run_urls

api_urlpatterns: list[URLPattern | URLResolver] = [
    *run_urls.api_urlpatterns,
    *file_urls.api_urlpatterns,
    *dataset_urls.api_urlpatterns,
    *notification_urls.api_urlpatterns,
    *alert_urls.api_urlpatterns,
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/v1/ is a JSON 404 (whatever DEBUG says).
    re_path(r"^.*$", api_not_found, name="api-not-found"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("dataplatform.web.urls")),
    path("api/v1/", include(api_urlpatterns)),
    # `/api`, `/api/` and any other version: a JSON 404 too, never an HTML page.
    re_path(r"^api(?:/.*)?$", api_not_found, name="api-other"),
    # Before runs: "/" is the attention page (the runs list stays at /runs/).
    path("", include("dataplatform.alerts.urls")),
    path("", include("runs.urls")),
    path("", include("files.urls")),
    path("", include("dataplatform.datasets.urls")),
    path("", include("dataplatform.notifications.urls")),
    path("", include("dataplatform.accounts.urls")),
]

# JSON errors under /api/, Django's HTML pages elsewhere.
handler400 = "dataplatform.api.errors.bad_request"
handler403 = "dataplatform.api.errors.permission_denied"
handler404 = "dataplatform.api.errors.page_not_found"
handler500 = "dataplatform.api.errors.server_error"
