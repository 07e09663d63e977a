"""What every dashboard page shares: login (htmx-aware), roles, store-down handling, CSP, Vary.

Views stay thin: `@dashboard_page` wraps them, `@operator_only` guards state changes, and
`render_page` picks the named partial of the page template when htmx asks for one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

from dataplatform.accounts import roles
from dataplatform.pipeline.errors import PipelineError, error_answer
from dataplatform.pipeline.services import Actor
from dataplatform.web.middleware import CONTENT_SECURITY_POLICY

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., HttpResponse])
# Roles that may see the dashboard; `pipeline` is a service identity for the API only.
PAGE_ROLES = (roles.VIEWER, roles.OPERATOR)


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def htmx_target(request: HttpRequest) -> str | None:
    """The id of the element htmx will swap, when a partial is wanted (history restores want
    the whole page, so they get None)."""
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return None
    return htmx.target or ""


def is_operator(request: HttpRequest) -> bool:
    return roles.has_role(request.user, roles.OPERATOR)


def actor_for(request: HttpRequest) -> Actor:
    """The signed-in user as the core's Actor (audit trail: who, which request, which roles)."""
    return Actor(
        name=request.user.get_username(),
        request_id=getattr(request, "request_id", None),
        roles=tuple(sorted(roles.user_roles(request.user))),
    )


def with_csp(response: HttpResponse) -> HttpResponse:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


def csp(view: View) -> View:
    """Adds the Content-Security-Policy header (for views outside `dashboard_page`, e.g. login)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return with_csp(view(request, *args, **kwargs))

    return cast(View, wrapper)


def render_page(
    request: HttpRequest,
    template_name: str,
    context: dict[str, Any],
    *,
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render the page, or only its `partial` (django-template-partials) for an htmx request."""
    wants_partial = partial is not None and htmx_target(request) is not None
    name = f"{template_name}#{partial}" if wants_partial else template_name
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


# Status of a domain error -> the page that explains it (others get the generic error page).
ERROR_TEMPLATES = {404: "errors/404.html", 503: "errors/503.html"}


def error_page(request: HttpRequest, exc: PipelineError) -> HttpResponse:
    """A domain error as a page (or its banner partial for htmx), with the status, `code` and
    headers of `error_answer`: the same answer the API and the Lambda give."""
    answer = error_answer(exc)
    log = logger.warning if answer.status < 500 else logger.error
    log("%s on %s: %s", answer.code, request.path, answer.body["detail"])
    template = ERROR_TEMPLATES.get(answer.status, "errors/error.html")
    if is_htmx(request):
        template += "#banner"
    context = {"message": answer.body["detail"], "code": answer.code, "status": answer.status}
    response = render(request, template, context, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    patch_vary_headers(response, ("HX-Request",))
    return response


def admin_action(action: str, *, target: str) -> Callable[[View], View]:
    """Marks a page view as the admin action `action` (the audit name: "retry", "cancel",
    "file_retry"...) on the URL argument `target` ("run_id" or "file_id"). Put it innermost:
    the outer decorators copy the mark, and every refusal they make (no role, not an
    operator, a failed CSRF check) then leaves the action's one audit record."""

    def mark(view: View) -> View:
        view.admin_action = (action, target)  # type: ignore[attr-defined]
        return view

    return mark


def audit_page_refusal(request: HttpRequest, *, reason: str, detail: dict[str, Any] | None = None) -> None:
    """The one audit record of a refused page admin action (nothing for other pages), filed
    under the target id in the URL. Signed-in users' refusals are stored and logged; an
    anonymous request is logged only (storing it would let anyone write to the audit table).
    A store failure is logged, never raised: the refusal's answer must stand."""
    match = getattr(request, "resolver_match", None)
    marked = getattr(match.func, "admin_action", None) if match is not None else None
    if marked is None:
        return
    action, target_arg = marked
    target_id = str(match.kwargs.get(target_arg) or "-")  # type: ignore[union-attr]
    kind = "file" if target_arg == "file_id" else "run"
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    from dataplatform.web.wiring import get_pipeline

    try:
        get_pipeline().audit.record(
            target_id=target_id,
            actor=user.get_username() if signed_in else "anonymous",  # type: ignore[union-attr]
            action=action,
            target=f"{kind}:{target_id}",
            outcome="refused",
            reason=reason,
            detail={"roles": sorted(roles.user_roles(user)), **(detail or {})},
            request_id=getattr(request, "request_id", None),
            store=signed_in,
        )
    except PipelineError:
        logger.exception("audit record of refused %s could not be stored", action)


def no_role_page(request: HttpRequest) -> HttpResponse:
    """403: the account holds no role that may see the dashboard (SPEC section 10)."""
    template = "errors/no_role.html#banner" if is_htmx(request) else "errors/no_role.html"
    response = render(request, template, {}, status=403)
    patch_vary_headers(response, ("HX-Request",))
    return response


def dashboard_page(view: View) -> View:
    """Login required (htmx gets HX-Redirect, not a login form in a fragment); a viewer,
    operator or superuser role required (anyone else gets the "no role" page, 403: `pipeline`
    accounts are API-only); a domain error becomes its page (or banner partial for htmx)
    through `error_page`; CSP on every answer."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if is_htmx(request):
                # Back to the page the fragment was on (path only: never another host).
                current = urlsplit(request.headers.get("HX-Current-URL", ""))
                back = current.path + (f"?{current.query}" if current.query else "")
                if not back.startswith("/") or back.startswith("//"):
                    back = settings.LOGIN_REDIRECT_URL
                login = redirect_to_login(back, settings.LOGIN_URL)
                return HttpResponseClientRedirect(login["Location"])
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        if not roles.has_role(request.user, *PAGE_ROLES):
            audit_page_refusal(request, reason="the account has no dashboard role")
            return with_csp(no_role_page(request))
        try:
            response = view(request, *args, **kwargs)
        except PipelineError as exc:
            response = error_page(request, exc)
        return with_csp(response)

    return cast(View, wrapper)


def operator_only(view: View) -> View:
    """403 for users without the operator role: a forged POST changes nothing."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_operator(request):
            audit_page_refusal(request, reason="role does not allow this action")
            template = "errors/403.html#banner" if is_htmx(request) else "errors/403.html"
            content = render(request, template, {}).content
            return HttpResponseForbidden(content)
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: an htmx request with a stale token reloads the page (fresh token).
    A refused admin action (retry, cancel...) leaves its audit record."""
    audit_page_refusal(request, reason="CSRF check failed", detail={"csrf": reason[:200]})
    if is_htmx(request):
        response = HttpResponse("The page was out of date; reloading.", status=403, content_type="text/plain")
        response["HX-Refresh"] = "true"
        return response
    return with_csp(render(request, "errors/403.html", {"csrf": True, "reason": reason}, status=403))
