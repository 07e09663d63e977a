"""The trigger Lambda: API-Gateway-shaped answers, nothing written for bad input, no Django."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataplatform.pipeline import lambda_handler
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.states import RunStatus

from .recording import RecordingDispatcher, assert_refused_and_audited, snapshot

GOOD = {
    "datasetName": "fx-rates",
    "businessDate": "2026-01-05",
    "sourceType": "control-m",
    "files": ["s3://bucket-a/fx/2026-01-05/a.csv", "s3://bucket-a/fx/2026-01-05/b.csv"],
}


class Context:
    aws_request_id = "lambda-req-1"


@pytest.fixture
def p(moto_pipeline: Pipeline) -> Iterator[Pipeline]:
    moto_pipeline.dispatcher = RecordingDispatcher()
    lambda_handler.set_pipeline(moto_pipeline)
    yield moto_pipeline
    lambda_handler.set_pipeline(None)


def event(body: Any, **extra: Any) -> dict[str, Any]:
    return {"httpMethod": "POST", "path": "/trigger", "body": body, **extra}


def test_good_event_creates_a_dispatched_run_with_its_files(p: Pipeline) -> None:
    response = lambda_handler.api_lambda_handler(event(json.dumps(GOOD)), Context())
    assert response["statusCode"] == 201
    assert response["headers"]["Content-Type"] == "application/json"
    body = json.loads(response["body"])
    run_id = body["run"]["runId"]
    assert body["created"] is True
    assert body["run"]["status"] == "dispatched"
    assert body["run"]["resolvedFiles"] == 2
    assert p.runs.get(run_id).status is RunStatus.DISPATCHED
    assert len(list(p.files.iter_run(run_id))) == 2
    assert isinstance(p.dispatcher, RecordingDispatcher)
    assert len(p.dispatcher.messages) == 2
    audit = p.audit.for_target(run_id).items
    assert [(a.action, a.request_id) for a in audit] == [("trigger", "lambda-req-1")]


def test_body_as_dict_and_base64_are_accepted_and_a_repeat_answers_200(p: Pipeline) -> None:
    keyed = {**GOOD, "idempotencyKey": "job-1"}
    first = lambda_handler.api_lambda_handler(event(keyed), Context())
    encoded = base64.b64encode(json.dumps(keyed).encode()).decode()
    second = lambda_handler.api_lambda_handler(event(encoded, isBase64Encoded=True), Context())
    assert (first["statusCode"], second["statusCode"]) == (201, 200)
    assert json.loads(first["body"])["run"]["runId"] == json.loads(second["body"])["run"]["runId"]


BAD_EVENTS: dict[str, Any] = {
    "no body": event(None),
    "empty body": event(""),
    "not JSON": event("{datasetName: fx"),
    "JSON array": event(json.dumps([GOOD])),
    "JSON string": event(json.dumps("fx-rates")),
    "bad base64": event("%%%not-base64", isBase64Encoded=True),
    "missing datasetName": event(json.dumps({k: v for k, v in GOOD.items() if k != "datasetName"})),
    "empty datasetName": event(json.dumps({**GOOD, "datasetName": "   "})),
    "null datasetName": event(json.dumps({**GOOD, "datasetName": None})),
    "bad datasetName": event(json.dumps({**GOOD, "datasetName": "fx rates/../x"})),
    "missing businessDate": event(json.dumps({k: v for k, v in GOOD.items() if k != "businessDate"})),
    "bad businessDate": event(json.dumps({**GOOD, "businessDate": "05/01/2026"})),
    "impossible date": event(json.dumps({**GOOD, "businessDate": "2026-02-30"})),
    "number as date": event(json.dumps({**GOOD, "businessDate": 20260105})),
    "unknown sourceType": event(json.dumps({**GOOD, "sourceType": "cron"})),
    "bad file location": event(json.dumps({**GOOD, "files": ["ftp://host/file.csv"]})),
    "empty file list": event(json.dumps({**GOOD, "files": []})),
    "file not a string": event(json.dumps({**GOOD, "files": [42]})),
    "unknown field": event(json.dumps({**GOOD, "priority": "high"})),
    "control character": event(json.dumps({**GOOD, "idempotencyKey": "a\u0000b"})),
    "sourceTrigger not an object": event(json.dumps({**GOOD, "sourceTrigger": "job"})),
    "unknown dataset and no files": event(json.dumps({"datasetName": "nope", "businessDate": "2026-01-05"})),
}


@pytest.mark.parametrize("name", list(BAD_EVENTS))
def test_bad_events_answer_400_with_a_json_error_and_write_nothing(p: Pipeline, name: str) -> None:
    before = snapshot(p)
    response = lambda_handler.api_lambda_handler(BAD_EVENTS[name], Context())
    assert response["statusCode"] == 400, response
    error = json.loads(response["body"])
    assert error["code"] == "invalid"
    assert error["detail"]
    assert_refused_and_audited(p, before, "trigger")
    assert isinstance(p.dispatcher, RecordingDispatcher)
    assert p.dispatcher.messages == []


def test_field_errors_name_the_field(p: Pipeline) -> None:
    response = lambda_handler.api_lambda_handler(BAD_EVENTS["unknown sourceType"], Context())
    assert "sourceType" in json.loads(response["body"])["fields"]
    response = lambda_handler.api_lambda_handler(BAD_EVENTS["impossible date"], Context())
    assert "not a real calendar date" in json.loads(response["body"])["fields"]["businessDate"][0]


def test_pipeline_is_created_once_per_container(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []

    class FakePipeline:
        def __init__(self, config: object) -> None:
            built.append(config)

    lambda_handler.set_pipeline(None)
    monkeypatch.setattr(lambda_handler, "Pipeline", FakePipeline)
    try:
        first = lambda_handler.get_pipeline()
        assert lambda_handler.get_pipeline() is first
        assert len(built) == 1
    finally:
        lambda_handler.set_pipeline(None)


def test_module_imports_without_django() -> None:
    code = (
        "import sys; import dataplatform.pipeline.lambda_handler as h; "
        "assert callable(h.api_lambda_handler); "
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')]; "
        "assert not bad, bad; print('ok')"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
