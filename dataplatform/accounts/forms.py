"""Sign-in forms with login throttling: per account and per client address (settings
LOGIN_RATE_PER_ACCOUNT, LOGIN_RATE_PER_ADDRESS), counted before the password is checked, so
neither a guessed password nor the right one gets through once a limit is reached."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from dataplatform.accounts import ratelimit

logger = logging.getLogger(__name__)

THROTTLED = "throttled"


class LoginThrottle:
    """Mixin for Django's AuthenticationForm: refuse with "Too many attempts, try again in N s"
    once the client's address or the named account used up its attempts in this window."""

    request: Any
    cleaned_data: dict[str, Any]
    retry_after: int | None = None

    throttle_message = "Too many attempts, try again in %(seconds)s s."

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and self.request is not None:
            address = ratelimit.client_address(self.request)
            # The account is counted by its normalised name, whether or not it exists.
            account = str(username).strip().casefold()
            for scope, who, rate in (
                ("login-address", address, settings.LOGIN_RATE_PER_ADDRESS),
                ("login-account", account, settings.LOGIN_RATE_PER_ACCOUNT),
            ):
                verdict = ratelimit.hit(scope, who, rate)
                if not verdict.allowed:
                    self.retry_after = verdict.retry_after
                    logger.warning(
                        "login refused: %s limit reached (%s attempts, %s allowed); retry in %s s",
                        scope, verdict.count, verdict.limit, verdict.retry_after,
                    )
                    raise forms.ValidationError(
                        self.throttle_message, code=THROTTLED, params={"seconds": verdict.retry_after}
                    )
        return super().clean()  # type: ignore[misc, no-any-return]


class ThrottledAuthenticationForm(LoginThrottle, AuthenticationForm):
    """The dashboard's sign-in form."""


class ThrottledAdminAuthenticationForm(LoginThrottle, AdminAuthenticationForm):
    """The /admin/ sign-in form (staff only, as Django's)."""
