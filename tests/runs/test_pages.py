"""Dashboard views through the Django test client, on DynamoDB Local."""

from __future__ import annotations

import pytest
from django.test import Client

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dynamo import Update
from dataplatform.pipeline.listing import RunFilters
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


def test_runs_page_shows_status_progress_and_one_poller_for_in_flight_rows(
    operator_client: Client, pipeline: Pipeline
) -> None:
    moving = make_run(pipeline, dataset="alpha", files=4, done=1)
    finished = make_run(pipeline, dataset="beta", files=2, done=2)
    body = html(operator_client.get("/runs/"))
    assert "badge-processing" in body
    assert "Processing" in body
    assert "Success" in body
    assert "1 / 4" in body.replace("</span>", "")  # preprocessed of resolved
    assert f'name="live" value="{moving.run_id}"' in body  # the page's one poll covers this row
    assert f'name="live" value="{finished.run_id}"' not in body
    assert body.count("hx-trigger=\"every") == 1
    assert 'id="runs-live"' in body
    assert "min ago" in body or "just now" in body
    assert " UTC" in body


def test_runs_poll_refreshes_rows_in_one_batch_get(operator_client: Client, pipeline: Pipeline) -> None:
    from dataplatform.pipeline import metrics

    runs = [make_run(pipeline, dataset=f"ds{i:02d}", files=1) for i in range(50)]
    top = pipeline.runs.newer(RunFilters(), than=None, limit=1)[0]
    head_query = f"top={top.to_item()['createdAt']}|{top.run_id}"
    pipeline.runs.catalog.indexes()
    with metrics.scope() as poll:
        response = operator_client.get(
            "/runs/poll/?" + "&".join(f"live={r.run_id}" for r in runs) + "&" + head_query, **htmx("runs-live")
        )
    assert response.status_code == 200
    assert poll.operations == {"BatchGetItem": 1}, poll.operations
    body = html(response)
    for run in runs:
        assert f'id="run-{run.run_id}" class="run-row in-flight" hx-swap-oob="outerHTML"' in body  # 50 rows
    assert 'id="runs-live"' in body


