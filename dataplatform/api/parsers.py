"""The admin API's only parser: JSON in UTF-8, size-bounded, strict (no NaN/Infinity), and
nothing a later read could not show: nesting, lone surrogates and out-of-range numbers are
refused here for every endpoint (the core's request models check the same again)."""

from __future__ import annotations

import codecs
import json
from typing import IO, Any

from django.conf import settings
from django.utils.http import parse_header_parameters
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser

from dataplatform.pipeline.storable import describe_problem, storable_problem

# RFC 8259: JSON exchanged between systems is UTF-8 (US-ASCII is a subset of it).
JSON_CHARSETS = frozenset({"utf-8", "ascii"})


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class BoundedJSONParser(JSONParser):
    """JSONParser that refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE with 413.

    DRF reads the request stream directly, which bypasses Django's own size check, so the bound
    is enforced here: first on Content-Length, then on the bytes actually read."""

    def parse(self, stream: IO[bytes], media_type: str | None = None,
              parser_context: dict[str, Any] | None = None) -> Any:
        limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        if limit is not None and request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise PayloadTooLarge()
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge()
        # The declared charset itself: Django drops one it does not know (and would decode
        # the body as UTF-8 anyway), but a body in an unknown charset is not UTF-8 JSON.
        _, params = parse_header_parameters(media_type or "")
        encoding = params.get("charset") or str((parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET)
        try:
            known = codecs.lookup(encoding).name
        except LookupError:
            known = ""
        if known not in JSON_CHARSETS:
            raise UnsupportedMediaType(
                media_type or "application/json",
                detail=f"Unsupported charset {encoding[:40]!r}: send JSON in UTF-8.",
            )
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError as exc:
            raise ParseError("The body is nested too deeply.") from exc
        except ValueError as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from exc
        found = storable_problem(data)
        if found is not None:
            raise ParseError(f"The body cannot be stored: {describe_problem(found)}.")
        return data
