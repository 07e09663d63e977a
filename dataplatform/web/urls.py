"""Health endpoints for probes and people (no sign-in), and /favicon.ico."""

from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, path

from dataplatform.web import health


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Pages without our <link rel="icon"> (Django's admin) make browsers ask /favicon.ico: the
    SVG icon instead of a 404 per visit (resolved per request, whatever the static storage)."""
    return HttpResponseRedirect(static("favicon.svg"))


urlpatterns: list[URLPattern | URLResolver] = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("health/", health.page, name="health"),
    path("favicon.ico", favicon, name="favicon"),
]
