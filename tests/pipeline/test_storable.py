"""What DynamoDB can store and a later read can show (issue 12, items 2 and 3), in the core: every
entry point (API, pages, Lambda) shares these checks through the request models."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from dataplatform.pipeline import lambda_handler
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.errors import NotFound, ValidationFailed
from dataplatform.pipeline.models import FileRecord, Run
from dataplatform.pipeline.services import Actor, file_report, run_trigger
from dataplatform.pipeline.storable import key_fits, readable_text, storable_problem

ACTOR = Actor("tester")
TRIGGER = {"datasetName": "sales", "businessDate": "2024-03-04", "files": ["s3://bucket/sales/a.csv"]}


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "value",
    [
        {"a": "x\ud800"},
        {"a": [{"b": ["\udfff"]}]},
        {"k\ud800": 1},
        {"n": 1e200},
        {"n": 1e-200},
        {"n": 10**40},
        {"n": 10**400},
        {"n": Decimal("1.234567890123456789012345678901234567891")},
        {"n": float("nan")},
        _nested(33),
        _nested(10_000),
    ],
)
def test_unstorable_values_are_named(value: Any) -> None:
    assert storable_problem(value) is not None


@pytest.mark.parametrize(
    "value",
    [
        {"a": "caf\u00e9 \U0001f600"},
        {"n": 0, "m": -1.5, "big": 10**37, "small": 1e-130, "large": 9.99e125, "b": True, "z": None},
        _nested(32),
    ],
)
def test_storable_values_pass(value: Any) -> None:
    assert storable_problem(value) is None


def test_broken_text_reads_as_replacement_characters() -> None:
    assert readable_text("a\ud800b") == "a\ufffdb"
    assert readable_text("\ud83d\ude00") == "\U0001f600"  # a real pair is kept
    item = {"runId": "r\ud800", "datasetName": "sales", "businessDate": "2024-03-04",
            "createdAt": "2024-03-04T00:00:00Z", "metadata": {"k\udc00": ["v\ud800"]}, "sourceTrigger": "text"}
    run = Run.from_item(item)
    assert run.metadata == {"k\ufffd": ["v\ufffd"]}
    assert run.source_trigger == {"value": "text"}
    json.dumps(run.model_dump(mode="json")).encode("utf-8")


def test_a_worker_report_with_a_lone_surrogate_is_refused_before_any_write(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    run = run_trigger(p, request=TRIGGER, actor=ACTOR).run
    file_id = next(p.files.iter_run(run.run_id)).file_id
    for error in ({"message": "boom \ud800"}, {"trace": [{"frame": "\udc00"}]}, {"k\ud800": "v"},
                  {"n": 1e200}, _nested(40)):
        with pytest.raises(ValidationFailed):
            file_report(p, file_id=file_id, status="failed", error=error, actor=ACTOR)
    assert p.files.get(file_id).status == "pending"
    assert p.runs.get(run.run_id).failed_files == 0


def test_a_trigger_with_unstorable_metadata_creates_nothing(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    for extra in ({"metadata": {"a": "\ud800"}}, {"sourceTrigger": {"\udc00": 1}}, {"metadata": _nested(900)},
                  {"metadata": {"n": 10**40}}, {"idempotencyKey": "k\ud800"}):
        with pytest.raises(ValidationFailed):
            run_trigger(p, request={**TRIGGER, **extra}, actor=ACTOR)
    assert p.client.scan(TableName=p.config.run_table)["Count"] == 0


def test_the_lambda_refuses_unstorable_bodies_with_400(moto_pipeline: Pipeline) -> None:
    lambda_handler.set_pipeline(moto_pipeline)
    try:
        bodies = [
            r'{"datasetName": "sales", "businessDate": "2024-03-04", "metadata": {"a": "\ud800"}}',
            "[" * 10_000 + "]" * 10_000,
            '{"datasetName": "sales", "businessDate": "2024-03-04", "metadata": ' + json.dumps(_nested(900)) + "}",
        ]
        for body in bodies:
            answer = lambda_handler.api_lambda_handler({"httpMethod": "POST", "body": body}, None)
            assert answer["statusCode"] == 400, answer
        direct = lambda_handler.api_lambda_handler({**TRIGGER, "metadata": {"x": [1e-200]}}, None)
        assert direct["statusCode"] == 400
    finally:
        lambda_handler.set_pipeline(None)
    assert moto_pipeline.client.scan(TableName=moto_pipeline.config.run_table)["Count"] == 0


def test_ids_that_cannot_be_keys_are_not_found_without_a_call(moto_pipeline: Pipeline) -> None:
    assert not key_fits("a" * 2049)
    assert key_fits("a" * 2048)
    assert not key_fits("")
    assert not key_fits("x\ud800")
    with pytest.raises(NotFound):
        moto_pipeline.runs.get("r" * 3000)
    with pytest.raises(NotFound):
        moto_pipeline.files.get("f" * 3000)
    with pytest.raises(NotFound):
        moto_pipeline.datasets.get("d" * 1100)


def test_file_records_from_other_tools_with_odd_shapes_load() -> None:
    record = FileRecord.from_item({
        "fileId": "f", "runId": "r", "datasetName": "sales", "businessDate": "2024-03-04",
        "location": "s3://bucket/k", "lastUpdated": "2024-03-04T00:00:00", "error": "bare string \ud800",
        "metadata": [1, 2],
    })
    assert record.error == {"value": "bare string \ufffd"}
    assert record.metadata == {"value": [1, 2]}
