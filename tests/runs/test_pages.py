"""Dashboard views through the Django test client, on DynamoDB Local."""

from __future__ import annotations

import pytest
from django.test import Client

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dynamo import Update
from dataplatform.pipeline.states import FileStatus
from tests.web.factories import file_ids, make_run
from tests.web.page_fixtures import htmx

pytestmark = [pytest.mark.django_db, pytest.mark.ddb_local]


def html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def test_runs_page_full_vs_htmx_partial(operator_client: Client, pipeline: Pipeline) -> None:
    run = make_run(pipeline, files=4, done=1)
    full = operator_client.get("/runs/")
    assert full.status_code == 200
    assert "<html" in html(full)
    assert run.run_id in html(full)
    assert "HX-Request" in full["Vary"]
    partial = operator_client.get("/runs/", **htmx("results"))
    assert partial.status_code == 200
    assert "<html" not in html(partial)
    assert 'id="results"' in html(partial)
    assert run.run_id in html(partial)
    assert "HX-Request" in partial["Vary"]


def test_runs_page_shows_status_progress_and_polls_only_in_flight_rows(
    operator_client: Client, pipeline: Pipeline
) -> None:
    moving = make_run(pipeline, dataset="alpha", files=4, done=1)
    finished = make_run(pipeline, dataset="beta", files=2, done=2)
    body = html(operator_client.get("/runs/"))
    assert "badge-processing" in body
    assert "Processing" in body
    assert "Success" in body
    assert "1 / 4" in body.replace("</span>", "")  # processed of resolved
    assert f'hx-get="/runs/{moving.run_id}/row/"' in body
    assert f'hx-get="/runs/{finished.run_id}/row/"' not in body
    assert "min ago" in body or "just now" in body
    assert " UTC" in body


def test_row_polling_stops_with_286_once_terminal(operator_client: Client, pipeline: Pipeline) -> None:
    moving = make_run(pipeline, files=2, done=1)
    response = operator_client.get(f"/runs/{moving.run_id}/row/", **htmx(f"run-{moving.run_id}"))
    assert response.status_code == 200
    assert "every 5s" in html(response)
    done = make_run(pipeline, files=1, done=1)
    response = operator_client.get(f"/runs/{done.run_id}/row/", **htmx(f"run-{done.run_id}"))
    assert response.status_code == 286
    assert "Success" in html(response)
    assert "every 5s" not in html(response)


def test_run_page_status_polling_stops_when_terminal(operator_client: Client, pipeline: Pipeline) -> None:
    done = make_run(pipeline, files=1, done=1)
    response = operator_client.get(f"/runs/{done.run_id}/", **htmx("run-status"))
    assert response.status_code == 286
    assert 'id="run-status"' in html(response)
    assert "<html" not in html(response)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("businessDate=2024-13-45", "Business date must be a real date"),
        ("businessDate=yesterday", "Business date must be a real date"),
        ("status=exploded", "Select a valid choice"),
        ("environment=moon", "Select a valid choice"),
        ("datasetName=%3Cscript%3E", "datasetName must be"),
    ],
)
def test_bad_filters_show_a_message_not_500(operator_client: Client, pipeline: Pipeline, query: str,
                                            message: str) -> None:
    response = operator_client.get(f"/runs/?{query}")
    assert response.status_code == 200
    assert message in html(response)
    assert "<script>" not in html(response)


def test_filter_by_dataset_and_date(operator_client: Client, pipeline: Pipeline) -> None:
    wanted = make_run(pipeline, dataset="alpha", business_date="2024-05-02", files=1)
    other_day = make_run(pipeline, dataset="alpha", business_date="2024-05-01", files=1)
    other_ds = make_run(pipeline, dataset="beta", business_date="2024-05-02", files=1)
    body = html(operator_client.get("/runs/?datasetName=alpha&businessDate=2024-05-02"))
    assert wanted.run_id in body
    assert other_day.run_id not in body
    assert other_ds.run_id not in body


