"""The trigger Lambda takes what its callers send: direct invocation, API Gateway REST (v1) and
HTTP API (v2) proxy events, EventBridge events; the same validation and errors for all."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from dataplatform.pipeline import lambda_handler
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dispatch import FileMessage
from dataplatform.pipeline.errors import DispatchFailed
from dataplatform.pipeline.lambda_handler import EventShape, TriggerUnavailable, event_shape

from .recording import RecordingDispatcher, assert_refused_and_audited, audit_records, snapshot

TRIGGER = {
    "datasetName": "fx-rates",
    "businessDate": "2026-01-05",
    "sourceType": "control-m",
    "sourceTrigger": {"job": "FX_DAILY", "orderId": "0042"},
    "metadata": {"team": "markets"},
    "files": ["s3://bucket-a/fx/2026-01-05/a.csv", "s3://bucket-a/fx/2026-01-05/b.csv"],
}
CALLER_ARN = "arn:aws:iam::123456789012:role/control-m"


class Context:
    aws_request_id = "lambda-req-7"


def direct(payload: Any) -> Any:
    return payload


def api_v1(payload: Any, *, raw: str | None = None, base64_body: bool = False) -> dict[str, Any]:
    body = raw if raw is not None else (None if payload is None else json.dumps(payload))
    if base64_body and body is not None:
        body = base64.b64encode(body.encode()).decode()
    return {
        "resource": "/trigger", "path": "/trigger", "httpMethod": "POST",
        "headers": {"content-type": "application/json"}, "queryStringParameters": None,
        "requestContext": {
            "resourcePath": "/trigger", "httpMethod": "POST", "stage": "v1", "requestId": "apigw-1",
            "identity": {"userArn": CALLER_ARN, "caller": "AROAEXAMPLE:control-m"},
        },
        "body": body, "isBase64Encoded": base64_body,
    }


def api_v2(payload: Any, *, raw: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "POST /trigger", "rawPath": "/trigger", "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": "POST", "path": "/trigger", "protocol": "HTTP/1.1"},
            "authorizer": {"iam": {"userArn": CALLER_ARN}}, "requestId": "apigw-2", "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    body = raw if raw is not None else (None if payload is None else json.dumps(payload))
    if body is not None:  # HTTP APIs leave `body` out when the request has none
        event["body"] = body
    return event


def eventbridge(payload: Any) -> dict[str, Any]:
    return {
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "Run Trigger",
        "source": "com.example.controlm", "account": "123456789012", "time": "2026-01-06T05:00:00Z",
        "region": "eu-west-1", "resources": [], "detail": payload,
    }


SHAPES: dict[str, Callable[[Any], Any]] = {
    "direct": direct, "api-v1": api_v1, "api-v2": api_v2, "eventbridge": eventbridge,
}


def body_of(name: str, response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The status and body whatever the shape: proxy events answer API-Gateway-shaped, direct and
    EventBridge invocations a plain object with statusCode beside the fields."""
    if name.startswith("api"):
        assert response["headers"]["Content-Type"] == "application/json"
        assert response["isBase64Encoded"] is False
        return response["statusCode"], json.loads(response["body"])
    assert "body" not in response
    return response["statusCode"], {k: v for k, v in response.items() if k != "statusCode"}


@pytest.fixture
def p(moto_pipeline: Pipeline) -> Iterator[Pipeline]:
    moto_pipeline.dispatcher = RecordingDispatcher()
    lambda_handler.set_pipeline(moto_pipeline)
    yield moto_pipeline
    lambda_handler.set_pipeline(None)


def test_each_shape_is_recognised() -> None:
    assert [event_shape(make(TRIGGER)) for make in SHAPES.values()] == [
        EventShape.DIRECT, EventShape.API_V1, EventShape.API_V2, EventShape.EVENTBRIDGE,
    ]


@pytest.mark.parametrize("name", list(SHAPES))
def test_each_shape_creates_the_run_and_answers_old_and_new_fields(p: Pipeline, name: str) -> None:
    status, body = body_of(name, lambda_handler.api_lambda_handler(SHAPES[name](TRIGGER), Context()))
    assert status == 201
    assert body["created"] is True
    assert body["run"]["status"] == "dispatched"
    assert body["runId"] == body["run"]["runId"]
    assert (body["datasetName"], body["businessDate"], body["fileCount"]) == ("fx-rates", "2026-01-05", 2)
    run = p.runs.get(body["runId"])
    assert run.source_trigger == TRIGGER["sourceTrigger"]
    assert run.metadata == {"team": "markets"}
    assert len(list(p.files.iter_run(body["runId"]))) == 2
    assert isinstance(p.dispatcher, RecordingDispatcher)
    assert len(p.dispatcher.messages) == 2


