"""Layout defects only a browser shows (found clicking through the merged product): the count on the
current files tab, checkboxes of the Django-rendered forms, a clean console on the run page, and
the runs table at split-screen widths."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from dataplatform.pipeline.app import Pipeline
from tests.browser.conftest import login, shot
from tests.web.factories import make_run

pytestmark = [pytest.mark.browser, pytest.mark.ddb_local]


def test_the_current_files_tab_shows_its_count_in_the_tabs_own_colour(
    page: Any, live_server: Any, tables: Pipeline, users: dict[str, str]
) -> None:
    run = make_run(tables, dataset="tab-count", files=3, done=1, failed=2)
    login(page, live_server.url, "operator", next_path=f"/runs/{run.run_id}/")
    current = page.locator("#files .tabs a[aria-current='true']")
    expect(current).to_have_class("tab-failed")  # failed files open first
    colours = current.evaluate(
        "a => [getComputedStyle(a).color, getComputedStyle(a.querySelector('.tab-count')).color]"
    )
    assert colours[0] == colours[1]  # muted grey on the red fill could not be read
    expect(current.locator(".tab-count")).to_have_text("2")


def test_keep_as_is_leaves_no_console_error(
    page: Any, live_server: Any, tables: Pipeline, users: dict[str, str]
) -> None:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    run = make_run(tables, dataset="keep-as-is", files=3, done=1, failed=2)
    login(page, live_server.url, "operator", next_path=f"/runs/{run.run_id}/")
    page.click("text=Retry failed files…")
    expect(page.locator("#run-actions .confirm-box")).to_contain_text("Retry 2 failed files?")
    page.click("text=Keep as is")
    expect(page.locator("#run-actions .confirm-box")).to_have_count(0)
    expect(page.locator("#run-actions")).to_contain_text("Retry failed files…")
    assert errors == []


def test_silence_form_checkboxes_sit_on_one_line_with_their_labels(
    page: Any, live_server: Any, tables: Pipeline, users: dict[str, str]
) -> None:
    login(page, live_server.url, "operator", next_path="/silences/")
    boxes = page.locator("#silence-create input[type=checkbox]")
    expect(boxes).to_have_count(7)
    first = page.locator("label[for=id_window_days_0]").bounding_box()
    last = page.locator("label[for=id_window_days_6]").bounding_box()
    assert first["height"] < 28  # box and text on one line (the text-field box pushed the text below)
    assert abs(first["y"] - last["y"]) < 4  # Mon ... Sun in one row
    shot(page, "silences-form")


@pytest.mark.parametrize("width", [960, 1024, 1180])
def test_split_screen_widths_show_every_runs_column_without_sideways_scrolling(
    browser: Any, live_server: Any, tables: Pipeline, users: dict[str, str], width: int
) -> None:
    """A dashboard beside a terminal (half of a 1920 px screen, a small laptop): the runs table fits
    its box (the progress column was cut off at 1024 px), the run id stays one line with its full
    text in the title, from 1024 px the header is one line, and a run's files table shows its
    error column readable (it was cut off, one letter a line)."""
    run = make_run(tables, dataset="split-screen-dataset-with-a-long-name", files=4, done=2, failed=1)
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        login(page, live_server.url, "operator", next_path="/runs/?datasetName=split-screen-dataset-with-a-long-name")
        row = page.locator(f"[id='run-{run.run_id}']")
        expect(row).to_be_visible()
        wrap = page.locator("#results .table-wrap")
        sizes = wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
        assert sizes[0] <= sizes[1], f"the runs table scrolls sideways at {width}px: {sizes}"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        progress = row.locator(".col-progress").bounding_box()
        assert progress["x"] + progress["width"] <= width  # the progress column is on screen
        run_id = row.locator(".col-dataset .sub")
        expect(run_id).to_have_attribute("title", f"Run id {run.run_id}")
        assert run_id.bounding_box()["height"] < 24  # one line
        if width >= 1024:
            assert page.locator("header.topbar").bounding_box()["height"] < 60  # one line
        shot(page, f"runs-split-screen-{width}", full_page=False)
        page.goto(f"{live_server.url}/runs/{run.run_id}/")  # opens on the failed file
        files = page.locator("#files .table-wrap")
        expect(files.locator(".err")).to_have_count(1)
        sizes = files.evaluate("w => [w.scrollWidth, w.clientWidth]")
        shot(page, f"run-split-screen-{width}")
        assert sizes[0] <= sizes[1], f"the files table scrolls sideways at {width}px: {sizes}"
        assert files.locator(".err").bounding_box()["width"] >= 150  # the error was squeezed to a letter a line
    finally:
        context.close()
