"""Alert pages with the Django test client: the attention page (order, actions, one poll), the
alert list and detail, ack without JavaScript, and the open-alerts box on run and dataset pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from dataplatform.pipeline.alerts import Alert
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import DatasetConfig
from dataplatform.pipeline.expectations import AlertKind
from dataplatform.pipeline.models import Environment
from dataplatform.pipeline.states import RunStatus
from tests.alerts.conftest import DATASET, at, tick, trigger
from tests.web.page_fixtures import htmx

pytestmark = [pytest.mark.django_db, pytest.mark.ddb_local]


def _open(p: Pipeline, kind: AlertKind, minute: int, *, day: str = "2026-03-02", run_id: str | None = None,
          dataset: str = DATASET) -> Alert:
    alert = p.alerts.open(kind=kind, dataset_name=dataset, environment=Environment.STAGING, business_date=day,
                          now=at("07:00") + timedelta(minutes=minute), summary=f"{kind.value} summary", run_id=run_id)
    assert alert is not None
    return alert


def _row_ids(html: str) -> list[str]:
    """The alert ids of the table rows, in page order."""
    return [chunk.split('"', 1)[0] for chunk in html.split('<tr id="alert-')[1:]]


def test_attention_page_orders_by_severity_then_newest(pipeline: Pipeline, viewer_client: Client) -> None:
    late = _open(pipeline, AlertKind.LATE, 9, run_id="r-late")
    stuck = _open(pipeline, AlertKind.STUCK, 8, run_id="r-stuck")
    old_missing = _open(pipeline, AlertKind.MISSING, 1, day="2026-03-01")
    new_missing = _open(pipeline, AlertKind.MISSING, 5)
    failed = _open(pipeline, AlertKind.FAILED, 2, day="2026-02-27", run_id="r-failed")
    html = viewer_client.get("/").content.decode()
    assert _row_ids(html) == [a.alert_id for a in (failed, new_missing, old_missing, stuck, late)]
    assert "Acknowledge" not in html  # viewers get no actions
    assert 'data-poll' in html
    assert 'hx-get="/"' in html


def test_operators_get_retry_redispatch_and_ack_actions(pipeline: Pipeline, operator_client: Client) -> None:
    failed = _open(pipeline, AlertKind.FAILED, 1, run_id="r-failed")
    _open(pipeline, AlertKind.STUCK, 2, run_id="r-stuck", dataset="other")
    _open(pipeline, AlertKind.MISSING, 3)
    html = operator_client.get("/").content.decode()
    assert 'action="/runs/r-failed/retry/"' in html
    assert 'action="/runs/r-stuck/redispatch/"' in html
    assert 'action="/runs/r-failed/redispatch/"' not in html  # re-dispatch is for stuck runs
    assert 'action="/runs/r-stuck/retry/"' not in html
    assert html.count("Open run</a>") == 2
    assert f'href="/datasets/{DATASET}/?environment=staging">Open dataset</a>' in html  # no run behind it
    assert html.count('class="ack"') == 3
    assert f'action="/alerts/{failed.alert_id}/ack/"' in html
    assert html.count("hx-trigger=") == 1  # the actions add no poll: still one per interval


def test_viewers_see_the_alerts_without_any_action(pipeline: Pipeline, viewer_client: Client) -> None:
    _open(pipeline, AlertKind.FAILED, 1, run_id="r-failed")
    _open(pipeline, AlertKind.STUCK, 2, run_id="r-stuck", dataset="other")
    html = viewer_client.get("/").content.decode()
    assert "failed summary" in html
    assert "stuck summary" in html
    assert 'class="alert-actions"' not in html
    for action in ("/retry/", "/redispatch/", "/ack/"):
        assert action not in html
    assert 'href="/runs/r-stuck/"' in html  # the run column still links the run


def test_a_stuck_run_is_redispatched_from_the_attention_page(
    pipeline: Pipeline, dataset: DatasetConfig, operator_client: Client
) -> None:
    with time_machine.travel(at("06:10"), tick=False):
        run = trigger(pipeline)
    with time_machine.travel(at("07:15"), tick=False):
        (stuck,) = tick(pipeline, "07:15").opened
        assert (stuck.kind, stuck.run_id) == (AlertKind.STUCK, run.run_id)
        html = operator_client.get("/").content.decode()
        action = f"/runs/{run.run_id}/redispatch/"
        assert f'action="{action}"' in html
        preview = operator_client.post(action)  # step 1, as the page's button posts it: a count to confirm
        assert preview.status_code == 200
        assert "Confirm: re-dispatch 2 files" in preview.content.decode()
        assert pipeline.dispatcher.drain() == []  # type: ignore[attr-defined]
        done = operator_client.post(action, {"confirm": "yes"})
        assert done.status_code == 302
        assert done["Location"] == f"/runs/{run.run_id}/"
    sent = pipeline.dispatcher.drain()  # type: ignore[attr-defined]
    assert sorted(m.run_id for m in sent) == [run.run_id, run.run_id]
    assert pipeline.runs.get(run.run_id).updated_at == at("07:15")  # a re-dispatch is progress
    with time_machine.travel(at("07:20"), tick=False):
        assert [a.alert_id for a in tick(pipeline, "07:20").resolved] == [stuck.alert_id]


def test_a_stuck_alerts_page_offers_redispatch_while_its_run_is_in_flight(
    pipeline: Pipeline, dataset: DatasetConfig, operator_client: Client
) -> None:
    run = trigger(pipeline)
    stuck = _open(pipeline, AlertKind.STUCK, 1, run_id=run.run_id)
    html = operator_client.get(f"/alerts/{stuck.alert_id}/").content.decode()
    assert f'action="/runs/{run.run_id}/redispatch/"' in html
    pipeline.runs.transition(run.run_id, RunStatus.CANCELLED)
    html = operator_client.get(f"/alerts/{stuck.alert_id}/").content.decode()
    assert "/redispatch/" not in html  # a cancelled run has nothing to re-dispatch


def test_the_poll_gets_only_the_attention_partial(pipeline: Pipeline, viewer_client: Client) -> None:
    _open(pipeline, AlertKind.MISSING, 1)
    response = viewer_client.get("/", **htmx("attention"))
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="attention"')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_todays_expectations_come_from_the_last_tick(
    pipeline: Pipeline, dataset: DatasetConfig, viewer_client: Client
) -> None:
    assert "has not run yet" in viewer_client.get("/").content.decode()
    tick(pipeline, "07:00")
    html = viewer_client.get("/").content.decode()
    assert f'data-expectation="{DATASET}"' in html
    assert "badge-missing" in html
    assert "2026-03-02" in html


def test_runs_in_flight_are_listed_without_per_row_polling(
    pipeline: Pipeline, dataset: DatasetConfig, viewer_client: Client
) -> None:
    run = trigger(pipeline)
    html = viewer_client.get("/").content.decode()
    assert f'href="/runs/{run.run_id}/"' in html
    assert html.count("data-poll") == 1  # one poll for the whole page


def test_anonymous_users_are_sent_to_login(pipeline: Pipeline, client: Client) -> None:
    assert client.get("/").status_code == 302
    assert client.get("/", **htmx("attention"))["HX-Redirect"].startswith("/accounts/login/")


def test_alert_list_filters_and_pages(pipeline: Pipeline, viewer_client: Client) -> None:
    for minute in range(3):
        _open(pipeline, AlertKind.MISSING, minute, day=f"2026-02-2{minute}")
    _open(pipeline, AlertKind.FAILED, 9, run_id="r-1", dataset="fx-rates")
    html = viewer_client.get("/alerts/?kind=failed").content.decode()
    assert "fx-rates" in html
    assert f">{DATASET}<" not in html
    html = viewer_client.get(f"/alerts/?datasetName={DATASET}").content.decode()
    assert html.count('class="alert-row"') == 3
    assert viewer_client.get("/alerts/?state=bogus").status_code == 200  # the form says what is wrong
    from dataplatform.alerts import views

    views.ALERTS_PAGE_SIZE, saved = 2, views.ALERTS_PAGE_SIZE
    try:
        first = viewer_client.get(f"/alerts/?datasetName={DATASET}").content.decode()
        assert first.count('class="alert-row"') == 2
        more = first.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        rest = viewer_client.get(more, **htmx("alerts-more")).content.decode()
    finally:
        views.ALERTS_PAGE_SIZE = saved
    assert rest.count('class="alert-row"') == 1
    assert "<html" not in rest


def test_alert_detail_and_unknown_ids(pipeline: Pipeline, dataset: DatasetConfig, viewer_client: Client) -> None:
    (opened,) = tick(pipeline, "07:00").opened
    html = viewer_client.get(f"/alerts/{opened.alert_id}/").content.decode()
    assert opened.summary in html
    assert "Notifications" in html
    assert "No channel subscribes" in html or "Not sent yet" in html
    assert viewer_client.get(f"/alerts/{'0' * 32}/").status_code == 404
    assert viewer_client.get("/alerts/open%23x/").status_code == 404


def test_ack_without_javascript_then_back_to_the_page(
    pipeline: Pipeline, dataset: DatasetConfig, operator_client: Client
) -> None:
    (opened,) = tick(pipeline, "07:00").opened
    url = f"/alerts/{opened.alert_id}/ack/"
    unconfirmed = operator_client.post(url, {"note": "x", "next": "/"})
    assert unconfirmed.status_code == 302
    assert pipeline.alerts.get(opened.alert_id).state == "open"
    done = operator_client.post(url, {"note": "calling the vendor", "confirm": "yes", "next": "/"}, follow=True)
    assert done.redirect_chain[-1][0] == "/"
    assert "Acknowledged the missing alert" in done.content.decode()
    alert = pipeline.alerts.get(opened.alert_id)
    assert (alert.state, alert.acknowledged_by, alert.ack_note) == ("acknowledged", "op", "calling the vendor")
    # An outside `next` is ignored: back to the alert's page.
    elsewhere = operator_client.post(url, {"confirm": "yes", "next": "https://evil.example/"})
    assert elsewhere["Location"] == f"/alerts/{opened.alert_id}/"


def test_viewers_cannot_ack(pipeline: Pipeline, dataset: DatasetConfig, viewer_client: Client) -> None:
    (opened,) = tick(pipeline, "07:00").opened
    response = viewer_client.post(f"/alerts/{opened.alert_id}/ack/", {"confirm": "yes"})
    assert response.status_code == 403
    assert pipeline.alerts.get(opened.alert_id).state == "open"


def test_run_and_dataset_pages_show_their_open_alerts(
    pipeline: Pipeline, dataset: DatasetConfig, viewer_client: Client
) -> None:
    run = trigger(pipeline)
    failed = _open(pipeline, AlertKind.FAILED, 1, run_id=run.run_id)
    run_html = viewer_client.get(f"/runs/{run.run_id}/").content.decode()
    assert 'id="open-alerts"' in run_html
    assert f"/alerts/{failed.alert_id}/" in run_html
    dataset_html = viewer_client.get(f"/datasets/{DATASET}/").content.decode()
    assert f"/alerts/{failed.alert_id}/" in dataset_html
    pipeline.alerts.resolve(failed, now=at("08:00"), resolution="test")
    assert 'id="open-alerts"' not in viewer_client.get(f"/runs/{run.run_id}/").content.decode()


def test_the_nav_links_the_attention_and_alert_pages(pipeline: Pipeline, viewer_client: Client) -> None:
    html: Any = viewer_client.get("/runs/").content.decode()
    assert 'href="/">Attention' in html
    assert 'href="/alerts/"' in html


def test_attention_page_heads_the_age_column_opened_as_its_cells_read(
    pipeline: Pipeline, viewer_client: Client
) -> None:
    _open(pipeline, AlertKind.LATE, 9, run_id="r-late")
    html = viewer_client.get("/").content.decode()
    head = html.split('class="table alerts-table"')[1].split("</thead>")[0]
    assert '<th scope="col">Opened</th>' in head  # the cells say "14 min ago": "Open for 14 min ago" read wrong
    assert "Open for" not in head
