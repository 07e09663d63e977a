"""Health endpoints for uptime probes and load balancers (no auth, nothing sensitive)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from dataplatform.web.wiring import get_evaluator_health, get_health_checker


@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def evaluator_check() -> dict[str, Any]:
    """The alert evaluator's last tick: ok, degraded (older than EVALUATOR_STALE_SECONDS),
    unknown (never ran) or unavailable. Reported, never failing readiness: the web tier still
    serves when the evaluator stopped (the evaluator-stopped alarm pages for that)."""
    return get_evaluator_health().check()


@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    report = get_health_checker().check()
    body = {"status": "ok" if report.ok else "unavailable", "checks": report.checks, "evaluator": evaluator_check()}
    return JsonResponse(body, status=200 if report.ok else 503)


@never_cache
@require_safe
def page(request: HttpRequest) -> HttpResponse:
    report = get_health_checker().check()
    return render(
        request, "health.html",
        {"report": report, "checks": sorted(report.checks.items()), "evaluator": evaluator_check()},
        status=200 if report.ok else 503,
    )
