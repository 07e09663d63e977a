"""The dashboard in Chromium: what an on-call operator (and a viewer) actually does."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.demo import DemoLoadResult
from dataplatform.pipeline.engine import DynamoDBLocal, free_port
from dataplatform.pipeline.models import Run
from dataplatform.pipeline.states import FileStatus, RunStatus
from dataplatform.web import wiring
from tests.browser.conftest import login, shot
from tests.conftest import unique_config
from tests.web.factories import advance, file_ids, make_run

pytestmark = [pytest.mark.browser, pytest.mark.ddb_local]

Demo = tuple[Pipeline, DemoLoadResult]


def _failed_run(p: Pipeline, dataset: str = "equities-eod") -> Run:
    """A failed demo run that still has failed files (retry candidates)."""
    for run in p.runs.by_status(RunStatus.FAILED, dataset_name=dataset, limit=50).items:
        if run.failed_files and run.resolved_files <= 20:
            return run
    raise AssertionError(f"the demo data has no small failed run of {dataset}")


def _in_flight_run(p: Pipeline) -> Run:
    for status in (RunStatus.PROCESSING, RunStatus.DISPATCHED):
        for run in p.runs.by_status(status, limit=50).items:
            if run.resolved_files <= 20:
                return run
    raise AssertionError("the demo data has no small in-flight run")


def test_operator_filters_opens_a_failed_run_and_retries_it(page: Any, live_server: Any, demo: Demo,
                                                            users: dict[str, str]) -> None:
    p, _ = demo
    base = live_server.url
    failed = _failed_run(p)
    day = failed.business_date.isoformat()
    login(page, base, "operator")
    expect(page.locator("#results")).to_be_visible()
    expect(page.locator(".runs-table tbody tr").first).to_be_visible()
    shot(page, "runs-page")

    page.fill("input[name=datasetName]", failed.dataset_name)
    page.fill("input[name=businessDate]", day)
    page.click("button:has-text('Filter')")
    page.wait_for_url(re.compile(rf".*datasetName={failed.dataset_name}.*businessDate={day}.*"))
    row = page.locator(f"[id='run-{failed.run_id}']")
    expect(row).to_be_visible()
    expect(row.locator(".badge")).to_have_text(re.compile("Failed"))
    for other in page.locator(".runs-table tbody tr.run-row .col-date").all_inner_texts():
        assert other.strip() == day
    shot(page, "runs-page-filtered")

    row.locator("a.strong").click()
    page.wait_for_url(f"{base}/runs/{failed.run_id}/")
    expect(page.locator("#run-status .badge").first).to_have_text(re.compile("Failed"))
    shot(page, "run-page-failed")

    page.click("text=Retry failed files…")
    confirm = page.locator(".confirm-box")
    expect(confirm).to_contain_text(f"Retry {failed.failed_files} failed file")
    shot(page, "run-page-retry-confirm", full_page=False)
    assert len(file_ids(p, failed.run_id, FileStatus.FAILED)) == failed.failed_files  # dry run only

    page.evaluate("window.__notReloaded = true")
    confirm.locator("button[type=submit]").click()
    expect(page.locator("#run-actions .notice")).to_contain_text(f"Retrying {failed.failed_files} failed file")
    expect(page.locator("#run-status .badge").first).to_have_text(re.compile("Processing"))
    # The live poll refreshes the files tab in view (failed: none left) and the audit trail.
    expect(page.locator("#files tbody .badge-failed")).to_have_count(0)
    expect(page.locator("#events")).to_contain_text("retry")
    page.click("#files .tabs a.tab-all")
    expect(page.locator("#files tbody .badge-pending").first).to_be_visible()
    assert page.evaluate("window.__notReloaded") is True
    assert file_ids(p, failed.run_id, FileStatus.FAILED) == []
    shot(page, "run-page-after-retry")

    file_id = file_ids(p, failed.run_id, FileStatus.PENDING)[0]
    page.goto(f"{base}/files/{file_id}/")
    expect(page.locator("#file-summary .badge").first).to_have_text(re.compile("Pending"))
    shot(page, "file-page")


def test_operator_retries_one_file_from_the_file_page(page: Any, live_server: Any, demo: Demo,
                                                      users: dict[str, str]) -> None:
    p, _ = demo
    run = make_run(p, dataset="file-retry", files=2, done=1, failed=1,
                   error={"message": "Source returned 404 Not Found", "stage": "fetch", "httpStatus": 404})
    failed_id = file_ids(p, run.run_id, FileStatus.FAILED)[0]
    login(page, live_server.url, "operator", next_path=f"/files/{failed_id}/")
    expect(page.locator(".error-box")).to_contain_text("Source returned 404 Not Found")
    expect(page.locator("a:has-text('Open in AWS console')")).to_have_attribute(
        "href", re.compile(r"^https://console\.aws\.amazon\.com/s3/object/bucket-file-retry\?prefix=")
    )
    shot(page, "file-page-failed")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Retry this file')")
    expect(page.locator("#file-summary .badge").first).to_have_text(re.compile("Pending"))
    expect(page.locator("#file-summary .notice")).to_contain_text("dispatched")
    assert p.files.get(failed_id).status is FileStatus.PENDING


def test_operator_cancels_an_in_flight_run_with_a_reason(page: Any, live_server: Any, demo: Demo,
                                                         users: dict[str, str]) -> None:
    p, _ = demo
    run = _in_flight_run(p)
    login(page, live_server.url, "operator", next_path=f"/runs/{run.run_id}/")
    page.click("summary:has-text('Cancel run')")
    page.fill("#cancel-reason", "vendor resent the files; superseded by a rerun")
    shot(page, "run-page-cancel-confirm", full_page=False)
    page.click("button:has-text('Confirm: cancel this run')")
    expect(page.locator("#run-status .badge").first).to_have_text(re.compile("Cancelled"))
    expect(page.locator("#events")).to_contain_text("cancel")
    expect(page.locator("#events")).to_contain_text("vendor resent the files; superseded by a rerun")
    expect(page.locator("#events")).to_contain_text("operator")
    assert p.runs.get(run.run_id).status is RunStatus.CANCELLED
    shot(page, "run-page-cancelled")


def test_viewer_sees_no_actions_and_a_forged_post_changes_nothing(page: Any, live_server: Any, demo: Demo,
                                                                  users: dict[str, str]) -> None:
    p, _ = demo
    run = make_run(p, dataset="viewer-check", files=3, done=1, failed=2)
    before = p.runs.get(run.run_id, consistent=True)
    login(page, live_server.url, "viewer", next_path=f"/runs/{run.run_id}/")
    expect(page.locator("#run-status")).to_be_visible()
    expect(page.locator("text=Retry failed files")).to_have_count(0)
    expect(page.locator("text=Cancel run")).to_have_count(0)
    expect(page.locator("#run-actions")).to_have_count(0)
    shot(page, "run-page-viewer")
    statuses = page.evaluate(
        """async (runId) => {
            const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken'];
            const post = async (url, body) => (await fetch(url, {method: 'POST', body,
                headers: {'X-CSRFToken': token, 'Content-Type': 'application/x-www-form-urlencoded'}})).status;
            return [await post(`/runs/${runId}/retry/`, 'confirm=yes'),
                    await post(`/runs/${runId}/cancel/`, 'reason=forged')];
        }""",
        run.run_id,
    )
    assert statuses == [403, 403]
    after = p.runs.get(run.run_id, consistent=True)
    assert (after.status, after.failed_files, after.cancel_reason) == (before.status, before.failed_files, None)
    assert len(file_ids(p, run.run_id, FileStatus.FAILED)) == 2


XSS = {
    "script": "<script>window.__xss = 'script'</script>",
    "img": "<img src=x onerror=\"window.__xss = 'img'\">",
    "svg": "\"><svg onload=\"window.__xss = 'svg'\">",
    "link": "javascript:window.__xss = 'link'",
}


def test_stored_xss_payloads_are_inert(page: Any, live_server: Any, demo: Demo, users: dict[str, str]) -> None:
    p, _ = demo
    payload = " ".join(XSS.values())
    run = make_run(
        p, dataset="xss-check", files=2, done=1, failed=1,
        error={"message": payload, "stage": "verify", "href": XSS["link"]},
        metadata={"note": payload, "link": XSS["link"], XSS["svg"]: XSS["img"]},
        source_trigger={"job": payload, "callback": XSS["link"]},
    )
    failed_id = file_ids(p, run.run_id, FileStatus.FAILED)[0]
    login(page, live_server.url, "operator", next_path="/runs/?datasetName=xss-check")
    for path in ("/runs/?datasetName=xss-check", f"/runs/{run.run_id}/", f"/files/{failed_id}/"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")  # lazy sections (exact counts, audit) are in too
        for link in page.locator("a").all():
            assert not (link.get_attribute("href") or "").lower().startswith("javascript:")
        assert page.evaluate("typeof window.__xss") == "undefined", path
        assert page.locator("svg[onload], img[onerror], script:not([src])").count() == 0, path
    # The payloads are shown as text, so the operator can read them.
    expect(page.locator(".error-box pre")).to_contain_text("<script>window.__xss = 'script'</script>")
    page.goto(f"{live_server.url}/runs/{run.run_id}/")
    expect(page.locator(".json-grid")).to_contain_text("<img src=x onerror=")
    expect(page.locator(".json-grid")).to_contain_text("javascript:window.__xss")
    page.click("#files .tabs a.tab-failed")  # htmx swaps the files table with the payload in it
    page.wait_for_url(re.compile(r".*fileStatus=failed$"))
    expect(page.locator("#files tbody tr")).to_have_count(1)
    expect(page.locator("#files td.err")).to_contain_text("<svg onload=")
    assert page.evaluate("typeof window.__xss") == "undefined"
    shot(page, "run-page-xss")


def test_progress_of_an_in_flight_run_advances_without_reload(page: Any, live_server: Any, demo: Demo,
                                                              users: dict[str, str]) -> None:
    p, _ = demo
    run = make_run(p, dataset="live-progress", files=4)
    ids = file_ids(p, run.run_id)
    login(page, live_server.url, "operator", next_path="/runs/?datasetName=live-progress")
    row = page.locator(f"[id='run-{run.run_id}']")
    expect(row.locator(".progress-text")).to_contain_text("0 / 4")
    page.evaluate("window.__notReloaded = true")
    stop = threading.Event()

    def worker() -> None:  # plays the preprocessor workers, one file at a time
        for file_id in ids:
            if stop.wait(1.5):
                return
            advance(p, file_id)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        seen = set()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            text = row.locator(".progress-text").inner_text()
            seen.add(re.sub(r"\s+", " ", text))
            if "4 / 4" in text:
                break
            time.sleep(0.5)
        assert any("4 / 4" in t for t in seen), seen
        assert len(seen) >= 3, seen  # it moved in steps, on its own
        expect(row.locator(".badge")).to_have_text(re.compile("Success"), timeout=10_000)
        expect(row.locator("input[data-live-run]")).to_have_count(0)  # no longer covered by the page's poll
        assert page.evaluate("window.__notReloaded") is True
    finally:
        stop.set()
        thread.join(timeout=10)


def test_store_down_shows_the_banner_and_recovers(page: Any, live_server: Any, users: dict[str, str],
                                                  tmp_path: Path) -> None:
    engine = DynamoDBLocal(port=free_port(), path=tmp_path / "data", log=tmp_path / "engine.log").start()
    config = unique_config(endpoint_url=engine.endpoint_url, max_attempts=1, connect_timeout=1.0, read_timeout=2.0)
    try:
        with override_settings(PIPELINE_CONFIG=config):
            wiring.reset()
            p = wiring.get_pipeline()
            p.sync_tables()
            run = make_run(p, dataset="outage", files=3, done=1)
            login(page, live_server.url, "operator", next_path=f"/runs/{run.run_id}/")
            expect(page.locator("#run-status .live")).to_be_visible()

            engine.stop()
            # The live status poll now gets a 503: the banner says so, the page stays.
            banner = page.locator("#error-banner")
            expect(banner).to_be_visible(timeout=20_000)
            expect(banner).to_contain_text("data store")
            shot(page, "store-down-banner", full_page=False)
            page.reload()
            expect(page.locator(".banner-error:visible").first).to_contain_text("data store")
            expect(page.locator("h1")).to_have_text("Data store unavailable")
            shot(page, "store-down-page")

            engine = DynamoDBLocal(port=engine.port, path=tmp_path / "data", log=tmp_path / "engine.log").start()
            # A freshly started JVM may still miss the test's 2 s read timeout on its first reads:
            # the page recovers as soon as the engine answers (reload as a person would).
            deadline = time.monotonic() + 45
            while True:
                page.reload()
                if page.locator("#run-status .badge").count() or time.monotonic() > deadline:
                    break
                page.wait_for_timeout(1_000)
            expect(page.locator("#run-status .badge").first).to_have_text(re.compile("Processing"))
            expect(page.locator("#error-banner")).to_be_hidden()
    finally:
        engine.stop()
        wiring.reset()


def test_datasets_and_calendar_pages(page: Any, live_server: Any, demo: Demo, users: dict[str, str]) -> None:
    _, result = demo
    page.goto(f"{live_server.url}/datasets/")  # anonymous: sent to the login page
    page.wait_for_url(re.compile(r".*/accounts/login/\?next=/datasets/$"))
    shot(page, "login-page", full_page=False)
    login(page, live_server.url, "viewer", next_path="/datasets/")
    expect(page.locator("table")).to_contain_text("equities-eod")
    shot(page, "datasets-page")
    page.click("a.strong:has-text('bond-prices')")
    page.wait_for_url(re.compile(r".*/datasets/bond-prices/$"))
    expect(page.locator(".calendar")).to_be_visible()
    missing_days = [d for name, d in result.missing if name == "bond-prices"]
    if missing_days and (page.evaluate("Date.now()") / 1000 - time.mktime(missing_days[-1].timetuple())) < 29 * 86400:
        expect(page.locator(".day-missing").first).to_contain_text("Missing")
    shot(page, "dataset-calendar")
    page.locator(".day-met a, .day-met_late a").first.click()  # a day whose expectation was met
    page.wait_for_url(re.compile(r".*/runs/\?datasetName=bond-prices&businessDate=\d{4}-\d\d-\d\d&environment=\w+$"))
    expect(page.locator(".runs-table tbody .badge").first).to_be_visible()


# The innermost elements that reach past the viewport's right edge (tag#id.class and right edge).
WIDEST = """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 2
  && ![...e.children].some(c => c.getBoundingClientRect().right > innerWidth + 2))
  .slice(0, 8).map(e => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""


def test_phone_width_and_dark_mode(browser: Any, live_server: Any, demo: Demo, users: dict[str, str]) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark", device_scale_factor=2)
    try:
        page = context.new_page()
        login(page, live_server.url, "operator")
        expect(page.locator(".runs-table")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 392, f"the page scrolls sideways at phone width ({width}px)"
        shot(page, "runs-page-phone-dark", full_page=False)
        run = _failed_run(demo[0], dataset="bond-prices")
        page.goto(f"{live_server.url}/runs/{run.run_id}/")
        expect(page.locator("#run-status")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 392, (f"the run page scrolls sideways at phone width ({width}px)", page.evaluate(WIDEST))
        shot(page, "run-page-phone-dark", full_page=False)
    finally:
        context.close()


def test_polling_pauses_while_the_tab_is_hidden(page: Any, live_server: Any, demo: Demo,
                                                users: dict[str, str]) -> None:
    p, _ = demo
    run = make_run(p, dataset="hidden-tab", files=2)
    login(page, live_server.url, "operator", next_path="/runs/?datasetName=hidden-tab")
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/runs/poll/" in request.url else None)
    expect(page.locator(f"[id='run-{run.run_id}'] input[data-live-run]")).to_have_count(1)
    expect(page.locator("#runs-live")).to_have_attribute("hx-trigger", re.compile("every 1s"))
    page.evaluate("""() => {
        window.__hidden = true;
        Object.defineProperty(document, 'visibilityState',
            {configurable: true, get: () => window.__hidden ? 'hidden' : 'visible'});
    }""")
    page.wait_for_timeout(3_500)
    assert polls == []  # polls were due, none was sent
    page.evaluate("() => { window.__hidden = false; document.dispatchEvent(new Event('visibilitychange')); }")
    page.wait_for_timeout(1_000)
    assert len(polls) >= 1  # refreshed at once when shown again


def test_pages_raise_no_csp_violations_or_script_errors(page: Any, live_server: Any, demo: Demo,
                                                        users: dict[str, str]) -> None:
    p, _ = demo
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    run = _failed_run(p, dataset="bond-prices")
    login(page, live_server.url, "operator")
    for path in ("/runs/", f"/runs/{run.run_id}/", "/datasets/", "/datasets/bond-prices/"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("load")
    page.goto(f"{live_server.url}/runs/{run.run_id}/")
    page.click("text=Retry failed files…")
    expect(page.locator(".confirm-box")).to_be_visible()
    assert problems == []
