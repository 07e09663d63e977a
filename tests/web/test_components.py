"""The dashboard's Python-built components: same links as {% url %}, escaped text, kept choices."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dataplatform.datasets.forms import CalendarForm
from dataplatform.pipeline.models import FileRecord, Run
from dataplatform.web.templatetags.monitor import badge, choice_select, file_row, href, progress_bar, run_row
from runs.forms import FileFilterForm, RunFilterForm


@pytest.mark.parametrize(
    ("name", "arg"),
    [
        ("runs-page", None),
        ("datasets-page", None),
        ("run-page", "bond-prices-20260105-1f2e3d"),
        ("run-row", "a.b:c-d_e"),
        ("file-page", "run-1:part-00001.csv"),
        ("dataset-page", "fx.rates-v2"),
        ("file-retry", "x~y@z"),
    ],
)
def test_href_is_what_reverse_answers(name: str, arg: str | None) -> None:
    assert href(name, arg) == reverse(name, args=[arg] if arg is not None else None)


def test_href_keeps_an_argument_in_one_path_segment() -> None:
    assert href("run-page", "a/b?c#d") == "/runs/a%2Fb%3Fc%23d/"


def test_badge_escapes_what_it_does_not_know() -> None:
    assert 'badge-failed' in badge("failed")
    assert ">Failed<" in badge("failed")
    html = badge('<script>"x"</script>')
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_choice_select_keeps_the_submitted_value_selected() -> None:
    form = RunFilterForm({"status": "failed", "environment": "prod"})
    assert form.is_valid()
    html = choice_select(form["status"])
    assert html.startswith('<select name="status" id="id_status">')
    assert '<option value="failed" selected>failed</option>' in html
    assert html.count(" selected") == 1
    assert '<option value="" selected>' in choice_select(RunFilterForm({})["status"])


def test_progress_bar_counts_and_widths() -> None:
    run = Run.model_validate({
        "runId": "r1", "datasetName": "d", "businessDate": "2026-01-05", "createdAt": "2026-01-05T00:00:00Z",
        "status": "processing", "resolvedFiles": 3, "processedFiles": 1, "failedFiles": 1,
    })
    html = progress_bar(run)
    assert 'title="1 processed, 1 failed, 1 pending of 3"' in html
    assert 'aria-label="67% done: 1 processed, 1 failed, 1 pending of 3"' in html
    assert 'class="progress-done" x="0" y="0" width="33.33"' in html
    assert 'x="33.33" y="0" width="33.33"' in html
    assert '<span class="n-failed">1 failed</span>' in html
    assert "(1 pending)" in html


def _run(status: str) -> Run:
    return Run.model_validate({
        "runId": "sales-20260105-ab12", "datasetName": "sales", "businessDate": "2026-01-05",
        "createdAt": "2026-01-05T06:07:08Z", "status": status, "resolvedFiles": 2, "processedFiles": 1,
    })


def test_run_row_polls_only_while_the_run_is_in_flight() -> None:
    live = run_row(_run("processing"))
    assert live.startswith('<tr id="run-sales-20260105-ab12" class="run-row" data-poll ')
    assert 'hx-get="/runs/sales-20260105-ab12/row/"' in live
    assert 'href="/runs/sales-20260105-ab12/"' in live
    assert '<td class="col-date mono">2026-01-05</td>' in live
    assert 'title="2026-01-05 06:07:08 UTC"' in live
    assert 'datetime="2026-01-05T06:07:08+00:00"' in live
    done = run_row(_run("success"))
    assert "data-poll" not in done
    assert "hx-get" not in done


def _file(**extra: object) -> FileRecord:
    return FileRecord.model_validate({
        "fileId": "sales-20260105-ab12-f00001", "runId": "sales-20260105-ab12", "datasetName": "sales",
        "businessDate": "2026-01-05", "location": "s3://bucket/sales/<part>.csv", "status": "failed",
        "lastUpdated": "2026-01-05T06:07:08Z", **extra,
    })


def test_file_row_escapes_and_shortens_the_error() -> None:
    html = file_row(_file(error={"message": "<b>" + "x" * 200}, attempts=2, fileSize=2048))
    assert "<b>" not in html
    assert "&lt;b&gt;" in html
    assert "x" * 136 + "…</td>" in html  # 140 characters: "<b>" + 136 x + the ellipsis
    assert "&lt;part&gt;.csv" in html
    assert '<td class="num">2.0 KiB</td><td class="num">2</td>' in html
    assert 'href="/files/sales-20260105-ab12-f00001/"' in html


def test_file_row_without_size_or_error_message() -> None:
    html = file_row(_file(error={"code": "timeout"}))
    assert '<td class="num">\N{EN DASH}</td>' in html
    assert "{&#x27;code&#x27;: &#x27;timeout&#x27;}" in html
    assert '<td class="err"></td>' in file_row(_file(status="pending"))


def _field_state(form_class: type) -> dict[str, object]:
    return {
        name: (repr(field.widget.attrs), list(getattr(field, "choices", [])), dict(field.error_messages),
               field.required, field.initial, field.label)
        for name, field in form_class.base_fields.items()
    }


@pytest.mark.parametrize("form_class", [RunFilterForm, FileFilterForm, CalendarForm])
def test_query_forms_share_their_fields_and_never_change_them(form_class: type) -> None:
    before = _field_state(form_class)
    for data in ({}, {"status": "bogus"}, {"businessDate": "2026-02-30"}, {"datasetName": "<x>"},
                 {"status": "failed", "environment": "prod", "fileStatus": "failed", "days": "400"}):
        form = form_class(data)
        form.is_valid()
        for bound in form:
            str(bound.value())
        assert form.fields is form_class.base_fields
    assert _field_state(form_class) == before
