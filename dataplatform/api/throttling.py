"""Per-user request rates for the admin API; the pipeline role gets its own, higher rate."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle

from dataplatform.accounts.roles import PIPELINE, has_role


class RoleRateThrottle(UserRateThrottle):
    """UserRateThrottle whose rate is read per request from settings (API_THROTTLE_RATE or,
    for users holding the pipeline role, API_PIPELINE_THROTTLE_RATE)."""

    def __init__(self) -> None:
        # The rate depends on the user, so it is chosen in allow_request, not here.
        self.rate = None
        self.num_requests = self.duration = None

    def allow_request(self, request: Request, view: Any) -> bool:
        pipeline = bool(request.user and request.user.is_authenticated and has_role(request.user, PIPELINE))
        self.scope = "pipeline" if pipeline else "user"
        self.rate = settings.API_PIPELINE_THROTTLE_RATE if pipeline else settings.API_THROTTLE_RATE
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
