"""Django's admin as Run Monitor's user administration: superusers only, throttled sign-in.

Installed through `dataplatform.accounts.admin_apps.RunMonitorAdminConfig` in place of
`django.contrib.admin` (Django's documented way to replace the default site), so every
`admin.site.register` (ours, auth's, DRF's authtoken) lands on this site."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from dataplatform.accounts.forms import ThrottledAdminAuthenticationForm

logger = logging.getLogger("dataplatform.accounts.admin")


class RunMonitorAdminSite(admin.AdminSite):
    site_header = "Run Monitor administration"
    site_title = "Run Monitor admin"
    index_title = "Users, roles and API tokens"
    login_form = ThrottledAdminAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        """Superusers only: staff status alone does not open user administration."""
        user = request.user
        return bool(user.is_active and user.is_superuser)

    def admin_view(self, view: Callable[..., HttpResponse], cacheable: bool = False) -> Callable[..., HttpResponse]:
        """Django's admin_view, plus one log line per state-changing admin request (who, what,
        the answer's status; the request id comes from the log filter)."""
        protected = super().admin_view(view, cacheable)

        @wraps(protected)
        def logged(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = protected(request, *args, **kwargs)
            if request.method == "POST":
                logger.info("admin action %s %s by %s: %s", request.method, request.path,
                            request.user.get_username() or "anonymous", response.status_code)
            return response

        return logged
