"""Bad input for every write endpoint: always a 4xx JSON error, and nothing changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from dataplatform.pipeline import metrics
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.services import Actor, file_report
from tests.api.conftest import assert_json_error, scan_all, seed_dataset, seed_run

pytestmark = pytest.mark.django_db

LONG = "x" * 1001
# (label, raw body or JSON-able value, content type, expected status)
COMMON_BODY_CASES: list[tuple[str, Any, str, int]] = [
    ("missing body", None, "application/json", 400),
    ("wrong content type", '{"reason": "x"}', "text/plain", 415),
    ("form content type", "reason=x", "application/x-www-form-urlencoded", 415),
    ("malformed JSON", '{"reason": ', "application/json", 400),
    ("NaN literal", '{"reason": NaN}', "application/json", 400),
    ("not an object", [1, 2], "application/json", 400),
    ("a bare string", "hello", "application/json", 400),
    ("unknown field", {"bogus": 1}, "application/json", 400),
]

# What a later read could not show or DynamoDB could not store (issue 12, items 2 and 3): refused
# before any write on every endpoint, whatever the field.
DEEP = 10_000
UNSTORABLE_BODY_CASES: list[tuple[str, Any, str, int]] = [
    ("array nested 10,000 levels", "[" * DEEP + "]" * DEEP, "application/json", 400),
    ("object nested 10,000 levels", '{"a":' * DEEP + "1" + "}" * DEEP, "application/json", 400),
    ("metadata nested 900 levels", '{"metadata": ' + '{"a":' * 900 + "1" + "}" * 900 + "}", "application/json", 400),
    ("nested 33 levels", '{"metadata": ' + "[" * 32 + "]" * 32 + "}", "application/json", 400),
    ("charset rot13", "{}", "application/json; charset=rot13", 415),
    ("charset latin-1", "{}", "application/json; charset=latin-1", 415),
    ("unknown charset", "{}", "application/json; charset=no-such-charset", 415),
    ("lone surrogate value", r'{"reason": "a\ud800b"}', "application/json", 400),
    ("lone surrogate nested", r'{"metadata": {"a": [{"b": "\udc00"}]}}', "application/json", 400),
    ("lone surrogate key", r'{"error": {"\ud800": 1}}', "application/json", 400),
    ("number 1e200", '{"metadata": {"n": 1e200}}', "application/json", 400),
    ("number 1e-200", '{"error": {"n": 1e-200}}', "application/json", 400),
    ("number 10**40", '{"metadata": {"n": ' + str(10**40) + "}}", "application/json", 400),
    ("number 10**400", '{"metadata": {"n": ' + str(10**400) + "}}", "application/json", 400),
]

# Per endpoint: the field-level cases (body, expected status).
TRIGGER_CASES: list[tuple[str, Any]] = [
    ("empty object", {}),
    ("wrong type datasetName", {"datasetName": 5, "businessDate": "2024-03-05"}),
    ("wrong type files", {"datasetName": "sales", "businessDate": "2024-03-05", "files": "s3://b/k"}),
    ("wrong type metadata", {"datasetName": "sales", "businessDate": "2024-03-05", "metadata": [1]}),
    ("bool as date", {"datasetName": "sales", "businessDate": True}),
    ("empty string", {"datasetName": "", "businessDate": "2024-03-05"}),
    ("whitespace only", {"datasetName": "   ", "businessDate": "2024-03-05"}),
    ("over-long name", {"datasetName": "s" * 129, "businessDate": "2024-03-05"}),
    ("over-long key", {"datasetName": "sales", "businessDate": "2024-03-05", "idempotencyKey": "k" * 257}),
    ("NUL", {"datasetName": "sa\x00les", "businessDate": "2024-03-05"}),
    ("control char", {"datasetName": "sales", "businessDate": "2024-03-05", "idempotencyKey": "a\x07b"}),
    ("bad date", {"datasetName": "sales", "businessDate": "2024-02-30"}),
    ("compact date", {"datasetName": "sales", "businessDate": "20240305"}),
    ("bad location", {"datasetName": "sales", "businessDate": "2024-03-05", "files": ["ftp://x/y"]}),
    ("empty files", {"datasetName": "sales", "businessDate": "2024-03-05", "files": []}),
    ("unknown dataset", {"datasetName": "nosuch", "businessDate": "2024-03-05"}),
    ("bad source type", {"datasetName": "sales", "businessDate": "2024-03-05", "sourceType": "fax"}),
    ("bad environment", {"datasetName": "sales", "businessDate": "2024-03-05", "environment": "dev"}),
    ("unknown field", {"datasetName": "sales", "businessDate": "2024-03-05", "colour": "red"}),
]
CANCEL_CASES: list[tuple[str, Any]] = [
    ("wrong type", {"reason": 7}),
    ("null", {"reason": None}),
    ("empty string", {"reason": ""}),
    ("whitespace only", {"reason": " \t "}),
    ("over-long", {"reason": LONG}),
    ("NUL", {"reason": "a\x00b"}),
    ("control char", {"reason": "a\x1bb"}),
]
RETRY_CASES: list[tuple[str, Any]] = [
    ("wrong type", {"dryRun": "yes"}),
    ("number as bool", {"dryRun": 1}),
    ("wrong type ids", {"fileIds": "abc"}),
    ("empty ids", {"fileIds": []}),
    ("empty id", {"fileIds": [""]}),
    ("whitespace id", {"fileIds": ["  "]}),
    ("over-long id", {"fileIds": ["f" * 513]}),
    ("NUL id", {"fileIds": ["a\x00"]}),
    ("traversal id", {"fileIds": ["../etc"]}),
]
FILE_RETRY_CASES: list[tuple[str, Any]] = [("any field", {"force": True})]
REPORT_CASES: list[tuple[str, Any]] = [
    ("empty object", {}),
    ("wrong type status", {"status": 3}),
    ("unknown status", {"status": "done"}),
    ("retry status", {"status": "pending"}),
    ("string size", {"status": "fetched", "fileSize": "10"}),
    ("float size", {"status": "fetched", "fileSize": 1.5}),
    ("bool size", {"status": "fetched", "fileSize": True}),
    ("negative size", {"status": "fetched", "fileSize": -1}),
    ("empty checksum", {"status": "fetched", "checksum": ""}),
    ("whitespace checksum", {"status": "fetched", "checksum": "   "}),
    ("over-long checksum", {"status": "fetched", "checksum": "c" * 257}),
    ("NUL checksum", {"status": "fetched", "checksum": "a\x00"}),
    ("control checksum", {"status": "fetched", "checksum": "a\nb"}),
    ("wrong type error", {"status": "failed", "error": "boom"}),
]

BAD_IDS = ["..", "../etc", "..%2F..%2Fetc", "abc%00", "%00", "a" * 1000, "%20", "a b", "x%0Ay"]


@pytest.fixture
def world(pipeline: Pipeline) -> dict[str, str]:
    seed_dataset(pipeline)
    run = seed_run(pipeline, files=3, fail=1)
    files = list(pipeline.files.iter_run(run.run_id))
    failed = next(f for f in files if f.status == "failed")
    pending = next(f for f in files if f.status == "pending")
    done = seed_run(pipeline, files=1, business_date="2024-03-01")
    only = next(pipeline.files.iter_run(done.run_id))
    for status in ("fetched", "verified", "preprocessed"):
        file_report(pipeline, file_id=only.file_id, status=status, actor=Actor("seed"))
    return {"run": run.run_id, "failed": failed.file_id, "pending": pending.file_id, "done_run": done.run_id,
            "done_file": only.file_id}


ENDPOINTS: dict[str, tuple[str, Callable[[dict[str, str]], str], list[tuple[str, Any]]]] = {
    "trigger": ("operator", lambda ids: "/api/v1/runs/", TRIGGER_CASES),
    "cancel": ("operator", lambda ids: f"/api/v1/runs/{ids['run']}/cancel/", CANCEL_CASES),
    "retry": ("operator", lambda ids: f"/api/v1/runs/{ids['run']}/retry/", RETRY_CASES),
    "file-retry": ("operator", lambda ids: f"/api/v1/files/{ids['failed']}/retry/", FILE_RETRY_CASES),
    "file-status": ("pipeline", lambda ids: f"/api/v1/files/{ids['pending']}/status/", REPORT_CASES),
}


def post_raw(client: APIClient, url: str, body: Any, content_type: str) -> Any:
    if body is None:
        return client.post(url)
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data=data, content_type=content_type)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_bad_bodies_are_refused_and_change_nothing(
    endpoint: str, world: dict[str, str], pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    role, url, cases = ENDPOINTS[endpoint]
    client = client_for(role)
    before = scan_all(pipeline)
    requests = 0
    for label, body, content_type, status in COMMON_BODY_CASES + UNSTORABLE_BODY_CASES:
        response = post_raw(client, url(world), body, content_type)
        assert response.status_code == status, (endpoint, label, response.content[:300])
        assert_json_error(response, status)
        requests += 1
    for label, body in cases:
        response = client.post(url(world), body, format="json")
        body_json = assert_json_error(response, 400)
        assert body_json["code"] == "invalid", (endpoint, label, body_json)
        assert body_json.get("fields"), (endpoint, label, body_json)
        requests += 1
    assert_only_audit_grew(pipeline, before, scan_all(pipeline), requests if endpoint in ADMIN_ENDPOINTS else 0)


# Admin actions leave one audit record per refusal; worker reports (file-status) are not admin actions.
ADMIN_ENDPOINTS = frozenset({"trigger", "cancel", "retry", "file-retry"})


def assert_only_audit_grew(
    pipeline: Pipeline, before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]], records: int
) -> None:
    """Runs, files and datasets unchanged; the audit table grew by exactly `records` refusals."""
    for table in (pipeline.config.run_table, pipeline.config.file_table, pipeline.config.dataset_table):
        assert after[table] == before[table], table
    audit = pipeline.config.audit_table
    added = [item for item in after[audit] if item not in before[audit]]
    assert len(added) == records, [item["action"]["S"] for item in added]
    assert all(item["outcome"]["S"] == "refused" for item in added)


@pytest.mark.parametrize("endpoint", ["cancel", "retry", "file-retry", "file-status"])
def test_junk_path_ids_never_reach_the_store(
    endpoint: str, world: dict[str, str], pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    role, url, _ = ENDPOINTS[endpoint]
    client = client_for(role)
    good = world["pending"] if endpoint == "file-status" else world["failed"] if endpoint == "file-retry" \
        else world["run"]
    before = scan_all(pipeline)
    stats = metrics.start()  # counts every DynamoDB call made in this context
    for bad in BAD_IDS:
        response = client.post(url(world).replace(good, bad), {}, format="json")
        assert_json_error(response, 404)
    assert stats.calls == 0, stats.operations
    assert scan_all(pipeline) == before
    # The counter does count: the same call with the real id reaches the store.
    client.post(url(world), {"status": "fetched"} if endpoint == "file-status" else {}, format="json")
    assert stats.calls > 0


def test_unknown_ids_are_404_and_only_the_audit_trail_grows(
    world: dict[str, str], pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    operator, worker = client_for("operator"), client_for("pipeline")
    before = scan_all(pipeline)
    assert_json_error(operator.post("/api/v1/runs/sales-20240101-nope/cancel/", {}, format="json"), 404)
    assert_json_error(operator.post("/api/v1/runs/sales-20240101-nope/retry/", {}, format="json"), 404)
    assert_json_error(operator.post("/api/v1/files/nope-file/retry/", {}, format="json"), 404)
    assert_json_error(worker.post("/api/v1/files/nope-file/status/", {"status": "fetched"}, format="json"), 404)
    after = scan_all(pipeline)
    for table in (pipeline.config.run_table, pipeline.config.file_table, pipeline.config.dataset_table):
        assert after[table] == before[table]
    # The refused admin actions (cancel, retry, file retry) each left one audit record.
    assert len(after[pipeline.config.audit_table]) == len(before[pipeline.config.audit_table]) + 3


def test_illegal_transitions_are_409_with_current_state(
    world: dict[str, str], pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    operator, worker = client_for("operator"), client_for("pipeline")
    before = scan_all(pipeline)
    run_table, file_table = pipeline.config.run_table, pipeline.config.file_table

    body = assert_json_error(
        worker.post(f"/api/v1/files/{world['pending']}/status/", {"status": "preprocessed"}, format="json"), 409
    )
    assert body["current"] == "pending"
    body = assert_json_error(operator.post(f"/api/v1/files/{world['pending']}/retry/", {}, format="json"), 409)
    assert body["current"] == "pending"
    body = assert_json_error(operator.post(f"/api/v1/runs/{world['done_run']}/cancel/", {}, format="json"), 409)
    assert body["current"] == "success"
    body = assert_json_error(operator.post(f"/api/v1/runs/{world['done_run']}/retry/", {}, format="json"), 409)
    assert body["current"] == "success"
    after = scan_all(pipeline)
    assert after[run_table] == before[run_table]
    assert after[file_table] == before[file_table]


def test_oversized_body_is_413(
    world: dict[str, str], pipeline: Pipeline, client_for: Callable[[str], APIClient], settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    before = scan_all(pipeline)
    big = {"datasetName": "sales", "businessDate": "2024-03-05", "metadata": {"blob": "x" * 5000}}
    for role, url, body in [
        ("operator", "/api/v1/runs/", big),
        ("operator", f"/api/v1/runs/{world['run']}/cancel/", {"reason": "x" * 5000}),
        ("operator", f"/api/v1/runs/{world['run']}/retry/", {"fileIds": ["f" * 500] * 10}),
        ("operator", f"/api/v1/files/{world['failed']}/retry/", {"x": "y" * 5000}),
        ("pipeline", f"/api/v1/files/{world['pending']}/status/", {"status": "failed", "error": {"m": "e" * 5000}}),
    ]:
        response = client_for(role).post(url, body, format="json")
        assert assert_json_error(response, 413)["code"] == "payload_too_large"
    # The four admin actions' refusals are audited; the worker report is not an admin action.
    assert_only_audit_grew(pipeline, before, scan_all(pipeline), 4)


def test_bad_filters_and_cursors_are_400(
    world: dict[str, str], pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    viewer = client_for("viewer")
    for url in [
        "/api/v1/runs/?status=done",
        "/api/v1/runs/?datasetName=sales&businessDate=2024-13-01",
        "/api/v1/runs/?datasetName=sales&environment=dev",
        "/api/v1/runs/?datasetName=../x",
        "/api/v1/runs/?datasetName=sales&limit=0",
        "/api/v1/runs/?datasetName=sales&limit=501",
        "/api/v1/runs/?datasetName=sales&limit=ten",
        "/api/v1/runs/?datasetName=sales&cursor=garbage",
        f"/api/v1/runs/{world['run']}/files/?status=nope",
        f"/api/v1/runs/{world['run']}/events/?limit=-1",
        "/api/v1/datasets/?limit=100000",
        "/api/v1/datasets/sales/calendar/?from=2024-03-10&to=2024-03-01",
        "/api/v1/datasets/sales/calendar/?from=yesterday",
        "/api/v1/datasets/sales/calendar/?from=2020-01-01&to=2024-01-01",
    ]:
        assert_json_error(viewer.get(url), 400)

    # A cursor from one query is refused by another, and a tampered one by all.
    seed_run(pipeline, files=1, business_date="2024-03-02")
    first = viewer.get("/api/v1/runs/?datasetName=sales&limit=1").json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    assert_json_error(viewer.get(f"/api/v1/runs/?status=processing&cursor={cursor}"), 400)
    assert_json_error(viewer.get(f"/api/v1/runs/?datasetName=sales&limit=1&cursor={cursor[:-2]}xx"), 400)
    assert viewer.get(first["next"]).status_code == 200
