"""Health endpoints for probes and people (no sign-in)."""

from django.urls import URLPattern, URLResolver, path

from dataplatform.web import health

urlpatterns: list[URLPattern | URLResolver] = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("health/", health.page, name="health"),
]
