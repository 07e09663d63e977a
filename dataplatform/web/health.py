"""Health endpoints for uptime probes and load balancers (no auth, nothing sensitive)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from dataplatform.web.wiring import get_health_checker


@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    report = get_health_checker().check()
    # `degraded` (an optional part such as the shared cache is down) is still ready: 200.
    body = {"status": report.status, "checks": report.checks}
    return JsonResponse(body, status=200 if report.ok else 503)


@never_cache
@require_safe
def page(request: HttpRequest) -> HttpResponse:
    report = get_health_checker().check()
    return render(
        request, "health.html", {"report": report, "checks": sorted(report.checks.items())},
        status=200 if report.ok else 503,
    )
