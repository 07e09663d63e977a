"""Issue 12 ("Trust") on the served app: stored oddities stay readable (item 2), bad ids and
form charsets are clean refusals (item 3), accounts without a role see only a page saying so
(item 5), every refused admin action leaves one audit record (item 6), and answers are
private/no-store with a JSON `/api` and no browsable API outside DEBUG (item 9)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.test import APIClient

from dataplatform.pipeline.app import Pipeline
from tests.api.conftest import assert_json_error, scan_all, seed_dataset, seed_run
from tests.web.page_fixtures import htmx

pytestmark = pytest.mark.django_db

LONG_ID = "a" * 3000  # longer than any DynamoDB key (2048 bytes)


def _client(username: str, *groups: str, superuser: bool = False, csrf: bool = False) -> Client:
    user = User.objects.create_user(username=username, password="pw-for-tests-only-123", is_superuser=superuser)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def _audit(pipeline: Pipeline) -> list[dict[str, Any]]:
    return scan_all(pipeline)[pipeline.config.audit_table]


def _added(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in after if item not in before]


# --- item 2: what other tools stored is shown, never a 500 --------------------------------------


def _store_odd_content(pipeline: Pipeline) -> tuple[str, str]:
    """A run and a file carrying what other tools may write: lone surrogates (values and keys),
    binary values, a metadata that is not an object, an error that is a bare string."""
    seed_dataset(pipeline)
    run = seed_run(pipeline, files=2)
    file_id = next(pipeline.files.iter_run(run.run_id)).file_id
    client = pipeline.client
    client.update_item(
        TableName=pipeline.config.run_table, Key={"runId": {"S": run.run_id}},
        UpdateExpression="SET metadata = :m, sourceTrigger = :t",
        ExpressionAttributeValues={":m": {"M": {"note": {"S": "bad \ud800 text"}, "k\udfff": {"N": "1"},
                                                "blob": {"B": b"\x00\xffraw"}, "blobs": {"BS": [b"\x01"]}}},
                                   ":t": {"S": "not a map \udc00"}},
    )
    client.update_item(
        TableName=pipeline.config.file_table, Key={"fileId": {"S": file_id}},
        UpdateExpression="SET #e = :e, metadata = :m, checksum = :c",
        ExpressionAttributeNames={"#e": "error"},
        ExpressionAttributeValues={":e": {"S": "boom \ud800"}, ":m": {"L": [{"S": "x\udbff"}]},
                                   ":c": {"S": "sum\ud800"}},
    )
    return run.run_id, file_id


def test_items_other_tools_wrote_with_broken_text_render_everywhere(
    pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    run_id, file_id = _store_odd_content(pipeline)
    api = client_for("viewer")
    for url in [
        f"/api/v1/runs/?status={pipeline.runs.get(run_id).status.value}",
        "/api/v1/runs/?datasetName=sales",
        f"/api/v1/runs/{run_id}/",
        f"/api/v1/runs/{run_id}/files/",
        f"/api/v1/files/{file_id}/",
    ]:
        response = api.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        assert "\ufffd" in response.content.decode("utf-8"), url
    page = _client("reader", "viewer")
    status = pipeline.runs.get(run_id).status.value
    for url, headers in [
        (f"/runs/?status={status}", {}),
        ("/runs/?datasetName=sales", {}),
        (f"/runs/{run_id}/", {}),
        ("/runs/poll/", htmx("runs-poll")),
        (f"/runs/{run_id}/live/", htmx("run-live")),
        (f"/runs/{run_id}/", htmx("run-status")),
        (f"/files/{file_id}/", {}),
        ("/", {}),
    ]:
        response = page.get(url, **headers)
        assert response.status_code == 200, (url, response.content[:300])
        response.content.decode("utf-8")  # valid UTF-8 all through


def test_items_no_run_or_file_can_be_are_left_out_of_lists_with_a_notice_and_named_alone(
    pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    """A run and a file another tool wrote with values none can have (a status of their own): the
    lists around them still answer, leave them out and say which; asked for alone, each is a
    500 that names the item and the value, not a bare server error."""
    run = seed_run(pipeline, files=2)
    file_id = next(pipeline.files.iter_run(run.run_id)).file_id
    client = pipeline.client
    client.put_item(TableName=pipeline.config.run_table, Item={
        "runId": {"S": "foreign-run"}, "datasetName": {"S": run.dataset_name},
        "businessDate": {"S": run.business_date.isoformat()}, "createdAt": {"S": "2024-03-04T10:00:00Z"},
        "status": {"S": "running"}, "environment": {"S": run.environment.value},
    })
    client.update_item(TableName=pipeline.config.file_table, Key={"fileId": {"S": file_id}},
                       UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":s": {"S": "downloading"}})
    api = client_for("viewer")
    listed = api.get(f"/api/v1/runs/?datasetName={run.dataset_name}")
    assert listed.status_code == 200, listed.content[:300]
    assert [r["runId"] for r in listed.json()["results"]] == [run.run_id]
    assert listed.json()["unreadable"] == ["foreign-run"]
    files = api.get(f"/api/v1/runs/{run.run_id}/files/")
    assert files.status_code == 200, files.content[:300]
    assert files.json()["unreadable"] == [file_id]
    assert len(files.json()["results"]) == 1
    alone = assert_json_error(api.get("/api/v1/runs/foreign-run/"), 500)
    assert alone["code"] == "unreadable_item"
    assert "Run 'foreign-run' is stored with values this monitor cannot read" in alone["detail"]
    assert "'running'" in alone["detail"]
    page = _client("reader2", "viewer")
    runs = page.get(f"/runs/?datasetName={run.dataset_name}")
    assert runs.status_code == 200
    assert "1 run on this page could not be read and is not shown" in runs.content.decode()
    assert "foreign-run" in runs.content.decode()
    detail = page.get(f"/runs/{run.run_id}/")
    assert detail.status_code == 200
    assert "1 file on this page could not be read and is not shown" in detail.content.decode()
    broken = page.get("/runs/foreign-run/")
    assert broken.status_code == 500
    assert "is stored with values this monitor cannot read" in broken.content.decode()


# --- item 3: ids longer than a key, form bodies in another charset --------------------------------


def test_ids_longer_than_a_dynamodb_key_are_404_on_pages_and_api(
    pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    page = _client("reader", "viewer")
    for url in [f"/runs/{LONG_ID}/", f"/runs/{LONG_ID}/live/", f"/files/{LONG_ID}/", f"/datasets/{LONG_ID}/",
                f"/datasets/{'d' * 1100}/"]:
        assert page.get(url).status_code == 404, url
    api = client_for("viewer")
    for url in [f"/api/v1/runs/{LONG_ID}/", f"/api/v1/files/{LONG_ID}/", f"/api/v1/datasets/{LONG_ID}/",
                f"/api/v1/runs/{LONG_ID}/files/"]:
        assert_json_error(api.get(url), 404)


def test_a_form_in_another_charset_is_a_clean_refusal_that_changes_nothing(pipeline: Pipeline) -> None:
    seed_dataset(pipeline)
    run = seed_run(pipeline, files=1)
    before = scan_all(pipeline)
    anonymous = Client(enforce_csrf_checks=True)
    anonymous.cookies["csrftoken"] = "a" * 32
    latin = "application/x-www-form-urlencoded; charset=latin-1"
    for url in ["/accounts/login/", f"/runs/{run.run_id}/cancel/"]:
        response = anonymous.post(url, data="reason=caf%E9&csrfmiddlewaretoken=" + "a" * 32, content_type=latin)
        assert response.status_code == 400, (url, response.status_code)
        assert response["Content-Type"].startswith("text/html")
        assert b"UTF-8" in response.content
    operator = _client("op", "operator")
    response = operator.post(f"/runs/{run.run_id}/cancel/", data="reason=caf%E9", content_type=latin)
    assert response.status_code == 400
    api = APIClient()
    assert_json_error(api.post("/api/v1/runs/", data="a=1", content_type=latin), 415)
    assert scan_all(pipeline) == before


# --- item 5: no role, no dashboard ----------------------------------------------------------------


@pytest.mark.parametrize("groups", [(), ("pipeline",), ("unrelated",)])
def test_accounts_without_a_dashboard_role_see_only_the_no_role_page(
    pipeline: Pipeline, groups: tuple[str, ...]
) -> None:
    seed_dataset(pipeline)
    run = seed_run(pipeline, files=1)
    file_id = next(pipeline.files.iter_run(run.run_id)).file_id
    client = _client("nobody", *groups)
    for url, headers in [
        ("/", {}), ("/runs/", {}), (f"/runs/{run.run_id}/", {}), (f"/runs/{run.run_id}/live/", htmx("run-live")),
        ("/runs/poll/", htmx("runs-poll")),
        (f"/runs/{run.run_id}/", htmx("run-status")), (f"/files/{file_id}/", {}), ("/datasets/", {}),
        ("/datasets/sales/", {}),
    ]:
        response = client.get(url, **headers)
        assert response.status_code == 403, (url, response.status_code)
        text = response.content.decode()
        assert "no role" in text, url
        assert "data-no-role" in text or "banner" in text, url


@pytest.mark.parametrize(("groups", "superuser"), [(("viewer",), False), (("operator",), False), ((), True)])
def test_viewers_operators_and_superusers_see_the_dashboard(
    pipeline: Pipeline, groups: tuple[str, ...], superuser: bool
) -> None:
    client = _client("someone", *groups, superuser=superuser)
    for url in ["/", "/runs/", "/datasets/"]:
        assert client.get(url).status_code == 200, url


# --- item 6: every admin action, allowed or refused, one audit record ------------------------------


def _one_refusal(pipeline: Pipeline, before: list[dict[str, Any]], action: str, target_id: str) -> dict[str, Any]:
    added = _added(before, _audit(pipeline))
    assert len(added) == 1, added
    record = added[0]
    assert record["action"]["S"] == action
    assert record["targetId"]["S"] == target_id
    assert record["outcome"]["S"] == "refused"
    assert record["requestId"]["S"]
    assert record["actor"]["S"]
    assert record["at"]["S"].endswith("Z")
    assert record["reason"]["S"]
    return record


def test_page_refusals_each_leave_one_audit_record(pipeline: Pipeline) -> None:
    seed_dataset(pipeline)
    run = seed_run(pipeline, files=2, fail=1)
    failed = next(f for f in pipeline.files.iter_run(run.run_id) if f.status == "failed")
    viewer = _client("viewer1", "viewer")
    nobody = _client("nobody1")
    operator = _client("operator1", "operator")
    stale = _client("operator2", "operator", csrf=True)
    cases: list[tuple[Client, str, dict[str, str], str, str, int]] = [
        (viewer, f"/runs/{run.run_id}/cancel/", {"reason": "forged"}, "cancel", run.run_id, 403),
        (viewer, f"/runs/{run.run_id}/retry/", {"confirm": "yes"}, "retry", run.run_id, 403),
        (viewer, f"/runs/{run.run_id}/redispatch/", {"confirm": "yes"}, "redispatch", run.run_id, 403),
        (viewer, f"/files/{failed.file_id}/retry/", {}, "file_retry", failed.file_id, 403),
        (nobody, f"/runs/{run.run_id}/cancel/", {"reason": "no role"}, "cancel", run.run_id, 403),
        (stale, f"/runs/{run.run_id}/cancel/", {"reason": "no token"}, "cancel", run.run_id, 403),
        (operator, f"/runs/{run.run_id}/cancel/", {"reason": ""}, "cancel", run.run_id, 302),
        (operator, "/runs/sales-20240101-unknown/cancel/", {"reason": "gone"}, "cancel", "sales-20240101-unknown", 404),
    ]
    for client, url, data, action, target_id, status in cases:
        before = _audit(pipeline)
        response = client.post(url, data)
        assert response.status_code == status, (url, response.status_code)
        _one_refusal(pipeline, before, action, target_id)
    assert pipeline.runs.get(run.run_id).status.value != "cancelled"


def test_api_refusals_each_leave_one_audit_record(pipeline: Pipeline, client_for: Callable[[str], APIClient]) -> None:
    seed_dataset(pipeline)
    run = seed_run(pipeline, files=2, fail=1)
    failed = next(f for f in pipeline.files.iter_run(run.run_id) if f.status == "failed")
    viewer, operator, worker = client_for("viewer"), client_for("operator"), client_for("pipeline")
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(User.objects.get(username="operator-user"))
    cases: list[tuple[APIClient, str, Any, str, str, int]] = [
        (viewer, f"/api/v1/runs/{run.run_id}/cancel/", {"reason": "x"}, "cancel", run.run_id, 403),
        (viewer, f"/api/v1/runs/{run.run_id}/retry/", {}, "retry", run.run_id, 403),
        (viewer, f"/api/v1/files/{failed.file_id}/retry/", {}, "file_retry", failed.file_id, 403),
        (viewer, "/api/v1/runs/", {"datasetName": "sales", "businessDate": "2024-03-05"}, "trigger", "-", 403),
        (worker, f"/api/v1/runs/{run.run_id}/cancel/", {}, "cancel", run.run_id, 403),
        (operator, f"/api/v1/runs/{run.run_id}/cancel/", {"reason": ""}, "cancel", run.run_id, 400),
        (operator, f"/api/v1/runs/{run.run_id}/retry/", {"dryRun": "yes"}, "retry", run.run_id, 400),
        (operator, "/api/v1/runs/", {"datasetName": "sales"}, "trigger", "-", 400),
        (operator, "/api/v1/runs/", {"datasetName": "sales", "businessDate": "2024-03-05", "metadata": {"a": [[[]]]},
                                     "files": ["ftp://x"]}, "trigger", "-", 400),
        (operator, f"/api/v1/files/{run.run_id}-nope/retry/", {}, "file_retry", f"{run.run_id}-nope", 404),
        (session, f"/api/v1/runs/{run.run_id}/cancel/", {"reason": "no csrf"}, "cancel", run.run_id, 403),
    ]
    for client, url, body, action, target_id, status in cases:
        before = _audit(pipeline)
        response = client.post(url, body, format="json")
        assert_json_error(response, status)
        _one_refusal(pipeline, before, action, target_id)
    # A state-machine refusal too (a pending file cannot be retried): one record, in its run's trail.
    pending = next(f for f in pipeline.files.iter_run(run.run_id) if f.status == "pending")
    before = _audit(pipeline)
    assert_json_error(operator.post(f"/api/v1/files/{pending.file_id}/retry/", {}, format="json"), 409)
    _one_refusal(pipeline, before, "file_retry", run.run_id)
    # Anonymous callers are logged, not stored (nobody may write to the audit table unsigned).
    before = _audit(pipeline)
    assert_json_error(APIClient().post(f"/api/v1/runs/{run.run_id}/cancel/", {}, format="json"), 401)
    assert _added(before, _audit(pipeline)) == []


# --- item 9: private answers, a JSON /api, no browsable API outside DEBUG --------------------------


def test_signed_in_pages_and_api_answers_are_private_and_not_stored(
    pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    page = _client("reader", "viewer")
    api = client_for("viewer")
    answers = [page.get("/runs/"), page.get("/datasets/"), page.get("/runs/nope/"), api.get("/api/v1/datasets/"),
               api.get("/api/v1/runs/nope/"), Client().get("/accounts/login/")]
    for response in answers:
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= cache_control, response.request["PATH_INFO"]


@pytest.mark.parametrize("path", ["/api", "/api/", "/api/v2/runs/", "/api/v1"])
def test_api_paths_outside_v1_answer_json(pipeline: Pipeline, path: str) -> None:
    body = assert_json_error(Client().get(path), 404)
    assert "/api/v1/" in body["detail"] or path == "/api/v1"


def test_the_browsable_api_is_served_only_where_debug_is_on(pipeline: Pipeline, settings: Any) -> None:
    client = APIClient()
    client.force_login(User.objects.create_user("viewer-x", password="pw-for-tests-only-123"))
    User.objects.get(username="viewer-x").groups.add(Group.objects.get_or_create(name="viewer")[0])
    settings.DEBUG = False
    response = client.get("/api/v1/datasets/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    settings.DEBUG = True
    assert client.get("/api/v1/datasets/", HTTP_ACCEPT="text/html")["Content-Type"].startswith("text/html")
