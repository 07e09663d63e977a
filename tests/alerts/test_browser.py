"""The attention page in Debian's Chromium (Playwright): an alert appears without a reload when a
tick opens it, an operator acknowledges it from the page, and it leaves when it resolves."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.evaluator import evaluate
from dataplatform.pipeline.timeutil import utc_now
from tests.alerts.conftest import DATASET, report_all, scheduled_dataset, trigger
from tests.browser.conftest import login, shot, users
from tests.conftest import CHROMIUM

__all__ = ["users"]

pytestmark = [
    pytest.mark.ddb_local,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


def test_an_alert_appears_is_acknowledged_and_leaves_without_a_reload(
    page: Any, live_server: Any, users: dict[str, str], pipeline: Pipeline, settings: Any
) -> None:
    settings.ATTENTION_POLL_SECONDS = 2
    today = utc_now().date()
    start = datetime.combine(today, time(0, 0), tzinfo=utc_now().tzinfo)
    # Expected by 00:00 today: overdue for the whole day; registered today (no history).
    scheduled_dataset(pipeline, expectedBy="00:00", startGraceMinutes=0, dueBy="00:01", dueGraceMinutes=0,
                      stuckAfterMinutes=None, registered=start)
    login(page, live_server.url, "operator", next_path="/")
    page.wait_for_selector("[data-no-alerts]")
    marker = page.evaluate("() => { window.__noReload = true; return window.__noReload; }")
    assert marker is True

    evaluate(pipeline)  # the tick opens "missing" for today
    row = page.wait_for_selector('tr.alert-row[data-kind="missing"]', timeout=15_000)
    assert DATASET in row.inner_text()
    assert page.evaluate("() => window.__noReload") is True  # it came by the poll, not a reload
    shot(page, "attention-open-alert")

    page.click("details.ack summary")
    page.fill("details.ack textarea[name=note]", "vendor feed delayed, on it")
    page.click("details.ack button[type=submit]")
    page.wait_for_selector('tr.alert-row[data-state="acknowledged"]')
    assert "Acknowledged the missing alert" in page.inner_text(".messages")
    (alert,) = pipeline.alerts.active()
    assert (alert.state, alert.acknowledged_by, alert.ack_note) == ("acknowledged", "operator",
                                                                    "vendor feed delayed, on it")

    page.evaluate("() => { window.__noReload = true; }")
    run = trigger(pipeline, DATASET, today.isoformat())
    report_all(pipeline, run.run_id, "preprocessed")
    evaluate(pipeline)  # the run succeeded: the tick resolves the episode
    page.wait_for_selector("tr.alert-row", state="detached", timeout=15_000)
    page.wait_for_selector("[data-no-alerts]")
    assert page.evaluate("() => window.__noReload") is True
    shot(page, "attention-resolved")
