"""Channel pages (administrators) and silence pages (viewers read, operators change).

Every change goes through `notifications.services` (the API's path: same validation, same
audit record); results come back as messages after a redirect, except a new channel, whose
generated secret is rendered once in the answer to the POST and never stored in the session."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dataplatform.accounts import roles
from dataplatform.notifications import services
from dataplatform.notifications.forms import (
    DEFAULT_REPEAT_TEXT,
    ChannelCreateForm,
    ChannelEditForm,
    DisableForm,
    SilenceForm,
)
from dataplatform.pipeline.errors import InvalidTransition, NotFound, ValidationFailed
from dataplatform.pipeline.notify import Channel
from dataplatform.pipeline.timeutil import utc_now
from dataplatform.web.decorators import actor_for, dashboard_page, is_htmx, operator_only, render_page
from dataplatform.web.wiring import get_pipeline

View = TypeVar("View", bound=Callable[..., HttpResponse])
EXPIRED_SHOWN = 50


def _forbidden(request: HttpRequest, needed: str) -> HttpResponse:
    """403 page (or htmx banner) naming the role the request lacked."""
    template = "errors/403.html#banner" if is_htmx(request) else "errors/403.html"
    return HttpResponseForbidden(render(request, template, {"needed": needed}).content)


def admin_only(view: View) -> View:
    """403 for anyone but an active superuser (channels hold secrets and decide who is paged)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_active and user.is_superuser):
            return _forbidden(request, "superuser")
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def readers_only(view: View) -> View:
    """403 for a signed-in account without a reading role."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not roles.has_role(request.user, roles.VIEWER, roles.OPERATOR):
            return _forbidden(request, "viewer")
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def _error_text(exc: ValidationFailed | InvalidTransition | NotFound) -> str:
    if isinstance(exc, ValidationFailed) and exc.fields:
        return "; ".join(f"{name}: {message}" for name, message in exc.fields.items())
    return exc.message


def _channels_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    channels: list[Channel] = get_pipeline().channels.all()
    return {
        "channels": [
            {"channel": c, "public": c.public(), "edit_form": ChannelEditForm.for_channel(c)} for c in channels
        ],
        "create_form": extra.pop("create_form", None) or ChannelCreateForm(),
        "default_repeat": DEFAULT_REPEAT_TEXT,
        "disabled_count": sum(1 for c in channels if not c.enabled),
        **extra,
    }


@require_http_methods(["GET", "HEAD", "POST"])
@dashboard_page
@admin_only
def channels_page(request: HttpRequest) -> HttpResponse:
    """Every channel with its subscriptions and state; POST creates one and shows a generated
    webhook secret this once."""
    if request.method != "POST":
        return render_page(request, "notifications/channels.html", _channels_context(request))
    form = ChannelCreateForm(request.POST)
    actor = actor_for(request)
    if not form.is_valid():
        error = ValidationFailed("invalid request", {name: "; ".join(errs) for name, errs in form.errors.items()})
        services.refuse(get_pipeline(), actor, action="channel.create", target_id="channel#new",
                        target="channel (new)", error=error)
        return render_page(request, "notifications/channels.html",
                           _channels_context(request, create_form=form), status=400)
    try:
        result = services.channel_create(get_pipeline(), body=form.body(), actor=actor)
    except ValidationFailed as exc:
        context = _channels_context(request, create_form=form, create_error=_error_text(exc))
        return render_page(request, "notifications/channels.html", context, status=400)
    context = _channels_context(request, created=services.changed(result), new_secret=result.secret)
    return render_page(request, "notifications/channels.html", context, status=201)


def _channel_action(request: HttpRequest, done: str, call: Callable[[], Any]) -> HttpResponse:
    try:
        call()
    except (ValidationFailed, InvalidTransition, NotFound) as exc:
        messages.error(request, f"Refused: {_error_text(exc)}")
    else:
        messages.success(request, done)
    return redirect("channels-page")


@require_POST
@dashboard_page
@admin_only
def channel_edit(request: HttpRequest, channel_id: str) -> HttpResponse:
    """Change a channel's name, subscriptions and repeat schedule."""
    form = ChannelEditForm(request.POST, prefix=f"edit-{channel_id}")
    if not form.is_valid():
        messages.error(request, "Refused: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("channels-page")
    return _channel_action(request, "Channel updated.", lambda: services.channel_update(
        get_pipeline(), channel_id=channel_id, body=form.body(), actor=actor_for(request)))


@require_POST
@dashboard_page
@admin_only
def channel_disable(request: HttpRequest, channel_id: str) -> HttpResponse:
    form = DisableForm(request.POST)
    actor = actor_for(request)
    reason = (form.cleaned_data.get("reason") if form.is_valid() else "") or f"disabled by {actor.name}"
    return _channel_action(request, "Channel disabled.", lambda: services.channel_disable(
        get_pipeline(), channel_id=channel_id, reason=reason, actor=actor))


@require_POST
@dashboard_page
@admin_only
def channel_enable(request: HttpRequest, channel_id: str) -> HttpResponse:
    return _channel_action(request, "Channel enabled.", lambda: services.channel_enable(
        get_pipeline(), channel_id=channel_id, actor=actor_for(request)))


@require_POST
@dashboard_page
@admin_only
def channel_delete(request: HttpRequest, channel_id: str) -> HttpResponse:
    return _channel_action(request, "Channel deleted.", lambda: services.channel_delete(
        get_pipeline(), channel_id=channel_id, actor=actor_for(request)))


@require_POST
@dashboard_page
@admin_only
def channel_test(request: HttpRequest, channel_id: str) -> HttpResponse:
    """Send the test message now; the outcome (delivered or the error) comes back as a message."""
    try:
        result = services.channel_send_test(get_pipeline(), channel_id=channel_id, actor=actor_for(request))
    except NotFound as exc:
        messages.error(request, f"Refused: {exc.message}")
        return redirect("channels-page")
    outcome = result.outcome
    status = f" (HTTP {outcome.status_code})" if outcome.status_code else ""
    if outcome.ok:
        messages.success(request, f"Test message {result.message_id} delivered{status} in {outcome.duration_ms} ms.")
    else:
        messages.error(request, f"Test message failed{status}: {outcome.error}")
    return redirect("channels-page")


def _silences_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    now = utc_now()
    silences = get_pipeline().silences.all()
    active = sorted((s for s in silences if s.status(now) == "active"), key=lambda s: s.ends_at)
    upcoming = sorted((s for s in silences if s.status(now) == "upcoming"), key=lambda s: s.starts_at)
    expired = sorted((s for s in silences if s.status(now) == "expired"), key=lambda s: s.ends_at, reverse=True)
    return {
        "sections": [("Active", active), ("Upcoming", upcoming), ("Expired", expired[:EXPIRED_SHOWN])],
        "expired_total": len(expired),
        "expired_shown": EXPIRED_SHOWN,
        "can_act": roles.has_role(request.user, roles.OPERATOR),
        "form": extra.pop("form", None) or SilenceForm(),
        "now": now,
        **extra,
    }


@require_GET
@dashboard_page
@readers_only
def silences_page(request: HttpRequest) -> HttpResponse:
    """Active, upcoming and (recent) expired silences; operators create and expire them."""
    return render_page(request, "notifications/silences.html", _silences_context(request))


@require_POST
@dashboard_page
@operator_only
def silence_create(request: HttpRequest) -> HttpResponse:
    form = SilenceForm(request.POST)
    actor = actor_for(request)
    if not form.is_valid():
        fields = {name: "; ".join(errs) for name, errs in form.errors.items()}
        services.refuse(get_pipeline(), actor, action="silence.create", target_id="silence#new",
                        target="silence (new)", error=ValidationFailed("invalid request", fields))
        return render_page(request, "notifications/silences.html", _silences_context(request, form=form),
                           status=400)
    try:
        result = services.silence_create(get_pipeline(), body=form.body(), actor=actor)
    except ValidationFailed as exc:
        context = _silences_context(request, form=form, create_error=_error_text(exc))
        return render_page(request, "notifications/silences.html", context, status=400)
    messages.success(request, f"Silence created until {result.silence.ends_at:%Y-%m-%d %H:%M} UTC.")
    return redirect("silences-page")


@require_POST
@dashboard_page
@operator_only
def silence_expire(request: HttpRequest, silence_id: str) -> HttpResponse:
    try:
        services.silence_expire(get_pipeline(), silence_id=silence_id, actor=actor_for(request))
    except (InvalidTransition, NotFound) as exc:
        messages.error(request, f"Refused: {exc.message}")
    else:
        messages.success(request, "Silence expired.")
    return redirect("silences-page")