def test_every_shape_of_one_trigger_lands_on_the_same_run(p: Pipeline) -> None:
    answers = [
        body_of(name, lambda_handler.api_lambda_handler(make(TRIGGER), Context())) for name, make in SHAPES.items()
    ]
    assert [status for status, _ in answers] == [201, 200, 200, 200]
    assert len({body["runId"] for _, body in answers}) == 1
    assert all(body["fileCount"] == 2 and body["created"] is (i == 0) for i, (_, body) in enumerate(answers))
    assert isinstance(p.dispatcher, RecordingDispatcher)
    assert len(p.dispatcher.messages) == 2


@pytest.mark.parametrize(
    ("name", "actor"),
    [("direct", "lambda:trigger"), ("api-v1", CALLER_ARN), ("api-v2", CALLER_ARN),
     ("eventbridge", "events:com.example.controlm")],
)
def test_the_audit_record_names_the_caller_of_each_shape(p: Pipeline, name: str, actor: str) -> None:
    _, body = body_of(name, lambda_handler.api_lambda_handler(SHAPES[name](TRIGGER), Context()))
    assert [(r.actor, r.request_id) for r in audit_records(p, body["runId"])] == [(actor, "lambda-req-7")]


def test_an_api_v1_base64_body_is_decoded(p: Pipeline) -> None:
    status, body = body_of("api-v1", lambda_handler.api_lambda_handler(api_v1(TRIGGER, base64_body=True), Context()))
    assert (status, body["fileCount"]) == (201, 2)


def _without(field: str) -> dict[str, Any]:
    return {k: v for k, v in TRIGGER.items() if k != field}


BAD_PAYLOADS: dict[str, Any] = {
    "missing datasetName": _without("datasetName"),
    "missing businessDate": _without("businessDate"),
    "impossible date": {**TRIGGER, "businessDate": "2026-02-30"},
    "unknown field": {**TRIGGER, "priority": "high"},
    "bad file location": {**TRIGGER, "files": ["ftp://host/a.csv"]},
    "empty object": {},
}
BAD_EVENTS: dict[str, Any] = {
    **{f"{shape} {case}": SHAPES[shape](payload) for shape in SHAPES for case, payload in BAD_PAYLOADS.items()},
    "direct list": ["datasetName"],
    "direct string": json.dumps(TRIGGER),
    "direct null": None,
    "api-v1 no body": api_v1(None),
    "api-v1 not JSON": api_v1(None, raw="{datasetName: fx"),
    "api-v1 array": api_v1([TRIGGER]),
    "api-v2 no body": api_v2(None),
    "api-v2 not JSON": api_v2(None, raw="not json"),
    "eventbridge detail string": eventbridge(json.dumps(TRIGGER)),
    "eventbridge detail list": eventbridge([TRIGGER]),
    "eventbridge detail null": eventbridge(None),
}


@pytest.mark.parametrize("case", list(BAD_EVENTS))
def test_bad_events_of_each_shape_answer_400_and_write_nothing(p: Pipeline, case: str) -> None:
    before = snapshot(p)
    shape = "api-v1" if case.startswith("api-v1") else "api-v2" if case.startswith("api-v2") else case.split()[0]
    status, body = body_of(shape, lambda_handler.api_lambda_handler(BAD_EVENTS[case], Context()))
    assert status == 400
    assert body["code"] == "invalid"
    assert body["detail"]
    assert_refused_and_audited(p, before, "trigger")
    assert isinstance(p.dispatcher, RecordingDispatcher)
    assert p.dispatcher.messages == []


@pytest.mark.parametrize("name", list(SHAPES))
def test_field_errors_name_the_field_in_every_shape(p: Pipeline, name: str) -> None:
    _, body = body_of(name, lambda_handler.api_lambda_handler(SHAPES[name](BAD_PAYLOADS["impossible date"]), Context()))
    assert any("not a real calendar date" in message for message in body["fields"]["businessDate"])


class FailingDispatcher:
    """SQS refusing every message (what leaves the system)."""

    def dispatch(self, messages: Sequence[FileMessage]) -> None:
        raise DispatchFailed("the queue refused the messages", [m.file_id for m in messages])


@pytest.mark.parametrize("name", ["direct", "eventbridge"])
def test_a_5xx_fails_a_direct_or_eventbridge_invocation_so_lambda_retries_it(p: Pipeline, name: str) -> None:
    p.dispatcher = FailingDispatcher()
    with pytest.raises(TriggerUnavailable) as raised:
        lambda_handler.api_lambda_handler(SHAPES[name](TRIGGER), Context())
    assert raised.value.status == 503
    assert raised.value.body["code"] == "dispatch_failed"
    assert json.loads(str(raised.value))["statusCode"] == 503


@pytest.mark.parametrize("name", ["api-v1", "api-v2"])
def test_a_5xx_is_an_api_gateway_answer_for_proxy_events(p: Pipeline, name: str) -> None:
    p.dispatcher = FailingDispatcher()
    response = lambda_handler.api_lambda_handler(SHAPES[name](TRIGGER), Context())
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "5"
    assert json.loads(response["body"])["code"] == "dispatch_failed"
