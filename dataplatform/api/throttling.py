"""Per-user request rates for the admin API; the pipeline role gets its own, higher rate.

Counted with accounts.ratelimit (atomic counters in the shared cache, or in the auth database
without one), so a limit holds across gunicorn's workers and across instances. DRF's own
SimpleRateThrottle keeps a list of timestamps that each request reads, edits and writes back:
concurrent requests overwrite each other's entries and more get through than configured."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from dataplatform.accounts import ratelimit
from dataplatform.accounts.roles import PIPELINE, has_role


class RoleRateThrottle(BaseThrottle):
    """API_THROTTLE_RATE per user (API_PIPELINE_THROTTLE_RATE for the pipeline role); anonymous
    requests are counted per client address at API_THROTTLE_RATE."""

    def __init__(self) -> None:
        self.verdict: ratelimit.Verdict | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is not None and user.is_authenticated:
            pipeline = has_role(user, PIPELINE)
            scope, who = ("api-pipeline" if pipeline else "api-user"), f"user:{user.pk}"
            rate = settings.API_PIPELINE_THROTTLE_RATE if pipeline else settings.API_THROTTLE_RATE
        else:
            scope, who, rate = "api-anonymous", ratelimit.client_address(request), settings.API_THROTTLE_RATE
        if not rate:
            return True
        self.verdict = ratelimit.hit(scope, who, rate)
        return self.verdict.allowed

    def wait(self) -> float | None:
        """Seconds until the window ends (DRF sends it as Retry-After)."""
        return float(self.verdict.retry_after) if self.verdict is not None else None
