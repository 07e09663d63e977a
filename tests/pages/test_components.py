"""The dashboard's Python-built components: same links as {% url %}, escaped text, kept choices."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dataplatform.pipeline.models import Run
from dataplatform.templatetags.monitor import badge, choice_select, href, progress_bar
from runs.forms import RunFilterForm


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
