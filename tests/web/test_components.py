"""The dashboard's named partials (templates/components.html and the row partials): links from
{% url %}, escaped text, kept choices, progress in one vocabulary."""

from __future__ import annotations

from typing import Any

import pytest
from django.template.loader import render_to_string

from dataplatform.datasets.forms import CalendarForm
from dataplatform.pipeline.models import FileRecord, Run
from runs.forms import FileFilterForm, RunFilterForm


def render(name: str, **context: Any) -> str:
    return render_to_string(name, context)


def test_badge_escapes_what_it_does_not_know() -> None:
    assert "badge-failed" in render("components.html#badge", status="failed")
    assert ">Failed<" in render("components.html#badge", status="failed")
    html = render("components.html#badge", status='<script>"x"</script>')
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_select_keeps_the_submitted_value_selected() -> None:
    form = RunFilterForm({"status": "failed", "environment": "prod"})
    assert form.is_valid()
    html = render("components.html#select", field=form["status"])
    assert html.startswith('<select name="status" id="id_status">')
    assert '<option value="failed" selected>failed</option>' in html
    assert html.count(" selected") == 1
    assert '<option value="" selected>' in render("components.html#select", field=RunFilterForm({})["status"])


def _run(status: str, **extra: object) -> Run:
    return Run.model_validate({
        "runId": "sales-20260105-ab12", "datasetName": "sales", "businessDate": "2026-01-05",
        "createdAt": "2026-01-05T06:07:08Z", "status": status, "resolvedFiles": 2, "processedFiles": 1, **extra,
    })


def test_progress_counts_and_widths() -> None:
    run = _run("processing", resolvedFiles=3, failedFiles=1)
    html = render("components.html#progress", run=run)
    assert 'title="1 preprocessed, 1 failed, 1 pending of 3"' in html
    assert 'aria-label="67% done: 1 preprocessed, 1 failed, 1 pending of 3"' in html
    assert 'class="progress-done" x="0" y="0" width="33.33"' in html
    assert 'x="33.33" y="0" width="33.33"' in html
    assert '<span class="n-failed">1 failed</span>' in html
    assert "(1 pending)" in html


def test_a_cancelled_run_reads_as_not_processed() -> None:
    html = render("components.html#progress", run=_run("cancelled", resolvedFiles=100, processedFiles=0))
    assert "(100 not processed)" in html
    assert "pending" not in html


def test_run_row_is_live_only_while_the_run_is_in_flight() -> None:
    live = render("runs/runs.html#run-row", run=_run("processing"))
    assert '<tr id="run-sales-20260105-ab12" class="run-row in-flight">' in live
    assert 'name="live" value="sales-20260105-ab12" data-live-run' in live
    assert 'href="/runs/sales-20260105-ab12/"' in live
    assert '<td class="col-date mono">2026-01-05</td>' in live
    assert 'title="2026-01-05 06:07:08 UTC"' in live
    assert 'datetime="2026-01-05T06:07:08+00:00"' in live
    done = render("runs/runs.html#run-row", run=_run("success"))
    assert "data-live-run" not in done
    assert "hx-get" not in done


def _file(**extra: object) -> FileRecord:
    return FileRecord.model_validate({
        "fileId": "sales-20260105-ab12-f00001", "runId": "sales-20260105-ab12", "datasetName": "sales",
        "businessDate": "2026-01-05", "location": "s3://bucket/sales/<part>.csv", "status": "failed",
        "lastUpdated": "2026-01-05T06:07:08Z", **extra,
    })


def test_file_row_escapes_and_shortens_the_error() -> None:
    html = render("runs/run_detail.html#file-row", file=_file(error={"message": "<b>" + "x" * 200}, attempts=2,
                                                              fileSize=2048))
    assert "<b>" not in html
    assert "&lt;b&gt;" in html
    assert "x" * 136 + "…</td>" in html  # 140 characters: "<b>" + 136 x + the ellipsis
    assert "&lt;part&gt;.csv" in html
    assert '<td class="num">2.0 KiB</td>' in html
    assert '<td class="num">2</td>' in html
    assert 'href="/files/sales-20260105-ab12-f00001/"' in html


def test_file_row_without_size_or_error_message() -> None:
    html = render("runs/run_detail.html#file-row", file=_file(error={"code": "timeout"}))
    assert '<td class="num">\N{EN DASH}</td>' in html
    assert '<td class="err"></td>' in html


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
