"""AWS Lambda entry point for triggering a run (API Gateway proxy events). Django-free.

The Pipeline (boto3 clients, dispatcher) is built once per container, on the first
invocation, and reused by every later invocation of that container."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from .app import Pipeline, PipelineHolder
from .config import PipelineConfig
from .errors import PipelineError, ValidationFailed, error_answer
from .services import Actor, run_trigger

logger = logging.getLogger("dataplatform.lambda")

MAX_BODY_BYTES = 6 * 1024 * 1024  # the API Gateway / Lambda payload limit

# The container's Pipeline, built on the first invocation from the environment.
_holder = PipelineHolder(lambda: Pipeline(PipelineConfig.from_env()))
get_pipeline = _holder.get
set_pipeline = _holder.set


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body, default=str, sort_keys=True),
        "isBase64Encoded": False,
    }


def _parse_body(event: Any) -> dict[str, Any]:
    """The trigger payload of an API Gateway event; ValidationFailed for anything else."""
    if not isinstance(event, dict):
        raise ValidationFailed("The event must be an API Gateway proxy event (a JSON object).")
    body = event.get("body")
    if body is None or body == "":
        raise ValidationFailed("The request has no body; send the trigger as a JSON object.")
    if isinstance(body, dict):
        return body
    if not isinstance(body, str):
        raise ValidationFailed("The request body must be a JSON object.")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed("The request body is not valid base64-encoded UTF-8.") from exc
    if len(body.encode("utf-8", errors="replace")) > MAX_BODY_BYTES:
        raise ValidationFailed("The request body is too large.")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValidationFailed(f"The request body is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object, not " + type(data).__name__ + ".")
    return data


def _actor(event: dict[str, Any], context: Any) -> Actor:
    context_info = event.get("requestContext") if isinstance(event.get("requestContext"), dict) else {}
    assert isinstance(context_info, dict)  # noqa: S101 - narrowed above, for the type checker
    authorizer = context_info.get("authorizer") or {}
    identity = context_info.get("identity") or {}
    name = None
    if isinstance(authorizer, dict):
        name = authorizer.get("principalId") or (authorizer.get("claims") or {}).get("sub")
    if not name and isinstance(identity, dict):
        name = identity.get("userArn") or identity.get("caller")
    request_id = getattr(context, "aws_request_id", None) or context_info.get("requestId")
    return Actor(name=str(name) if name else "lambda:trigger", request_id=str(request_id) if request_id else None)


def api_lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Trigger a run from an API Gateway event: 201 with the new run, 200 with the existing run
    for a repeated trigger (idempotency key), 400 with a JSON error for bad input (nothing is
    written), 404/409/503 for the domain errors (PipelineError.http_status)."""
    try:
        payload = _parse_body(event)
        result = run_trigger(get_pipeline(), request=payload, actor=_actor(event, context))
    except PipelineError as exc:
        if exc.http_status >= 500:
            logger.error("trigger failed: %s", exc.message)
        answer = error_answer(exc)
        return _response(answer.status, answer.body, answer.headers)
    body = {"created": result.created, "run": result.run.model_dump(mode="json", by_alias=True, exclude_none=True)}
    return _response(201 if result.created else 200, body)


def alerts_lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """One evaluator tick per invocation (an EventBridge schedule, e.g. rate(1 minute)).

    `now` is the event's `time` (the instant the schedule fired) when present, so a delayed or
    retried invocation evaluates the minute it was meant for; otherwise the current time. An
    unreadable `time` is refused (ValidationFailed) before anything is written. Returns the
    tick's summary; a store failure propagates so Lambda retries the (idempotent) tick."""
    from .evaluator import evaluate
    from .timeutil import parse_ts

    now = None
    raw = event.get("time") if isinstance(event, dict) else None
    if raw is not None:
        try:
            now = parse_ts(str(raw))
        except ValueError as exc:
            raise ValidationFailed(f"The event time {raw!r} is not an ISO-8601 instant.") from exc
    result = evaluate(get_pipeline(), now=now)
    summary = result.summary()
    logger.info(
        "alerts tick request_id=%s opened=%s resolved=%s active=%s duration_ms=%s",
        getattr(context, "aws_request_id", None), summary["opened"], summary["resolved"], summary["active"],
        summary["durationMs"],
    )
    return summary
