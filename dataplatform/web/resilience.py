"""Bounded waits for the parts a request depends on.

- RequestDeadlineMiddleware: read requests (GET/HEAD) get REQUEST_DEADLINE_SECONDS for their
  DynamoDB calls (see pipeline.deadline); past it they answer 503 with Retry-After instead of
  waiting on a hung store call after call. Writes are not cut short mid-way (a large trigger
  legitimately takes many calls); each of their calls is bounded by botocore's timeouts.
- DatabaseUnavailableMiddleware: a page whose auth-database query fails (PostgreSQL restarting)
  answers the 503 page with Retry-After, not a 500; the connection is dropped, and the next
  request reconnects (CONN_HEALTH_CHECKS)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dataplatform.pipeline.deadline import deadline
from dataplatform.pipeline.errors import RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)


class RequestDeadlineMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            with deadline(settings.REQUEST_DEADLINE_SECONDS):
                return self.get_response(request)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError) or request.path.startswith("/api/"):
            return None  # the API's own handler answers under /api/
        logger.error("auth database unavailable on %s: %s: %s", request.path, type(exception).__name__, exception)
        for connection in connections.all(initialized_only=True):
            with contextlib.suppress(DatabaseError):  # already broken: the next query reconnects
                connection.close()
        context = {
            "message": "The sign-in database is unavailable; try again in a few seconds. Nothing was changed.",
            "code": "database_unavailable",
            "status": 503,
        }
        template = "errors/error.html#banner" if getattr(request, "htmx", False) else "errors/error.html"
        # The user cannot be read without the database: anonymous from here on (the template,
        # the access log), so nothing after this answer tries the database again.
        request.user = AnonymousUser()
        response = render(request, template, {**context, "messages": []}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
