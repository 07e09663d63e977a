"""AWS Lambda entry point for triggering a run (direct, API Gateway v1/v2 and EventBridge events). Django-free.

The Pipeline (boto3 clients, dispatcher) is built once per container, on the first
invocation, and reused by every later invocation of that container."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from enum import StrEnum
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


class EventShape(StrEnum):
    """How a trigger arrived; decides where the payload is and how the answer is shaped."""

    DIRECT = "direct"  # Lambda Invoke with the trigger at the top level (Control-M, Step Functions)
    API_V1 = "apigateway-v1"  # API Gateway REST API proxy integration
    API_V2 = "apigateway-v2"  # API Gateway HTTP API proxy integration (payload format 2.0)
    EVENTBRIDGE = "eventbridge"  # an EventBridge event; the trigger is its `detail`

    @property
    def proxy(self) -> bool:
        return self in (EventShape.API_V1, EventShape.API_V2)


class TriggerUnavailable(RuntimeError):
    """Raised (not returned) for a 5xx answer to a direct or EventBridge invocation, so Lambda's own
    retry machinery (asynchronous retries, Step Functions Retry, the on-failure destination) applies."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps({"statusCode": status, **body}, default=str, sort_keys=True))
        self.status = status
        self.body = body


def event_shape(event: Any) -> EventShape:
    """Classify an event: HTTP API v2 (`version` "2.0" + `requestContext.http`), REST API v1
    (`httpMethod`, or a `body` key as the older callers send), EventBridge (`detail-type` +
    `detail`), else a direct invocation whose top level is the trigger itself."""
    if not isinstance(event, dict):
        return EventShape.DIRECT
    context_info = event.get("requestContext")
    if event.get("version") == "2.0" and isinstance(context_info, dict) and "http" in context_info:
        return EventShape.API_V2
    if "httpMethod" in event or "body" in event:
        return EventShape.API_V1
    if "detail-type" in event and "detail" in event:
        return EventShape.EVENTBRIDGE
    return EventShape.DIRECT


def parse_event(event: Any) -> tuple[EventShape, dict[str, Any]]:
    """The shape of an event and the trigger payload in it; ValidationFailed (400, nothing
    written) when the payload is absent or not a JSON object. The payload then goes through
    the same TriggerRequest validation whatever the shape."""
    shape = event_shape(event)
    if shape.proxy:
        return shape, _parse_body(event)
    if not isinstance(event, dict):
        raise ValidationFailed("The event must be a JSON object: the trigger, an API Gateway or an EventBridge event.")
    if shape is EventShape.EVENTBRIDGE:
        detail = event["detail"]
        if not isinstance(detail, dict) or not detail:
            raise ValidationFailed("The EventBridge event's detail must be the trigger as a JSON object.")
        return shape, detail
    if not event:
        raise ValidationFailed("The event is empty; send the trigger as a JSON object.")
    return shape, event


def _parse_body(event: dict[str, Any]) -> dict[str, Any]:
    """The trigger payload of an API Gateway proxy event (v1 or v2)."""
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
    except RecursionError as exc:
        raise ValidationFailed("The request body is nested too deeply.") from exc
    except ValueError as exc:
        raise ValidationFailed(f"The request body is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object, not " + type(data).__name__ + ".")
    return data


def shape_response(shape: EventShape, response: dict[str, Any]) -> dict[str, Any]:
    """The answer for the caller of `shape`, from an API-Gateway-shaped response.

    Proxy events get it as is (both API Gateway versions read statusCode/headers/body). Direct
    and EventBridge callers read the payload, not an HTTP envelope: they get the body as a plain
    object with `statusCode` beside its fields (a Step Functions Choice can test `$.statusCode`
    and read `$.runId`). A 5xx raises TriggerUnavailable instead, so the invocation fails and is
    retried by whoever retries it (asynchronous invocation, Step Functions, Control-M)."""
    if shape.proxy:
        return response
    status = int(response["statusCode"])
    body = json.loads(response["body"])
    if status >= 500:
        raise TriggerUnavailable(status, body)
    return {"statusCode": status, **body}


