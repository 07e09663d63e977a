"""Request ids: accept a sane X-Request-ID or make one, expose it to views, logs and the response."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served on this thread/task, if any."""
    return request_id_var.get()


def clean_request_id(raw: str | None) -> str:
    """`raw` when it is a safe id (<=128 of [A-Za-z0-9._-]), else a fresh uuid4 hex."""
    if raw and _VALID_REQUEST_ID.fullmatch(raw):
        return raw
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every log record (usable as %(request_id)s in formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        return True


class RequestIdMiddleware:
    """Sets `request.request_id`, binds it to a contextvar and returns it as X-Request-ID."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = clean_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


# Scripts and styles only from our own static files: stored data can never run code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def add_security_headers(response: HttpResponse) -> HttpResponse:
    """CSP (unless the view set its own), no MIME sniffing, no referrer to other sites."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


class SecurityHeadersMiddleware:
    """Security headers on every response (see add_security_headers)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return add_security_headers(self.get_response(request))


class HealthProbeMiddleware:
    """Answers the health endpoints before host validation and HTTPS redirects.

    Load balancers probe instances by IP address (a Host that ALLOWED_HOSTS rightly refuses)
    and over plain HTTP; these two read-only JSON endpoints are safe to serve to any Host,
    while every other path still goes through ALLOWED_HOSTS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in ("/health/live", "/health/ready") and request.method in ("GET", "HEAD"):
            from dataplatform.web import health

            view = health.live if request.path == "/health/live" else health.ready
            return add_security_headers(view(request))
        return self.get_response(request)


class PrivateCacheMiddleware:
    """`Cache-Control: private, no-store` on every dynamic answer: signed-in pages, API
    responses (token or session), login and error pages. What they show is one user's view of
    live state, and must stay in neither a shared proxy nor the browser's history cache.
    Static files (their own long-lived caching) and answers that chose `public` are left alone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(settings.STATIC_URL or "/static/"):
            return response
        if "public" in response.get("Cache-Control", ""):
            return response
        patch_cache_control(response, private=True, no_store=True)
        return response


FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class FormCharsetMiddleware:
    """A form body declared in a charset other than UTF-8 is refused before anything reads it.

    Django raises BadRequest whenever such a body is read (forms are UTF-8 by definition), and
    its CSRF check and its own error pages read it again while answering, which ended in a bare
    500. Here it is one clear answer instead: 415 JSON under /api/, a 400 page elsewhere."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.content_type == FORM_CONTENT_TYPE and request.encoding is not None:
            charset = request.encoding.strip().lower()
            if charset not in {"utf-8", "utf8"}:
                return self.refuse(request, charset)
        return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest, charset: str) -> HttpResponse:
        from django.http import JsonResponse
        from django.shortcuts import render

        detail = f"Forms must be sent in UTF-8, not {charset[:40]!r}."
        logging.getLogger("dataplatform.web").warning("refused form charset %r on %s", charset[:40], request.path)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": detail, "code": "unsupported_media_type"}, status=415)
        context = {"message": detail + " Nothing was changed.", "code": "bad_charset", "status": 400}
        return render(request, "errors/error.html", context, status=400)
