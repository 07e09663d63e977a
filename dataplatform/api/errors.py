"""The one place where errors become HTTP responses for the admin API.

Every 4xx/5xx under /api/ is JSON `{"detail", "code"}` (+ `fields` for field errors, `current` for
409s); never HTML, never a traceback, never a table name. Also provides the Django error handlers
(handler400/403/404/500) which answer JSON under /api/ and the usual HTML pages elsewhere."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from dataplatform.api.log import log_event
from dataplatform.api.parsers import PayloadTooLarge
from dataplatform.pipeline.errors import SERVER_ERROR_DETAIL, PipelineError, error_answer

API_PREFIX = "/api/"


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


def _field_messages(detail: Any) -> Any:
    """DRF's nested ErrorDetail structure as plain strings (lists of messages per field)."""
    if isinstance(detail, dict):
        return {str(key): _field_messages(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_field_messages(value) for value in detail]
    return str(detail)


def _context_fields(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    if request is None:
        return {}
    user = getattr(request, "user", None)
    return {
        "method": request.method,
        "path": request.path,
        "user": getattr(user, "username", None) or None,
        "view": type(context["view"]).__name__ if context.get("view") is not None else None,
    }


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: map every exception raised in an API view to JSON."""
    headers: dict[str, str] = {}
    if isinstance(exc, PipelineError):
        answer = error_answer(exc)
        code, body, headers = answer.status, answer.body, answer.headers
    else:
        if isinstance(exc, RequestDataTooBig):
            exc = PayloadTooLarge()
        elif isinstance(exc, Http404):
            exc = exceptions.NotFound()
        elif isinstance(exc, DjangoPermissionDenied):
            exc = exceptions.PermissionDenied()
        elif isinstance(exc, SuspiciousOperation):
            exc = exceptions.ParseError("The request was refused as malformed.")
        if isinstance(exc, exceptions.APIException):
            response = drf_exception_handler(exc, context)
            headers = {} if response is None else {
                name: value for name, value in response.items() if name in {"WWW-Authenticate", "Retry-After"}
            }
            code = exc.status_code
            body = {"detail": _first_message(exc.detail), "code": _first_code(exc)}
            if isinstance(exc, exceptions.ValidationError):
                body["detail"] = "Invalid input."
                if isinstance(exc.detail, dict):
                    body["fields"] = _field_messages(exc.detail)
                else:
                    body["detail"] = _first_message(exc.detail)
        else:
            log_event("api_error", level=logging.ERROR, exc_info=True, status=500, code="server_error",
                      error=type(exc).__name__, **_context_fields(context))
            return Response({"detail": SERVER_ERROR_DETAIL, "code": "server_error"},
                            status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    log_event("api_error", level=logging.WARNING if code < 500 else logging.ERROR, status=code,
              code=body["code"], detail=body["detail"], **_context_fields(context))
    return Response(body, status=code, headers=headers)


def _first_code(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    codes = exc.get_codes()
    while isinstance(codes, dict | list):
        if not codes:
            return exc.default_code
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return str(codes or exc.default_code)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


def _json_error(request: HttpRequest, status_code: int, detail: str, code: str) -> JsonResponse:
    log_event("api_error", level=logging.WARNING if status_code < 500 else logging.ERROR,
              status=status_code, code=code, detail=detail, method=request.method, path=request.path)
    return JsonResponse({"detail": detail, "code": code}, status=status_code)


@csrf_exempt  # it changes nothing; a CSRF refusal would be an HTML page under /api/
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Catch-all route under /api/v1/: an unknown URL is a JSON 404 whatever DEBUG says."""
    if not request.path.startswith("/api/v1/"):
        return _json_error(request, 404, "No such API endpoint: the admin API is under /api/v1/.", "not_found")
    return _json_error(request, 404, "No such API endpoint.", "not_found")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return _json_error(request, 413, "The request body is too large.", "payload_too_large")
        return _json_error(request, 400, "The request was refused as malformed.", "bad_request")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _json_error(request, 403, "You do not have permission to perform this action.", "permission_denied")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _json_error(request, 404, "No such API endpoint.", "not_found")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _json_error(request, 500, SERVER_ERROR_DETAIL, "server_error")
    return defaults.server_error(request)
