"""Live pages in Chromium (issue 13): a run page that stays true while the run ends, one poll
per runs page whatever its size, new runs at the top, the search box."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from dataplatform.pipeline import services
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.engine import DynamoDBLocal
from dataplatform.pipeline.states import FileStatus
from dataplatform.web import wiring
from tests.browser.conftest import login, shot
from tests.conftest import unique_config
from tests.web.factories import WORKER, advance, file_ids, make_run

pytestmark = [pytest.mark.browser, pytest.mark.ddb_local]

# Short poll interval: "within two poll intervals" without waiting 10 s.
POLL = 1.0


@pytest.fixture(scope="module")
def live_pipeline(ddb_local_server: DynamoDBLocal) -> Iterator[Pipeline]:
    """Fresh, empty tables the web app points at (no demo load: these tests make their own runs)."""
    config = unique_config(endpoint_url=ddb_local_server.endpoint_url)
    with override_settings(PIPELINE_CONFIG=config, POLL_INTERVAL_SECONDS=POLL):
        wiring.reset()
        pipeline = wiring.get_pipeline()
        pipeline.sync_tables()
        yield pipeline
    wiring.reset()


def test_run_page_shows_the_final_state_without_reload(page: Any, live_server: Any, live_pipeline: Pipeline,
                                                       users: dict[str, str]) -> None:
    p = live_pipeline
    run = make_run(p, dataset="live-run", files=6)
    login(page, live_server.url, "operator", next_path=f"/runs/{run.run_id}/")
    expect(page.locator("#run-status .badge").first).to_have_text(re.compile("Dispatched"))
    expect(page.locator("#run-actions")).to_contain_text("Cancel run")
    expect(page.locator("#run-actions")).not_to_contain_text("Retry failed files")
    page.evaluate("window.__notReloaded = true")
    ids = file_ids(p, run.run_id)
    for file_id in ids[:4]:  # the workers finish the run: 4 preprocessed, 2 failed
        advance(p, file_id)
    for file_id in ids[4:]:
        services.file_report(p, file_id=file_id, status=FileStatus.FAILED, error={"message": "bad gzip"},
                             actor=WORKER)
    ended = time.monotonic()
    expect(page.locator("#run-status .badge").first).to_have_text(re.compile("Failed"), timeout=2 * POLL * 1000 + 1500)
    status = page.locator("#run-status")
    expect(status.locator(".counts")).to_contain_text("4")
    expect(status.locator(".progress-text")).to_contain_text("4 + 2 failed / 6")
    expect(page.locator("#run-actions")).to_contain_text("Retry failed files", timeout=2 * POLL * 1000 + 1500)
    expect(page.locator("#run-actions")).not_to_contain_text("Cancel run")
    # The files tab in view shows the final files; the failures group by error; then polling stops.
    expect(page.locator("#files tbody .badge-pending")).to_have_count(0, timeout=4 * POLL * 1000 + 1500)
    expect(page.locator("#failures")).to_contain_text("bad gzip", timeout=6 * POLL * 1000 + 1500)
    assert time.monotonic() - ended < 30
    expect(page.locator("#run-live")).not_to_have_attribute("hx-get", re.compile(".+"), timeout=6 * POLL * 1000)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url) if "/live/" in request.url else None)
    page.wait_for_timeout(3 * POLL * 1000)
    assert requests == []  # polling stopped
    assert page.evaluate("window.__notReloaded") is True
    shot(page, "run-page-live-final")


def test_runs_page_polls_once_per_interval_for_all_its_rows(page: Any, live_server: Any,
                                                            live_pipeline: Pipeline, users: dict[str, str]) -> None:
    p = live_pipeline
    runs = [make_run(p, dataset=f"many-{i:02d}", business_date="2024-06-03", files=1) for i in range(30)]
    login(page, live_server.url, "viewer", next_path="/runs/?businessDate=2024-06-03")
    expect(page.locator("input[data-live-run]")).to_have_count(30)
    polls: list[float] = []
    others: list[str] = []

    def seen(request: Any) -> None:
        if "/runs/poll/" in request.url:
            polls.append(time.monotonic())
        elif request.resource_type in ("xhr", "fetch"):
            others.append(request.url)

    page.on("request", seen)
    window = 10 * POLL
    page.wait_for_timeout(window * 1000)
    assert others == []  # no request per row
    # One request per interval (each poll is due one interval after the previous answer arrived).
    assert 3 <= len(polls) <= window / POLL + 1, polls
    assert all(b - a > POLL * 0.9 for a, b in itertools.pairwise(polls)), polls
    advance(p, file_ids(p, runs[0].run_id)[0])
    expect(page.locator(f"[id='run-{runs[0].run_id}'] .badge").first).to_have_text(
        re.compile("Success"), timeout=2 * POLL * 1000 + 1500
    )


def test_a_run_triggered_while_the_runs_page_is_open_appears_at_the_top(
    page: Any, live_server: Any, live_pipeline: Pipeline, users: dict[str, str]
) -> None:
    p = live_pipeline
    make_run(p, dataset="top-old", files=1)
    login(page, live_server.url, "operator", next_path="/runs/")
    page.evaluate("window.__notReloaded = true")
    fresh = make_run(p, dataset="top-new", files=2)
    first = page.locator("#run-rows tr.run-row").first
    expect(first).to_have_attribute("id", f"run-{fresh.run_id}", timeout=3 * POLL * 1000 + 1500)
    expect(page.locator(f"[id='run-{fresh.run_id}']")).to_have_count(1)
    assert page.evaluate("window.__notReloaded") is True
    shot(page, "runs-page-new-run-on-top", full_page=False)


def test_the_search_box_jumps_to_a_run_by_id(page: Any, live_server: Any, live_pipeline: Pipeline,
                                              users: dict[str, str]) -> None:
    run = make_run(live_pipeline, dataset="searched", files=1)
    login(page, live_server.url, "viewer", next_path="/datasets/")
    page.fill("#search-q", run.run_id)
    page.press("#search-q", "Enter")
    page.wait_for_url(f"{live_server.url}/runs/{run.run_id}/")
    expect(page.locator("h1")).to_contain_text("searched")
