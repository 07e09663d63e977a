"""The watch end to end through the real server (pytest-django's live server on DynamoDB Local):
a dataset expected by 06:00 UTC with 30 min grace (due 08:00 + 30 min, stuck after 60 min);
`evaluate_alerts --once --now ...` opens an episode; runs appear and progress through the API
(trigger, worker reports, retry); the next tick resolves it. Time is frozen with time-machine so
runs are created at the scenario's instants."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from dataplatform.pipeline.app import Pipeline
from tests.alerts.conftest import DATASET, DAY, at, scheduled_dataset
from tests.api.conftest import make_user

pytestmark = [pytest.mark.ddb_local]

Api = Callable[..., Any]


@pytest.fixture
def api(live_server: Any, transactional_db: None, pipeline: Pipeline) -> Api:
    """JSON over HTTP to the live server, as `role` (a token per role)."""
    tokens = {role: Token.objects.create(user=make_user(role)).key for role in ("viewer", "operator", "pipeline")}

    def call(method: str, path: str, body: Any = None, *, role: str = "viewer", status: int = 200) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the live server's http URL
            f"{live_server.url}{path}", data=data, method=method,
            headers={"Authorization": f"Token {tokens[role]}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            assert response.status == status
            return json.loads(response.read())

    return call


def evaluate_at(hhmm: str) -> dict[str, Any]:
    out = StringIO()
    call_command("evaluate_alerts", "--once", "--now", f"{DAY}T{hhmm}:00Z", stdout=out)
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


def alerts(api: Api, state: str) -> list[dict[str, Any]]:
    return api("GET", f"/api/v1/alerts/?datasetName={DATASET}&state={state}")["results"]  # type: ignore[no-any-return]


def trigger(api: Api) -> dict[str, Any]:
    run = api("POST", "/api/v1/runs/", {"datasetName": DATASET, "businessDate": DAY}, role="pipeline", status=201)
    return run  # type: ignore[no-any-return]


def report(api: Api, pipeline: Pipeline, run_id: str, *steps: str, limit: int | None = None) -> None:
    """Worker reports through the API for the run's files (the first `limit`)."""
    pipeline.dispatcher.drain()  # type: ignore[attr-defined]
    files = api("GET", f"/api/v1/runs/{run_id}/files/?limit=500")["results"]
    for record in sorted(files, key=lambda f: f["fileId"])[:limit]:
        for step in steps:
            body: dict[str, Any] = {"status": step}
            if step == "failed":
                body["error"] = {"message": "vendor returned 500"}
            api("POST", f"/api/v1/files/{record['fileId']}/status/", body, role="pipeline")


def expectation(api: Api) -> dict[str, Any]:
    (row,) = api("GET", f"/api/v1/expectations/?date={DAY}&datasetName={DATASET}")["results"]
    return row  # type: ignore[no-any-return]


@pytest.fixture
def clock(pipeline: Pipeline) -> Iterator[Any]:
    scheduled_dataset(pipeline)
    with time_machine.travel(at("05:00"), tick=False) as traveller:
        yield traveller


def test_missing_opens_at_seven_and_resolves_when_the_run_appears_and_succeeds(
    api: Api, pipeline: Pipeline, clock: Any
) -> None:
    clock.move_to(at("07:00"))
    assert evaluate_at("07:00")["opened"] == 1
    (missing,) = alerts(api, "open")
    assert (missing["kind"], missing["businessDate"], missing["runId"]) == ("missing", DAY, None)
    assert evaluate_at("07:01")["opened"] == 0  # one episode, however many ticks

    clock.move_to(at("07:10"))
    run = trigger(api)
    clock.move_to(at("07:20"))
    report(api, pipeline, run["runId"], "fetched", "verified", "preprocessed")
    assert api("GET", f"/api/v1/runs/{run['runId']}/")["status"] == "success"

    clock.move_to(at("07:30"))
    assert evaluate_at("07:30")["resolved"] == 1
    assert alerts(api, "open") == []
    (resolved,) = alerts(api, "resolved")
    assert resolved["alertId"] == missing["alertId"]
    assert resolved["openMinutes"] == 30
    assert expectation(api)["state"] == "met"


def test_late_opens_past_due_plus_grace_and_resolves_on_success(api: Api, pipeline: Pipeline, clock: Any) -> None:
    clock.move_to(at("06:10"))
    run = trigger(api)
    clock.move_to(at("08:20"))
    report(api, pipeline, run["runId"], "fetched", limit=1)  # progress: not stuck
    clock.move_to(at("08:45"))
    assert evaluate_at("08:45")["opened"] == 1
    (late,) = alerts(api, "open")
    assert (late["kind"], late["runId"], late["lateMinutes"]) == ("late", run["runId"], 45)

    clock.move_to(at("08:50"))
    # The fetched file goes on; the other starts.
    files = sorted(api("GET", f"/api/v1/runs/{run['runId']}/files/")["results"], key=lambda f: f["fileId"])
    for record in files:
        steps = ("verified", "preprocessed") if record["status"] == "fetched" else ("fetched", "verified",
                                                                                      "preprocessed")
        for step in steps:
            api("POST", f"/api/v1/files/{record['fileId']}/status/", {"status": step}, role="pipeline")
    clock.move_to(at("09:00"))
    assert evaluate_at("09:00")["resolved"] == 1
    assert alerts(api, "open") == []
    assert expectation(api)["state"] == "met_late"


def test_stuck_opens_without_progress_and_resolves_when_progress_resumes(
    api: Api, pipeline: Pipeline, clock: Any
) -> None:
    clock.move_to(at("06:10"))
    run = trigger(api)
    clock.move_to(at("07:15"))
    assert evaluate_at("07:15")["opened"] == 1
    (stuck,) = alerts(api, "open")
    assert (stuck["kind"], stuck["runId"]) == ("stuck", run["runId"])

    clock.move_to(at("07:20"))
    report(api, pipeline, run["runId"], "fetched", limit=1)
    clock.move_to(at("07:25"))
    assert evaluate_at("07:25")["resolved"] == 1
    assert alerts(api, "open") == []
    assert expectation(api)["state"] == "running"


def test_failed_opens_and_resolves_when_a_retry_succeeds(api: Api, pipeline: Pipeline, clock: Any) -> None:
    clock.move_to(at("06:10"))
    run = trigger(api)
    clock.move_to(at("06:20"))
    report(api, pipeline, run["runId"], "failed")
    assert api("GET", f"/api/v1/runs/{run['runId']}/")["status"] == "failed"
    clock.move_to(at("06:30"))
    assert evaluate_at("06:30")["opened"] == 1
    (failed,) = alerts(api, "open")
    assert (failed["kind"], failed["runId"]) == ("failed", run["runId"])
    # The operator acknowledges it through the API: repeats stop, it stays until the retry succeeds.
    assert api("POST", f"/api/v1/alerts/{failed['alertId']}/ack/", {"note": "retrying"}, role="operator")[
        "state"] == "acknowledged"

    clock.move_to(at("06:40"))
    assert api("POST", f"/api/v1/runs/{run['runId']}/retry/", {}, role="operator")["retried"] == 2
    clock.move_to(at("06:50"))
    report(api, pipeline, run["runId"], "fetched", "verified", "preprocessed")
    clock.move_to(at("07:00"))
    assert evaluate_at("07:00")["resolved"] == 1
    (resolved,) = alerts(api, "resolved")
    assert resolved["alertId"] == failed["alertId"]
    assert expectation(api)["state"] == "met"
