"""Health endpoints for uptime probes and load balancers (no auth, nothing sensitive)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from dataplatform.web.channel_health import disabled_channels
from dataplatform.web.wiring import get_evaluator_health, get_health_checker


@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


# The evaluator check runs beside the table probes (not after them), so both fit the 3 s budget.
_evaluator_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health-evaluator")
UNAVAILABLE = {"status": "unavailable", "lastTickAt": None, "ageSeconds": None}


def evaluator_check() -> Future[dict[str, Any]]:
    """The alert evaluator's last tick, started now: ok, degraded (older than
    EVALUATOR_STALE_SECONDS), unknown (never ran) or unavailable. Reported, never failing
    readiness: the web tier still serves when the evaluator stopped (its alarm pages for that)."""
    return _evaluator_pool.submit(get_evaluator_health().check)


def _evaluator_result(pending: Future[dict[str, Any]]) -> dict[str, Any]:
    try:
        return pending.result(timeout=get_evaluator_health().budget_seconds + 0.2)
    except Exception:  # a probe answers whatever broke underneath
        return dict(UNAVAILABLE)


@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    pending = evaluator_check()
    report = get_health_checker().check()
    # `degraded` (an optional part such as the shared cache is down) is still ready: 200.
    body = {"status": report.status, "checks": report.checks, "evaluator": _evaluator_result(pending)}
    return JsonResponse(body, status=200 if report.ok else 503)


@never_cache
@require_safe
def page(request: HttpRequest) -> HttpResponse:
    pending = evaluator_check()
    report = get_health_checker().check()
    return render(
        request, "health.html",
        {"report": report, "checks": sorted(report.checks.items()), "channels": disabled_channels(),
         "evaluator": _evaluator_result(pending)},
        status=200 if report.ok else 503,
    )
