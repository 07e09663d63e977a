from django.urls import include, path

from dataplatform import health

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("health/", health.page, name="health"),
    # REST admin API (issue 4): routes live in dataplatform/api_urls.py
    path("api/v1/", include("dataplatform.api_urls")),
    # Dashboard pages (issue 5): routes live in dataplatform/page_urls.py
    path("", include("dataplatform.page_urls")),
]

# JSON errors under /api/, Django's HTML pages (templates/404.html, 500.html if present) elsewhere.
handler400 = "dataplatform.api_errors.bad_request"
handler403 = "dataplatform.api_errors.permission_denied"
handler404 = "dataplatform.api_errors.page_not_found"
handler500 = "dataplatform.api_errors.server_error"
