"""A run's whole life through HTTP on DynamoDB Local: trigger, worker reports, failures, retry,
cancel — with exact fileCounts and the audit trail at each step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from dataplatform.pipeline.app import Pipeline
from tests.api.conftest import assert_json_error, seed_dataset

pytestmark = [pytest.mark.django_db, pytest.mark.ddb_local]


def counts(client: APIClient, run_id: str) -> dict[str, int]:
    response = client.get(f"/api/v1/runs/{run_id}/")
    assert response.status_code == 200
    return response.json()["fileCounts"]  # type: ignore[no-any-return]


def expect(
    pending: int = 0, fetched: int = 0, verified: int = 0, preprocessed: int = 0, failed: int = 0
) -> dict[str, int]:
    return {"pending": pending, "fetched": fetched, "verified": verified, "preprocessed": preprocessed,
            "failed": failed}


def report(worker: APIClient, file_id: str, status: str, **extra: Any) -> dict[str, Any]:
    response = worker.post(f"/api/v1/files/{file_id}/status/", {"status": status, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def test_full_lifecycle(pipeline: Pipeline, client_for: Callable[[str], APIClient]) -> None:
    seed_dataset(pipeline)
    operator, worker, viewer = client_for("operator"), client_for("pipeline"), client_for("viewer")

    # Trigger (the dataset's templates give three parts) -> 201, dispatched, all pending.
    trigger = {"datasetName": "sales", "businessDate": "2024-03-05", "idempotencyKey": "daily-2024-03-05"}
    response = operator.post("/api/v1/runs/", trigger, format="json", HTTP_X_REQUEST_ID="req-trigger-1")
    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "req-trigger-1"
    run = response.json()
    run_id = run["runId"]
    assert run["status"] == "dispatched"
    assert run["resolvedFiles"] == 3
    assert counts(viewer, run_id) == expect(pending=3)
    assert len(pipeline.dispatcher.drain()) == 3  # type: ignore[attr-defined]

    # The same idempotency key -> 200 with the same run, nothing new dispatched.
    again = operator.post("/api/v1/runs/", trigger, format="json")
    assert again.status_code == 200
    assert again.json()["runId"] == run_id
    assert pipeline.dispatcher.drain() == []  # type: ignore[attr-defined]

    files = viewer.get(f"/api/v1/runs/{run_id}/files/").json()["results"]
    assert len(files) == 3
    a, b, c = sorted(f["fileId"] for f in files)

    # Worker reports: a goes all the way, b fails after fetching, c fails at once.
    report(worker, a, "fetched", fileSize=1024)
    assert counts(viewer, run_id) == expect(pending=2, fetched=1)
    report(worker, a, "verified", checksum="sha256:abc")
    report(worker, a, "preprocessed")
    report(worker, a, "preprocessed")  # a repeated report is idempotent
    assert counts(viewer, run_id) == expect(pending=2, preprocessed=1)
    report(worker, b, "fetched")
    report(worker, b, "failed", error={"message": "checksum mismatch"})
    assert counts(viewer, run_id) == expect(pending=1, preprocessed=1, failed=1)
    report(worker, c, "failed", error={"message": "404 from source"})
    assert counts(viewer, run_id) == expect(preprocessed=1, failed=2)
    detail = viewer.get(f"/api/v1/runs/{run_id}/").json()
    assert detail["status"] == "failed"
    assert detail["failedFiles"] == 2
    assert detail["processedFiles"] == 1

    # A report on a finished file is an illegal transition.
    body = assert_json_error(worker.post(f"/api/v1/files/{a}/status/", {"status": "fetched"}, format="json"), 409)
    assert body["current"] == "preprocessed"

    # Dry run: lists, changes nothing.
    dry = operator.post(f"/api/v1/runs/{run_id}/retry/", {"dryRun": True}, format="json").json()
    assert dry["dryRun"] is True
    assert sorted(dry["fileIds"]) == sorted([b, c])
    assert counts(viewer, run_id) == expect(preprocessed=1, failed=2)

    # Retry the run: both failed files go back to pending and are dispatched once each.
    response = operator.post(f"/api/v1/runs/{run_id}/retry/", {}, format="json", HTTP_X_REQUEST_ID="req-retry-1")
    assert response.status_code == 200, response.content
    retried = response.json()
    assert retried["retried"] == 2
    assert retried["run"]["status"] == "processing"
    assert counts(viewer, run_id) == expect(pending=2, preprocessed=1)
    assert sorted(m.file_id for m in pipeline.dispatcher.drain()) == sorted([b, c])  # type: ignore[attr-defined]
    assert viewer.get(f"/api/v1/files/{b}/").json()["attempts"] == 1

    # b fails again; a single-file retry brings it back.
    report(worker, b, "failed", error={"message": "still broken"})
    assert counts(viewer, run_id) == expect(pending=1, preprocessed=1, failed=1)
    response = operator.post(f"/api/v1/files/{b}/retry/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "pending"
    assert response.json()["attempts"] == 2
    assert counts(viewer, run_id) == expect(pending=2, preprocessed=1)
    # Retrying a file that is not failed is refused.
    assert assert_json_error(operator.post(f"/api/v1/files/{b}/retry/", {}, format="json"), 409)["current"] == "pending"

    # Cancel: 200 cancelled; again: 200 unchanged; later reports are refused.
    response = operator.post(f"/api/v1/runs/{run_id}/cancel/", {"reason": "source outage"}, format="json",
                             HTTP_X_REQUEST_ID="req-cancel-1")
    assert response.status_code == 200, response.content
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelledBy"] == "operator-user"
    assert cancelled["cancelReason"] == "source outage"
    repeat = operator.post(f"/api/v1/runs/{run_id}/cancel/", {}, format="json")
    assert repeat.status_code == 200
    assert repeat.json()["cancelledAt"] == cancelled["cancelledAt"]
    assert_json_error(worker.post(f"/api/v1/files/{c}/status/", {"status": "fetched"}, format="json"), 409)
    assert counts(viewer, run_id) == expect(pending=2, preprocessed=1)
    assert_json_error(operator.post(f"/api/v1/runs/{run_id}/retry/", {}, format="json"), 409)

    # The audit trail, newest first: who, what, outcome and request id of every admin action.
    events = viewer.get(f"/api/v1/runs/{run_id}/events/?limit=500").json()["results"]
    trail = [(e["action"], e["outcome"], e["actor"]) for e in reversed(events)]
    assert trail == [
        ("trigger", "allowed", "operator-user"),
        ("trigger", "allowed", "operator-user"),
        ("retry", "allowed", "operator-user"),
        ("file_retry", "allowed", "operator-user"),
        ("file_retry", "refused", "operator-user"),
        ("cancel", "allowed", "operator-user"),
        ("cancel", "allowed", "operator-user"),
        ("retry", "refused", "operator-user"),
    ]
    by_request = {e["requestId"]: e for e in events}
    assert by_request["req-trigger-1"]["action"] == "trigger"
    assert by_request["req-retry-1"]["action"] == "retry"
    assert by_request["req-cancel-1"]["reason"] == "source outage"
    assert all(e["at"].endswith("Z") for e in events)

    # Paging the trail: limit=2 gives a next link that continues where it stopped.
    first = viewer.get(f"/api/v1/runs/{run_id}/events/?limit=2").json()
    second = viewer.get(first["next"]).json()
    assert [e["eventId"] for e in first["results"] + second["results"]] == [e["eventId"] for e in events[:4]]
