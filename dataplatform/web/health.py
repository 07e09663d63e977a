"""Health endpoints for uptime probes and load balancers (no auth, nothing sensitive)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from dataplatform.web.channel_health import disabled_channels
from dataplatform.web.wiring import get_health_checker


@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    report = get_health_checker().check()
    body = {"status": "ok" if report.ok else "unavailable", "checks": report.checks}
    return JsonResponse(body, status=200 if report.ok else 503)


@never_cache
@require_safe
def page(request: HttpRequest) -> HttpResponse:
    report = get_health_checker().check()
    return render(
        request, "health.html",
        {"report": report, "checks": sorted(report.checks.items()), "channels": disabled_channels()},
        status=200 if report.ok else 503,
    )