def _actor(event: Any, context: Any, shape: EventShape) -> Actor:
    """Who triggered: the API Gateway caller (IAM user/role ARN, authorizer principal or JWT
    subject), `events:<source>` for EventBridge, `lambda:trigger` for a direct invocation."""
    found = event.get("requestContext") if isinstance(event, dict) else None
    info: dict[str, Any] = found if isinstance(found, dict) else {}
    authorizer: dict[str, Any] = info["authorizer"] if isinstance(info.get("authorizer"), dict) else {}
    name: Any = None
    if shape.proxy:
        name = (
            authorizer.get("principalId")  # v1 Lambda authorizer
            or _get(authorizer, "claims", "sub")  # v1 Cognito
            or _get(authorizer, "iam", "userArn")  # v2 IAM authorization
            or _get(authorizer, "jwt", "claims", "sub")  # v2 JWT authorizer
            or _get(authorizer, "lambda", "principalId")  # v2 Lambda authorizer (simple responses)
            or _get(info, "identity", "userArn")  # v1 IAM authorization
            or _get(info, "identity", "caller")
        )
    elif shape is EventShape.EVENTBRIDGE and isinstance(event.get("source"), str):
        name = f"events:{event['source']}"
    request_id = getattr(context, "aws_request_id", None) or info.get("requestId")
    if not request_id and shape is EventShape.EVENTBRIDGE:
        request_id = event.get("id")
    return Actor(name=str(name) if name else "lambda:trigger", request_id=str(request_id) if request_id else None)


def _get(mapping: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(part)
    return mapping


def api_lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Trigger a run from any accepted event (see EventShape): 201 with the new run, 200 with the
    existing run for a repeated trigger (idempotency key), 400 with a JSON error for bad input
    (nothing is written), 404/409/503 for the domain errors (PipelineError.http_status).

    The body carries `created` and `run` (the whole run) and, for the platform's existing
    callers, `runId`, `datasetName`, `businessDate` and `fileCount`. How the answer is wrapped
    depends on the event's shape (see shape_response)."""
    shape = event_shape(event)
    return shape_response(shape, _trigger(event, context, shape))


def _trigger(event: Any, context: Any, shape: EventShape) -> dict[str, Any]:
    actor = _actor(event, context, shape)
    try:
        try:
            _, payload = parse_event(event)
        except ValidationFailed as exc:
            # An unreadable event is a refused trigger too: one audit record, like run_trigger's refusals.
            get_pipeline().audit.record_action(
                actor=actor.name, request_id=actor.request_id, action="trigger", run_id="-",
                target="dataset:-", outcome="refused", error=exc, detail={"fields": exc.fields},
            )
            raise
        result = run_trigger(get_pipeline(), request=payload, actor=actor)
    except PipelineError as exc:
        if exc.http_status >= 500:
            logger.error("trigger failed: %s", exc.message)
        answer = error_answer(exc)
        return _response(answer.status, answer.body, answer.headers)
    run = result.run
    body = {
        "created": result.created,
        "run": run.model_dump(mode="json", by_alias=True, exclude_none=True),
        "runId": run.run_id,
        "datasetName": run.dataset_name,
        "businessDate": run.business_date,
        "fileCount": run.resolved_files,
    }
    return _response(201 if result.created else 200, body)


def alerts_lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """One evaluator tick per invocation (an EventBridge schedule, e.g. rate(1 minute)).

    `now` is the event's `time` (the instant the schedule fired) when present, so a delayed or
    retried invocation evaluates the minute it was meant for; otherwise the current time. An
    unreadable `time` is refused (ValidationFailed) before anything is written. Returns the
    tick's summary (with `delivered`: what the notification sender did); a store failure
    propagates so Lambda retries the (idempotent) tick.

    Each tick then delivers notifications (`notify.deliver_notifications`, settings from
    PUBLIC_BASE_URL / NOTIFY_* and SMTP from EMAIL_*): in a deployment on AWS this Lambda is the
    sender, no other process is needed. With EMF_METRICS=1 it also writes one CloudWatch Embedded
    Metric Format record."""
    from .emf import emf_enabled, emit_tick
    from .evaluator import evaluate
    from .notify import deliver_notifications
    from .timeutil import parse_ts

    now = None
    raw = event.get("time") if isinstance(event, dict) else None
    if raw is not None:
        try:
            now = parse_ts(str(raw))
        except ValueError as exc:
            raise ValidationFailed(f"The event time {raw!r} is not an ISO-8601 instant.") from exc
    pipeline = get_pipeline()
    result = evaluate(pipeline, now=now, deliver=deliver_notifications)
    summary = result.summary()
    if emf_enabled():
        try:
            emit_tick(summary, environment=pipeline.config.environment.value, delivered=result.delivered)
        except Exception:
            # Metrics are a view of the tick, which has already taken effect: never fail it for them.
            logger.exception("alerts tick: the EMF record could not be written")
    if result.delivered is not None:
        summary["delivered"] = result.delivered.as_dict()
    logger.info(
        "alerts tick request_id=%s opened=%s resolved=%s active=%s duration_ms=%s",
        getattr(context, "aws_request_id", None), summary["opened"], summary["resolved"], summary["active"],
        summary["durationMs"],
    )
    return summary
