"""Alert episodes: guarded open, resolve and ack; outbox items; listing by state, dataset, run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dataplatform.pipeline.alerts import Alert, AlertState
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.errors import InvalidCursor, InvalidTransition, NotFound, ValidationFailed
from dataplatform.pipeline.expectations import AlertKind
from dataplatform.pipeline.models import Environment

from .alerting import ENGINES, engine_pipeline, episodes, guards, outbox

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


@pytest.fixture(params=ENGINES)
def p(request: pytest.FixtureRequest) -> Pipeline:
    return engine_pipeline(request)


def open_alert(p: Pipeline, *, kind: AlertKind = AlertKind.MISSING, dataset: str = "prices",
               day: str = "2026-03-02", now: datetime = T0, **extra: Any) -> Alert | None:
    return p.alerts.open(kind=kind, dataset_name=dataset, environment=Environment.PROD, business_date=day,
                         now=now, summary=f"{kind.value} {dataset} {day}", **extra)


def test_open_writes_the_episode_its_guard_and_one_outbox_item(p: Pipeline) -> None:
    alert = open_alert(p, kind=AlertKind.LATE, run_id="run-1", late_minutes=12)
    assert alert is not None
    stored = p.alerts.get(alert.alert_id)
    assert (stored.state, stored.kind, stored.run_id) == (AlertState.OPEN, AlertKind.LATE, "run-1")
    assert stored.late_minutes == 12
    assert [g["episodeId"] for g in guards(p)] == [alert.alert_id]
    [note] = outbox(p)
    assert note["type"] == "alert.opened"
    assert note["deliveryState"] == "pending"
    assert note["dueAt"] == note["createdAt"]
    snapshot = ("alertId", "kind", "datasetName", "environment", "businessDate", "state", "runId")
    assert {k: note[k] for k in snapshot} == {
        "alertId": alert.alert_id, "kind": "late", "datasetName": "prices", "environment": "prod",
        "businessDate": "2026-03-02", "state": "open", "runId": "run-1",
    }
    assert note["summary"] == "late prices 2026-03-02"
    assert note["lateMinutes"] == 12


def test_a_second_open_of_the_same_key_is_refused_quietly(p: Pipeline) -> None:
    assert open_alert(p) is not None
    assert open_alert(p, now=T0 + timedelta(minutes=1)) is None
    assert len(episodes(p)) == 1
    assert len(outbox(p)) == 1


def test_other_kinds_and_dates_open_their_own_episodes(p: Pipeline) -> None:
    assert open_alert(p, kind=AlertKind.MISSING) is not None
    assert open_alert(p, kind=AlertKind.LATE) is not None
    assert open_alert(p, day="2026-03-03") is not None
    assert len(episodes(p)) == 3


def test_resolve_ends_the_episode_frees_the_key_and_records_the_notification(p: Pipeline) -> None:
    alert = open_alert(p)
    assert alert is not None
    resolved = p.alerts.resolve(alert, now=T0 + timedelta(minutes=45), resolution="Resolved: a run exists now.")
    assert resolved is not None
    stored = p.alerts.get(alert.alert_id)
    assert (stored.state, stored.open_minutes, stored.resolution) == (
        AlertState.RESOLVED, 45, "Resolved: a run exists now.",
    )
    assert guards(p) == []
    notes = outbox(p)
    assert [n["type"] for n in notes] == ["alert.opened", "alert.resolved"]
    assert notes[1]["resolvedAt"] == "2026-03-02T07:45:00.000000Z"
    assert notes[1]["openMinutes"] == 45
    assert notes[1]["summary"] == "Resolved: a run exists now."
    # The key is free again: a new episode may open later.
    assert open_alert(p, now=T0 + timedelta(hours=2)) is not None


def test_resolving_twice_resolves_once(p: Pipeline) -> None:
    alert = open_alert(p)
    assert alert is not None
    assert p.alerts.resolve(alert, now=T0, resolution="done") is not None
    assert p.alerts.resolve(alert, now=T0, resolution="done") is None
    assert [n["type"] for n in outbox(p)] == ["alert.opened", "alert.resolved"]


def test_resolve_keeps_attributes_written_by_the_sender(p: Pipeline) -> None:
    alert = open_alert(p)
    assert alert is not None
    p.client.update_item(
        TableName=p.config.alert_table, Key={"alertId": {"S": alert.alert_id}},
        UpdateExpression="SET reminderCount = :n", ExpressionAttributeValues={":n": {"N": "2"}},
    )
    p.alerts.resolve(alert, now=T0, resolution="done")
    [item] = episodes(p)
    assert item["reminderCount"] == 2
    assert item["state"] == "resolved"


def test_an_episode_whose_guard_was_lost_still_resolves(p: Pipeline) -> None:
    alert = open_alert(p)
    assert alert is not None
    p.client.delete_item(TableName=p.config.alert_table, Key={"alertId": {"S": str(alert.guard_id)}})
    assert p.alerts.resolve(alert, now=T0, resolution="done") is not None
    assert p.alerts.get(alert.alert_id).state is AlertState.RESOLVED


def test_ack_records_who_when_and_why(p: Pipeline) -> None:
    alert = open_alert(p)
    assert alert is not None
    acked = p.alerts.ack(alert.alert_id, by="ops.jane", now=T0 + timedelta(minutes=5), note="vendor delayed")
    assert (acked.state, acked.acknowledged_by) == (AlertState.ACKNOWLEDGED, "ops.jane")
    assert acked.ack_note == "vendor delayed"
    assert acked.acknowledged_at == T0 + timedelta(minutes=5)


def test_ack_twice_is_harmless(p: Pipeline) -> None:
    alert = open_alert(p)
    assert alert is not None
    p.alerts.ack(alert.alert_id, by="ops.jane", now=T0)
    again = p.alerts.ack(alert.alert_id, by="ops.li", now=T0 + timedelta(minutes=1))
    assert again.acknowledged_by == "ops.jane"


def test_an_acknowledged_episode_resolves(p: Pipeline) -> None:
    alert = open_alert(p)
    assert alert is not None
    p.alerts.ack(alert.alert_id, by="ops.jane", now=T0)
    assert p.alerts.resolve(alert, now=T0 + timedelta(minutes=1), resolution="done") is not None
    stored = p.alerts.get(alert.alert_id)
    assert (stored.state, stored.acknowledged_by) == (AlertState.RESOLVED, "ops.jane")


def test_ack_of_a_resolved_episode_is_refused(p: Pipeline) -> None:
    alert = open_alert(p)
    assert alert is not None
    p.alerts.resolve(alert, now=T0, resolution="done")
    with pytest.raises(InvalidTransition) as caught:
        p.alerts.ack(alert.alert_id, by="ops.jane", now=T0)
    assert caught.value.current == "resolved"


def test_ack_of_an_unknown_episode_is_not_found(p: Pipeline) -> None:
    with pytest.raises(NotFound):
        p.alerts.ack("nope", by="ops.jane", now=T0)
    with pytest.raises(NotFound):
        p.alerts.ack("open#prices#prod#2026-03-02#missing", by="ops.jane", now=T0)  # a guard is not an episode


def test_ack_without_a_name_or_with_a_huge_note_changes_nothing(p: Pipeline) -> None:
    alert = open_alert(p)
    assert alert is not None
    with pytest.raises(ValidationFailed):
        p.alerts.ack(alert.alert_id, by="", now=T0)
    with pytest.raises(ValidationFailed):
        p.alerts.ack(alert.alert_id, by="ops.jane", now=T0, note="x" * 5000)
    assert p.alerts.get(alert.alert_id).state is AlertState.OPEN


def test_list_by_state_is_newest_first_and_paginated(p: Pipeline) -> None:
    opened = [open_alert(p, day=f"2026-03-0{d}", now=T0 + timedelta(minutes=d)) for d in range(1, 6)]
    assert all(opened)
    first = p.alerts.list_by_state("open", limit=3)
    assert [a.business_date.day for a in first.items] == [5, 4, 3]
    assert first.cursor is not None
    second = p.alerts.list_by_state("open", limit=3, cursor=first.cursor)
    assert [a.business_date.day for a in second.items] == [2, 1]
    assert second.cursor is None
    with pytest.raises(InvalidCursor):
        p.alerts.list_by_state("resolved", cursor=first.cursor)
    with pytest.raises(ValidationFailed):
        p.alerts.list_by_state("closed")


def test_list_by_dataset_and_state(p: Pipeline) -> None:
    a = open_alert(p, dataset="prices")
    open_alert(p, dataset="rates")
    assert a is not None
    p.alerts.resolve(a, now=T0, resolution="done")
    open_alert(p, dataset="prices", kind=AlertKind.LATE, now=T0 + timedelta(minutes=1))
    assert [x.kind for x in p.alerts.list_by_dataset("prices").items] == [AlertKind.LATE, AlertKind.MISSING]
    assert [x.kind for x in p.alerts.list_by_dataset("prices", state="open").items] == [AlertKind.LATE]
    assert p.alerts.list_by_dataset("prices", environment="staging").items == []


def test_active_alerts_of_a_run(p: Pipeline) -> None:
    late = open_alert(p, kind=AlertKind.LATE, run_id="run-1")
    open_alert(p, kind=AlertKind.STUCK, run_id="run-1")
    open_alert(p, kind=AlertKind.FAILED, run_id="run-2", day="2026-03-01")
    assert late is not None
    p.alerts.resolve(late, now=T0, resolution="done")
    assert [a.kind for a in p.alerts.active_for_run("run-1")] == [AlertKind.STUCK]
    assert p.alerts.active_for_run("run-9") == []


def test_active_reads_open_and_acknowledged(p: Pipeline) -> None:
    a = open_alert(p)
    b = open_alert(p, kind=AlertKind.LATE)
    c = open_alert(p, kind=AlertKind.STUCK)
    assert a is not None
    assert b is not None
    assert c is not None
    p.alerts.ack(b.alert_id, by="ops", now=T0)
    p.alerts.resolve(c, now=T0, resolution="done")
    assert {x.alert_id for x in p.alerts.active()} == {a.alert_id, b.alert_id}


def test_heartbeat_and_snapshot_keep_the_newest_tick(p: Pipeline) -> None:
    assert p.alerts.heartbeat() is None
    assert p.alerts.write_heartbeat(T0, {"durationMs": 12.5})
    assert not p.alerts.write_heartbeat(T0 - timedelta(minutes=1), {"durationMs": 1})
    beat = p.alerts.heartbeat()
    assert beat is not None
    assert beat["lastTickAt"] == T0
    assert p.alerts.write_snapshot(T0, {"alertsOpen": [{"kind": "missing", "environment": "prod", "count": 1}]})
    snap = p.alerts.snapshot()
    assert snap is not None
    assert snap["takenAt"] == T0
    assert snap["alertsOpen"][0]["count"] == 1


def test_a_guard_left_without_a_live_episode_does_not_block_the_key(p: Pipeline) -> None:
    p.client.put_item(TableName=p.config.alert_table, Item={
        "alertId": {"S": "open#prices#prod#2026-03-02#missing"}, "episodeId": {"S": "gone"},
    })
    alert = open_alert(p)
    assert alert is not None
    assert [g["episodeId"] for g in guards(p)] == [alert.alert_id]
    assert open_alert(p) is None  # the live episode's guard does block