def test_runs_poll_adds_new_runs_at_the_top(operator_client: Client, pipeline: Pipeline) -> None:
    first = make_run(pipeline, dataset="alpha", files=1, done=1)
    body = html(operator_client.get("/runs/"))
    def next_poll(text: str) -> str:
        return text.split('id="runs-live"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")

    learned = html(operator_client.get(next_poll(body), **htmx("runs-live")))  # learns the newest run
    assert "run-row" not in learned
    poll_url = next_poll(learned)
    assert operator_client.get(poll_url, **htmx("runs-live")).status_code == 204  # nothing new
    second = make_run(pipeline, dataset="beta", files=1)
    fresh = html(operator_client.get(poll_url, **htmx("runs-live")))
    assert 'hx-swap-oob="afterbegin:#run-rows"' in fresh
    assert f'id="run-{second.run_id}"' in fresh
    assert f'id="run-{first.run_id}"' not in fresh


def test_run_live_poll_stops_once_terminal_and_shown(operator_client: Client, pipeline: Pipeline) -> None:
    done = make_run(pipeline, files=1, done=1)
    body = html(operator_client.get(f"/runs/{done.run_id}/"))
    assert "hx-get=\"/runs/" + done.run_id + "/live/" not in body  # nothing left to refresh
    moving = make_run(pipeline, files=2, done=1)
    body = html(operator_client.get(f"/runs/{moving.run_id}/"))
    live_url = body.split('id="run-live"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    unchanged = operator_client.get(live_url, **htmx("run-live"))
    assert unchanged.status_code == 204


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
    assert 'id="run-live" hidden hx-swap-oob="outerHTML" data-poll' in html(done)  # the live poll starts over
    assert "run-changed" in done["HX-Trigger-After-Settle"]
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


def test_run_page_and_its_poll_read_counts_from_the_run_item(operator_client: Client, pipeline: Pipeline) -> None:
    from dataplatform.pipeline import metrics

    run = make_run(pipeline, files=30, done=5, failed=2)
    url = f"/runs/{run.run_id}/"
    with metrics.scope() as full:
        page = html(operator_client.get(url))
    # The run, the files tab in view (failed: the run has failures), the audit trail, the failure
    # groups, the run's open alerts.
    assert full.operations == {"GetItem": 1, "Query": 4}, full.operations
    assert 'aria-current="true" class="tab-failed"' in page
    assert ">23<" in page  # pending, from the counters
    assert "Stored counters" not in page
    live_url = page.split('id="run-live"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    pipeline.runs.update(run.run_id, Update(add_values={"processedFiles": 1}))  # a worker reports
    with metrics.scope() as poll:
        refreshed = html(operator_client.get(live_url, **htmx("run-live")))
    assert poll.calls <= 2, poll.operations
    assert 'id="run-status" class="card run-status" hx-swap-oob="outerHTML"' in refreshed
    assert 'id="files" class="card" hx-swap-oob="outerHTML"' in refreshed


def test_recount_repairs_drifted_counters(operator_client: Client, pipeline: Pipeline) -> None:
    run = make_run(pipeline, files=30, done=5, failed=2)
    pipeline.runs.update(run.run_id, Update(add_values={"processedFiles": 1}))  # a counter drifts
    response = operator_client.post(f"/runs/{run.run_id}/recount/", **htmx("run-status"))
    assert "Counts checked and corrected." in html(response)
    stored = pipeline.runs.get(run.run_id, consistent=True)
    assert stored.counts() == pipeline.files.count_by_status(run.run_id)
    assert stored.counts_checked_at is not None


def test_failed_files_open_first_grouped_by_error(operator_client: Client, pipeline: Pipeline) -> None:
    run = make_run(pipeline, files=5, done=1, failed=3, error={"message": "bad gzip", "code": "E42"})
    body = html(operator_client.get(f"/runs/{run.run_id}/"))
    assert 'aria-current="true" class="tab-failed"' in body
    groups = body.split('id="failures"')[1].split("</section>")[0]
    assert "bad gzip" in groups
    assert "E42" in groups
    assert "error=bad%20gzip" in groups
    group = html(operator_client.get(f"/runs/{run.run_id}/?fileStatus=failed&error=bad%20gzip", **htmx("files")))
    assert group.count("badge-failed") == 3
    assert "bad gzip" in group
    assert "Grouped: the first" not in groups  # every failed file is in a group


def test_failure_groups_of_a_storm_say_they_are_of_the_first_files(
    operator_client: Client, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataplatform.pipeline import selectors

    monkeypatch.setattr(selectors, "GROUPED_FILES_MAX", 2)
    run = make_run(pipeline, files=5, done=1, failed=3, error={"message": "bad gzip"})
    groups = html(operator_client.get(f"/runs/{run.run_id}/", **htmx("failures")))
    assert "Grouped: the first 2 of 3 failed files." in groups
    assert ">2</a>" in groups  # the group counts what was read; its link lists all three


def test_dataset_filter_ignores_case_and_unknown_names_say_so(operator_client: Client, pipeline: Pipeline) -> None:
    from dataplatform.pipeline.datasets import parse_dataset

    pipeline.datasets.put(parse_dataset({
        "datasetName": "bond-prices", "locations": ["s3://bucket-x/{dataset}/{businessDate}.csv"],
    }))
    run = make_run(pipeline, dataset="bond-prices", files=1)
    body = html(operator_client.get("/runs/?datasetName=Bond-Prices"))
    assert run.run_id in body
    assert "matched ignoring case" in body
    unknown = html(operator_client.get("/runs/?datasetName=bond"))
    assert "No dataset named &#x27;bond&#x27; is registered. Did you mean: bond-prices?" in unknown
    assert "No runs match" in unknown
    suggestions = html(operator_client.get("/suggest/datasets/", **htmx("dataset-names")))
    assert '<option value="bond-prices">' in suggestions


def test_cancelled_run_reads_as_cancelled(operator_client: Client, pipeline: Pipeline) -> None:
    run = make_run(pipeline, files=4)
    operator_client.post(f"/runs/{run.run_id}/cancel/", {"reason": "wrong file"})
    body = html(operator_client.get(f"/runs/{run.run_id}/"))
    assert "4 files not processed" in body
    assert "(4 not processed)" in body
    assert "(4 pending)" not in body
    assert 'hx-get="/runs/' + run.run_id + '/live/' not in body


def test_keep_as_is_does_not_inherit_the_confirm_forms_disabled_element(
    operator_client: Client, pipeline: Pipeline
) -> None:
    run = make_run(pipeline, files=3, done=1, failed=2)
    preview = html(operator_client.post(f"/runs/{run.run_id}/retry/", **htmx("run-actions")))
    form = preview.split('class="confirm-box"')[1].split("</form>")[0]
    assert 'hx-disabled-elt="find button"' in preview  # the form's, inherited by every hx- element in it
    # Inherited by the link, "find button" matches nothing under it: htmx logs a console error on click.
    keep = form.split(">Keep as is</a>")[0].rsplit("<a ", 1)[1]
    assert 'hx-disabled-elt="this"' in keep
