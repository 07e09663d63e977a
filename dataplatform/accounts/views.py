"""Sign-in (Django's LoginView with login throttling) and the page where a signed-in user
creates and revokes their own API token."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from dataplatform.accounts.forms import THROTTLED, ThrottledAuthenticationForm
from dataplatform.web.decorators import dashboard_page
from dataplatform.web.throttle import throttled

logger = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    """Django's LoginView; a throttled attempt answers 429 with Retry-After."""

    form_class = ThrottledAuthenticationForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)
        if form.has_error("__all__", THROTTLED) and form.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response


@require_http_methods(["GET", "POST"])
@dashboard_page
@throttled("api-token", when=lambda request: request.method == "POST")
def tokens_page(request: HttpRequest) -> HttpResponse:
    """The user's API token: when it was made; create (replacing the old one) or revoke it.

    DRF's Token (one per user) is what TokenAuthentication reads; a new key is shown once,
    in the answer to the POST that made it (never cached), and never again on this page."""
    user = request.user
    new_key: str | None = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            # One token per user (DRF's model): a new one replaces the old, which stops working.
            replaced = Token.objects.filter(user=user).delete()[0] > 0
            new_key = Token.objects.create(user=user).key
            logger.info("api token %s by %s for themselves", "replaced" if replaced else "created", user.get_username())
        elif action == "revoke":
            revoked = Token.objects.filter(user=user).delete()[0] > 0
            logger.info("api token revoke by %s for themselves: %s", user.get_username(),
                        "revoked" if revoked else "none to revoke")
            messages.success(request, "Your API token was revoked." if revoked else "You had no API token.")
            return redirect("api-tokens")
        else:
            messages.error(request, "Unknown action; nothing was changed.")
            return redirect("api-tokens")
    token = Token.objects.filter(user=user).only("created").first()
    response = render(request, "accounts/tokens.html", {"token": token, "new_key": new_key},
                      status=201 if new_key else 200)
    add_never_cache_headers(response)  # the page that shows a key must never be stored
    return response
