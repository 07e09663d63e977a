"""Rate limits on the dashboard's expensive actions (retry, cancel, exact counts, tokens).

`@throttled()` counts each request of the signed-in user against PAGE_ACTION_RATE with
accounts.ratelimit (atomic across workers and instances); over the limit the answer is the
error page (or its banner partial for htmx) with 429 and Retry-After, and nothing is done."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from dataplatform.accounts import ratelimit

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., HttpResponse])


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    """The 429 page (banner partial for htmx) with Retry-After."""
    htmx = bool(getattr(request, "htmx", False))
    context = {
        "message": f"Too many requests; try again in {retry_after} s.",
        "code": "throttled",
        "status": 429,
    }
    template = "errors/error.html#banner" if htmx else "errors/error.html"
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(retry_after)
    patch_vary_headers(response, ("HX-Request",))
    return response


def throttled(
    scope: str = "page-action", *, when: Callable[[HttpRequest], bool] | None = None
) -> Callable[[View], View]:
    """Limit the view to PAGE_ACTION_RATE per user in `scope` (only requests for which `when`
    is true count, e.g. a page asking for its expensive section). Put it inside
    `@dashboard_page`, so the user is signed in."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if when is None or when(request):
                who = f"user:{request.user.pk}" if request.user.is_authenticated else ratelimit.client_address(request)
                verdict = ratelimit.hit(scope, who, settings.PAGE_ACTION_RATE)
                if not verdict.allowed:
                    logger.warning(
                        "%s refused for %s on %s: %s requests, %s allowed per window",
                        scope, request.user.get_username() or "anonymous", request.path, verdict.count, verdict.limit,
                    )
                    return too_many_requests(request, verdict.retry_after)
            return view(request, *args, **kwargs)

        return cast(View, wrapper)

    return decorate