def test_load_more_pages_never_drop_or_repeat(operator_client: Client, pipeline: Pipeline,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import runs.views

    monkeypatch.setattr(runs.views, "PAGE_SIZE", 2)
    created = {make_run(pipeline, dataset="alpha", business_date=f"2024-05-0{d}", files=1).run_id for d in range(1, 6)}
    seen: list[str] = []
    response = operator_client.get("/runs/?datasetName=alpha")
    body = html(response)
    while True:
        seen += [run_id for run_id in created if f'id="run-{run_id}"' in body]
        if 'id="load-more"' not in body:
            break
        next_url = body.split('id="load-more"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
        response = operator_client.get(next_url, **htmx("load-more"))
        assert "<html" not in html(response)
        body = html(response)
    assert sorted(seen) == sorted(created)


def test_tampered_cursor_is_a_message(operator_client: Client, pipeline: Pipeline) -> None:
    make_run(pipeline, dataset="alpha", files=1)
    response = operator_client.get("/runs/?datasetName=alpha&cursor=abc.def")
    assert response.status_code == 200
    assert "page link has expired" in html(response)


def test_run_page_shows_everything_escaped(operator_client: Client, pipeline: Pipeline) -> None:
    run = make_run(
        pipeline, files=3, done=1, failed=1, error={"message": "<img src=x onerror=alert(1)>"},
        metadata={"note": "<script>alert(1)</script>"}, source_trigger={"job": '"><svg onload=alert(1)>'},
    )
    body = html(operator_client.get(f"/runs/{run.run_id}/"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "<svg onload" not in body
    assert "<script>alert" not in body
    for status in FileStatus:
        assert f"badge-{status.value}" in body
    assert "Retry failed files" in body
    assert "Cancel run" in body
    assert "Audit trail" in body


def test_run_page_partials_by_target(operator_client: Client, pipeline: Pipeline) -> None:
    run = make_run(pipeline, files=3, done=1, failed=1)
    files = operator_client.get(f"/runs/{run.run_id}/?fileStatus=failed", **htmx("files"))
    assert files.status_code == 200
    assert 'id="files"' in html(files)
    assert "<html" not in html(files)
    assert html(files).count("badge-failed") >= 1
    assert "badge-preprocessed" not in html(files).split("<tbody")[1]
    assert "HX-Target" in files["Vary"]


def test_viewer_sees_no_actions_and_forged_posts_are_refused(viewer_client: Client, pipeline: Pipeline) -> None:
    run = make_run(pipeline, files=3, done=1, failed=1)
    body = html(viewer_client.get(f"/runs/{run.run_id}/"))
    assert "Retry failed files" not in body
    assert "Cancel run" not in body
    failed_id = file_ids(pipeline, run.run_id, FileStatus.FAILED)[0]
    assert "Retry this file" not in html(viewer_client.get(f"/files/{failed_id}/"))
    for url, data in [
        (f"/runs/{run.run_id}/retry/", {"confirm": "yes"}),
        (f"/runs/{run.run_id}/cancel/", {"reason": "nope"}),
        (f"/files/{failed_id}/retry/", {}),
    ]:
        assert viewer_client.post(url, data).status_code == 403
        assert viewer_client.post(url, data, **htmx("run-actions")).status_code == 403
    after = pipeline.runs.get(run.run_id, consistent=True)
    assert after.status == run.status
    assert after.failed_files == 1
    assert file_ids(pipeline, run.run_id, FileStatus.FAILED) == [failed_id]


def test_retry_dry_run_then_confirm_in_place(operator_client: Client, pipeline: Pipeline) -> None:
    run = make_run(pipeline, files=3, done=1, failed=2)
    assert run.status.value == "failed"
    preview = operator_client.post(f"/runs/{run.run_id}/retry/", **htmx("run-actions"))
    assert preview.status_code == 200
    assert "Retry 2 failed files?" in html(preview)
    assert len(file_ids(pipeline, run.run_id, FileStatus.FAILED)) == 2  # a dry run changes nothing
    done = operator_client.post(f"/runs/{run.run_id}/retry/", {"confirm": "yes"}, **htmx("run-actions"))
    assert done.status_code == 200
    assert "Retrying 2 failed files." in html(done)
    assert 'hx-swap-oob="outerHTML"' in html(done)
    assert "Processing" in html(done)
    assert "run-changed" in done["HX-Trigger"]
    assert file_ids(pipeline, run.run_id, FileStatus.FAILED) == []
    assert pipeline.runs.get(run.run_id).status.value == "processing"


def test_retry_without_js_is_post_redirect_get(operator_client: Client, pipeline: Pipeline) -> None:
    run = make_run(pipeline, files=2, failed=2)
    preview = operator_client.post(f"/runs/{run.run_id}/retry/")
    assert preview.status_code == 200
    assert "<html" in html(preview)
    assert "Confirm: retry 2 files" in html(preview)
    response = operator_client.post(f"/runs/{run.run_id}/retry/", {"confirm": "yes"}, follow=True)
    assert response.redirect_chain[-1] == (f"/runs/{run.run_id}/", 302)
    assert "Retrying 2 failed files." in html(response)


def test_cancel_needs_a_reason_and_lands_in_the_audit_trail(operator_client: Client, pipeline: Pipeline) -> None:
    run = make_run(pipeline, files=2, done=1)
    refused = operator_client.post(f"/runs/{run.run_id}/cancel/", {"reason": "  "}, **htmx("run-actions"))
    assert "Say why the run is cancelled" in html(refused)
    assert pipeline.runs.get(run.run_id).status.value == "processing"
    response = operator_client.post(f"/runs/{run.run_id}/cancel/", {"reason": "wrong vendor file"}, follow=True)
    body = html(response)
    assert "Run cancelled." in body
    assert "wrong vendor file" in body
    assert "cancel" in body
    assert pipeline.runs.get(run.run_id).status.value == "cancelled"


def test_unknown_run_is_404(operator_client: Client, pipeline: Pipeline) -> None:
    assert operator_client.get("/runs/nope/").status_code == 404


def test_run_page_costs_three_requests_and_loads_counts_and_audit_lazily(
    operator_client: Client, pipeline: Pipeline
) -> None:
    from dataplatform.pipeline import metrics

    run = make_run(pipeline, files=30, done=5, failed=2)
    url = f"/runs/{run.run_id}/"
    with metrics.scope() as full:
        page = html(operator_client.get(url))
    # the run item + the first page of its files + its open alerts (one Query on the runId index)
    assert full.operations == {"GetItem": 1, "Query": 2}, full.operations
    assert "Count the files of this run" in page
    assert "Show the audit trail" in page
    with metrics.scope() as poll:
        operator_client.get(url, **htmx("run-status"))
    assert poll.calls == 1, poll.operations  # the status poll reads only the run item
    exact = html(operator_client.get(url, **htmx("run-exact")))
    assert "counted from the file table" in exact
    assert ">23<" in exact  # pending
    assert "stored counters differ" not in exact
    pipeline.runs.update(run.run_id, Update(add_values={"processedFiles": 1}))  # a counter drifts
    drifted = html(operator_client.get(url, **htmx("run-exact")))
    assert "stored counters differ" in drifted
    assert "reconcile --run-id" in drifted
    without_js = html(operator_client.get(url + "?exact=1&events=1"))
    assert "Count the files of this run" not in without_js
    assert "Show the audit trail" not in without_js
