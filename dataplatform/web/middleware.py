"""Request ids: accept a sane X-Request-ID or make one, expose it to views, logs and the response."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
