"""Layout defects only a browser shows (found clicking through the merged product): the count on the
current files tab, checkboxes of the Django-rendered forms, and a clean console on the run page."""

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
