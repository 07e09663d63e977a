"""Alert episodes in DynamoDB, and the notification outbox items written with them.

The contract shared with the notification sender (SPEC section 9)
==================================================================

AlertTable (env ``ALERT_TABLE_NAME``, default ``AlertTable``), HASH ``alertId`` (S). Four kinds
of item:

episode   ``alertId`` = a uuid4 hex. ``kind`` (missing | late | stuck | failed), ``datasetName``,
          ``environment``, ``businessDate``, ``state`` (open | acknowledged | resolved),
          ``openedAt``, ``updatedAt``, ``summary`` (one human sentence: what is wrong and what
          to do), ``guardId``, optional ``runId``, ``lateMinutes``; when acknowledged
          ``acknowledgedBy``, ``acknowledgedAt``, ``ackNote``; when resolved ``resolvedAt``,
          ``resolution`` (one sentence: why it ended), ``openMinutes``.
          Written once by PutItem when opened; every later change is an UpdateItem that SETs
          named attributes, so attributes added by others (the sender's reminder bookkeeping)
          are never clobbered.
guard     ``alertId`` = ``open#<dataset>#<environment>#<businessDate>#<kind>``, ``episodeId``,
          ``createdAt``. Exists exactly while that key has an active (open or acknowledged)
          episode; it has no ``state``/``openedAt``/``datasetName``/``runId``, so it is in no index.
heartbeat ``alertId`` = ``evaluator#heartbeat``: ``lastTickAt``, ``durationMs``, counts.
snapshot  ``alertId`` = ``evaluator#snapshot``: ``takenAt`` and ``data`` (JSON text) with the
          gauge values /metrics serves, and ``n#<channel kind>#<outcome>`` numbers: the
          notification attempt counters (ADD only) behind runmon_notifications_total. /metrics
          reads all of it with one GetItem.

GSIs: ``state-openedAt-index`` (HASH state, RANGE openedAt), ``datasetName-openedAt-index``
(HASH datasetName, RANGE openedAt), ``runId-openedAt-index`` (HASH runId, RANGE openedAt; only
episodes that name a run).

Opening = one TransactWriteItems: Put guard (``attribute_not_exists(alertId)``) + Put episode
+ Put outbox item. So at most one active episode per (dataset, environment, date, kind), however
many evaluators run at once, and its notification is recorded in the same step.
Resolving = one TransactWriteItems: Delete guard (condition: ``episodeId`` = this episode) +
Update episode to resolved (condition: state is open or acknowledged) + Put outbox item.
A refused condition means another evaluator did it first: not an error.

NotificationTable (env ``NOTIFICATION_TABLE_NAME``, default ``NotificationTable``), HASH
``notificationId`` (S, uuid4 hex). The outbox item this module writes: ``notificationId``,
``alertId``, ``type`` (alert.opened | alert.resolved), ``createdAt``, ``dueAt`` (= createdAt),
``deliveryState`` = ``pending``, and a snapshot of the episode: ``kind``, ``datasetName``,
``environment``, ``businessDate``, ``state``, ``openedAt``, ``resolvedAt`` (when resolved),
``summary``, ``runId`` (if any), ``lateMinutes`` / ``openMinutes`` where they apply.
GSIs: ``deliveryState-dueAt-index`` (sparse: the sender REMOVEs deliveryState when finished)
and ``alertId-createdAt-index``. Everything after the item exists belongs to the sender.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError
from pydantic import Field

from .audit import Outcome
from .config import PipelineConfig
from .cursor import CursorCodec
from .dynamo import (
    Expr,
    Page,
    Table,
    deserialize,
    error_code,
    is_condition_failure,
    serialize,
    unavailable_as_domain_error,
)
from .errors import InvalidTransition, NotFound, PipelineError, StoreUnavailable, ValidationFailed
from .expectations import AlertKind, parse_environment
from .models import BusinessDate, DatasetName, Environment, UtcTimestamp, _Item
from .schema import ALERT_DATASET_INDEX, ALERT_RUN_INDEX, ALERT_STATE_INDEX, page_keys
from .timeutil import format_ts, parse_ts, utc_now

if TYPE_CHECKING:
    from .app import Pipeline
    from .services import Actor

HEARTBEAT_ID = "evaluator#heartbeat"
SNAPSHOT_ID = "evaluator#snapshot"
# Attributes of the snapshot item counting notification attempts: n#<channel kind>#<outcome>.
COUNTER_PREFIX = "n#"
MAX_NOTE_LENGTH = 1000
# TransactionConflict: another transaction touches the same item right now; retry briefly.
TRANSACTION_ATTEMPTS = 6


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


ACTIVE_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED)


class NotificationType(StrEnum):
    OPENED = "alert.opened"
    RESOLVED = "alert.resolved"


def guard_id(dataset_name: str, environment: str, business_date: str, kind: str) -> str:
    """The guard item's key for one (dataset, environment, date, kind)."""
    return f"open#{dataset_name}#{environment}#{business_date}#{kind}"


class Alert(_Item):
    """One alert episode (tolerant on read: attributes added by others are ignored)."""

    item_kind: ClassVar[str] = "Alert"
    item_key: ClassVar[str] = "alertId"

    alert_id: str = Field(alias="alertId", min_length=1)
    kind: AlertKind
    dataset_name: DatasetName = Field(alias="datasetName")
    environment: Environment
    business_date: BusinessDate = Field(alias="businessDate")
    state: AlertState
    opened_at: UtcTimestamp = Field(alias="openedAt")
    updated_at: UtcTimestamp | None = Field(alias="updatedAt", default=None)
    summary: str = ""
    guard_id: str | None = Field(alias="guardId", default=None)
    run_id: str | None = Field(alias="runId", default=None)
    late_minutes: int | None = Field(alias="lateMinutes", default=None)
    acknowledged_by: str | None = Field(alias="acknowledgedBy", default=None)
    acknowledged_at: UtcTimestamp | None = Field(alias="acknowledgedAt", default=None)
    ack_note: str | None = Field(alias="ackNote", default=None)
    resolved_at: UtcTimestamp | None = Field(alias="resolvedAt", default=None)
    resolution: str | None = None
    open_minutes: int | None = Field(alias="openMinutes", default=None)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.dataset_name, self.environment.value, self.business_date.isoformat(), self.kind.value)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def minutes_open(self, now: datetime) -> int:
        end = self.resolved_at or now
        return max(0, int((end - self.opened_at).total_seconds() // 60))


def outbox_item(alert: Alert, kind: NotificationType, now: datetime) -> dict[str, Any]:
    """The NotificationTable item announcing `alert` (see the module docstring)."""
    created = format_ts(now)
    item: dict[str, Any] = {
        "notificationId": uuid.uuid4().hex,
        "alertId": alert.alert_id,
        "type": kind.value,
        "createdAt": created,
        "dueAt": created,
        "deliveryState": "pending",
        "kind": alert.kind.value,
        "datasetName": alert.dataset_name,
        "environment": alert.environment.value,
        "businessDate": alert.business_date.isoformat(),
        "state": alert.state.value,
        "openedAt": format_ts(alert.opened_at),
        "summary": alert.summary if kind is NotificationType.OPENED else (alert.resolution or alert.summary),
        "runId": alert.run_id,
        "lateMinutes": alert.late_minutes,
    }
    if kind is NotificationType.RESOLVED:
        item["resolvedAt"] = format_ts(alert.resolved_at or now)
        item["openMinutes"] = alert.minutes_open(now)
    return item


def _cancellation_codes(exc: ClientError) -> list[str]:
    reasons = exc.response.get("CancellationReasons") or []
    codes = [str(r.get("Code") or "None") for r in reasons]
    if not codes:
        # Some engines only name the reasons in the message: "... [ConditionalCheckFailed, None]".
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if "[" in message:
            codes = [c.strip() for c in message[message.rindex("[") + 1 :].rstrip("]").split(",")]
    return codes


class AlertRepository:
    """Episodes, guards and the evaluator's heartbeat/snapshot in AlertTable; the outbox
    items in NotificationTable are written in the same transactions."""

    def __init__(self, client: Any, config: PipelineConfig, codec: CursorCodec) -> None:
        self.client = client
        self.table = Table(client, config.alert_table, codec, page_keys(config, config.alert_table))
        self.notification_table = config.notification_table

    # --- writes ------------------------------------------------------------------------

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """Run one TransactWriteItems; False when a condition refused it (someone else got there
        first), retrying transaction conflicts; everything else propagates."""
        token = uuid.uuid4().hex  # the same token on our own retries makes them idempotent
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                with unavailable_as_domain_error():
                    self.client.transact_write_items(TransactItems=items, ClientRequestToken=token)
                return True
            except ClientError as exc:
                code = error_code(exc)
                if code == "TransactionInProgressException" or (
                    code == "TransactionCanceledException" and "TransactionConflict" in _cancellation_codes(exc)
                ):
                    time.sleep(0.02 * 2**attempt)
                    continue
                if code == "TransactionCanceledException" and "ConditionalCheckFailed" in _cancellation_codes(exc):
                    return False
                raise
        raise StoreUnavailable("The alert could not be written: other writers kept conflicting; try again.")

    def open(
        self,
        *,
        kind: AlertKind,
        dataset_name: str,
        environment: Environment,
        business_date: str,
        now: datetime,
        summary: str,
        run_id: str | None = None,
        late_minutes: int | None = None,
    ) -> Alert | None:
        """Open an episode and record its `alert.opened` notification in one transaction.
        None when an active episode already exists for that key (the guard refused)."""
        guard = guard_id(dataset_name, environment.value, business_date, kind.value)
        alert = Alert.model_validate(
            {
                "alertId": uuid.uuid4().hex, "kind": kind, "datasetName": dataset_name, "environment": environment,
                "businessDate": business_date, "state": AlertState.OPEN, "openedAt": now, "updatedAt": now,
                "summary": summary, "guardId": guard, "runId": run_id, "lateMinutes": late_minutes,
            }
        )
        absent = Expr()
        guard_item = {"alertId": guard, "episodeId": alert.alert_id, "createdAt": format_ts(now)}
        items = [
            {"Put": {"TableName": self.table.name, "Item": serialize(guard_item),
                     "ConditionExpression": f"attribute_not_exists({absent.name('alertId')})", **absent.kwargs()}},
            {"Put": {"TableName": self.table.name, "Item": serialize(alert.to_item()),
                     "ConditionExpression": f"attribute_not_exists({absent.name('alertId')})", **absent.kwargs()}},
            {"Put": {"TableName": self.notification_table,
                     "Item": serialize(outbox_item(alert, NotificationType.OPENED, now))}},
        ]
        if self._transact(items):
            return alert
        if self._clear_orphan_guard(guard):
            return alert if self._transact(items) else None
        return None

    def _clear_orphan_guard(self, guard: str) -> bool:
        """Delete a guard whose episode is gone or no longer active (left by a hand edit or a
        foreign writer), so a stale guard never blocks a key forever. True when one was removed."""
        item = self.table.get({"alertId": guard}, consistent=True)
        if item is None:
            return False
        episode_id = str(item.get("episodeId", ""))
        episode = self.table.get({"alertId": episode_id}, consistent=True) if episode_id else None
        if episode is not None and episode.get("state") in {s.value for s in ACTIVE_STATES}:
            return False  # a live episode holds the key: the refusal stands
        expr = Expr()
        same = (
            f"{expr.name('episodeId')} = {expr.value(episode_id)}" if episode_id
            else f"attribute_not_exists({expr.name('episodeId')})"
        )
        try:
            self.table.call(
                "delete_item", Key=serialize({"alertId": guard}), ConditionExpression=same, **expr.kwargs(),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False  # replaced meanwhile by a live episode's guard
            raise
        return True

    def resolve(self, alert: Alert, *, now: datetime, resolution: str) -> Alert | None:
        """Resolve an active episode, delete its guard and record its `alert.resolved`
        notification in one transaction. None when it was no longer active (someone else
        resolved it first)."""
        resolved = alert.model_copy(
            update={"state": AlertState.RESOLVED, "resolved_at": now, "updated_at": now, "resolution": resolution}
        )
        resolved = resolved.model_copy(update={"open_minutes": resolved.minutes_open(now)})
        update = Expr()
        expression = update.update(
            {"state": AlertState.RESOLVED.value, "resolvedAt": now, "updatedAt": now,
             "resolution": resolution, "openMinutes": resolved.open_minutes}
        )
        condition = update.one_of("state", [s.value for s in ACTIVE_STATES])
        episode = {"Update": {"TableName": self.table.name, "Key": serialize({"alertId": alert.alert_id}),
                              "UpdateExpression": expression, "ConditionExpression": condition, **update.kwargs()}}
        outbox = {"Put": {"TableName": self.notification_table,
                          "Item": serialize(outbox_item(resolved, NotificationType.RESOLVED, now))}}
        guard_key = alert.guard_id or guard_id(*alert.key)
        names = Expr()
        guard = {"Delete": {"TableName": self.table.name, "Key": serialize({"alertId": guard_key}),
                            "ConditionExpression": f"{names.name('episodeId')} = {names.value(alert.alert_id)}",
                            **names.kwargs()}}
        if self._transact([guard, episode, outbox]):
            return resolved
        current = self.table.get({"alertId": alert.alert_id}, consistent=True)
        if current is None or current.get("state") not in {s.value for s in ACTIVE_STATES}:
            return None
        # Still active but its guard is gone or names another episode (damaged by hand): resolve
        # it anyway, so a broken guard never keeps an episode open forever.
        return resolved if self._transact([episode, outbox]) else None

    def ack(self, alert_id: str, *, by: str, now: datetime, note: str | None = None) -> Alert:
        """open -> acknowledged with who, when and an optional note (conditional). Repeating an
        ack is harmless (returns the episode); a resolved episode is InvalidTransition."""
        if not by or not isinstance(by, str):
            raise ValidationFailed("Say who acknowledges the alert.", fields={"by": "required"})
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH):
            raise ValidationFailed(
                f"The note must be text of at most {MAX_NOTE_LENGTH} characters.", fields={"note": "too long"}
            )
        expr = Expr()
        values: dict[str, Any] = {"state": AlertState.ACKNOWLEDGED.value, "acknowledgedBy": by,
                                  "acknowledgedAt": now, "updatedAt": now, "ackNote": note or None}
        expression = expr.update(values)
        condition = (
            f"attribute_exists({expr.name('alertId')}) AND {expr.name('state')} = {expr.value(AlertState.OPEN.value)}"
        )
        try:
            response = self.table.call(
                "update_item", Key=serialize({"alertId": alert_id}), UpdateExpression=expression,
                ConditionExpression=condition, ReturnValues="ALL_NEW", **expr.kwargs(),
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            current = self.get(alert_id, consistent=True)
            if current.state is AlertState.ACKNOWLEDGED:
                return current
            raise InvalidTransition(
                f"Alert {alert_id!r} is {current.state.value}; only an open alert can be acknowledged.",
                current=current.state.value, target=AlertState.ACKNOWLEDGED.value,
            ) from exc
        return Alert.from_item(deserialize(response["Attributes"]))

    # --- reads -------------------------------------------------------------------------

    def get(self, alert_id: str, *, consistent: bool = False) -> Alert:
        """One episode; NotFound when absent (guard and evaluator items are not episodes)."""
        item = self.table.get({"alertId": alert_id}, consistent=consistent) if alert_id else None
        if item is None or "state" not in item:
            raise NotFound(f"Alert {alert_id!r} does not exist.")
        return Alert.from_item(item)

    def list_by_state(
        self,
        state: AlertState | str,
        *,
        kind: AlertKind | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Alert]:
        """Episodes in one state, newest opened first (state-openedAt-index), optionally of
        one kind (a filter: pages follow LastEvaluatedKey until full)."""
        value = _state(state)
        wanted_kind = _kind(kind) if kind is not None else None
        expr = Expr()
        request: dict[str, Any] = {
            "IndexName": ALERT_STATE_INDEX,
            "KeyConditionExpression": f"{expr.name('state')} = {expr.value(value.value)}",
            "ScanIndexForward": False,
        }
        if wanted_kind is not None:
            request["FilterExpression"] = f"{expr.name('kind')} = {expr.value(wanted_kind.value)}"
        request.update(expr.kwargs())
        params = {"state": value.value, "alertKind": wanted_kind}
        return self.table.query_page(
            kind="alerts-by-state", params=params, request=request, limit=limit, cursor=cursor,
            load=Alert.from_item,
        )

    def active(self) -> list[Alert]:
        """Every open and acknowledged episode (two Queries, every page)."""
        out: list[Alert] = []
        for state in ACTIVE_STATES:
            expr = Expr()
            request = {
                "IndexName": ALERT_STATE_INDEX,
                "KeyConditionExpression": f"{expr.name('state')} = {expr.value(state.value)}",
                **expr.kwargs(),
            }
            out.extend(Alert.from_item(item) for item in self.table.query_all(request))
        return out

    def list_by_dataset(
        self,
        dataset_name: str,
        *,
        state: AlertState | str | None = None,
        environment: Environment | str | None = None,
        kind: AlertKind | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Alert]:
        """Episodes of one dataset, newest opened first (datasetName-openedAt-index),
        optionally only one state, environment and/or kind."""
        wanted = _state(state) if state is not None else None
        wanted_kind = _kind(kind) if kind is not None else None
        env = parse_environment(environment)
        expr = Expr()
        request: dict[str, Any] = {
            "IndexName": ALERT_DATASET_INDEX,
            "KeyConditionExpression": f"{expr.name('datasetName')} = {expr.value(dataset_name)}",
            "ScanIndexForward": False,
        }
        filters = []
        if wanted is not None:
            filters.append(f"{expr.name('state')} = {expr.value(wanted.value)}")
        if env is not None:
            filters.append(f"{expr.name('environment')} = {expr.value(env.value)}")
        if wanted_kind is not None:
            filters.append(f"{expr.name('kind')} = {expr.value(wanted_kind.value)}")
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        request.update(expr.kwargs())
        params = {"dataset": dataset_name, "state": wanted, "env": env, "alertKind": wanted_kind}
        return self.table.query_page(
            kind="alerts-by-dataset", params=params, request=request, limit=limit, cursor=cursor, load=Alert.from_item
        )

    def active_for_run(self, run_id: str) -> list[Alert]:
        """The open and acknowledged episodes that name `run_id` (runId-openedAt-index; a run
        has at most a few episodes, so every page is read)."""
        expr = Expr()
        request = {
            "IndexName": ALERT_RUN_INDEX,
            "KeyConditionExpression": f"{expr.name('runId')} = {expr.value(run_id)}",
            "FilterExpression": expr.one_of("state", [s.value for s in ACTIVE_STATES]),
            "ScanIndexForward": False,
            **expr.kwargs(),
        }
        return [Alert.from_item(item) for item in self.table.query_all(request)]

    # --- evaluator bookkeeping --------------------------------------------------------

    def _put_newer(self, alert_id: str, stamp_name: str, now: datetime, values: dict[str, Any]) -> bool:
        """Write an evaluator item unless a newer tick already wrote it (False then)."""
        expr = Expr()
        condition = (
            f"attribute_not_exists({expr.name('alertId')}) OR {expr.name(stamp_name)} <= {expr.value(format_ts(now))}"
        )
        item = {"alertId": alert_id, stamp_name: format_ts(now), **values}
        try:
            self.table.call("put_item", Item=serialize(item), ConditionExpression=condition, **expr.kwargs())
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def write_heartbeat(self, now: datetime, values: dict[str, Any]) -> bool:
        """The evaluator's heartbeat for the tick evaluated as of `now`."""
        return self._put_newer(HEARTBEAT_ID, "lastTickAt", now, values)

    def heartbeat(self) -> dict[str, Any] | None:
        """The last heartbeat (``lastTickAt`` parsed to an aware datetime), or None."""
        item = self.table.get({"alertId": HEARTBEAT_ID})
        if item is None:
            return None
        try:
            item["lastTickAt"] = parse_ts(str(item["lastTickAt"]))
        except (KeyError, ValueError):
            return None
        return item

    def write_snapshot(self, now: datetime, data: dict[str, Any]) -> bool:
        """The gauge values of the tick evaluated as of `now` (JSON text in one item), unless a
        tick of a later instant already wrote them. An UpdateItem that SETs only ``takenAt``
        and ``data``, so the notification counters kept on the same item survive."""
        expr = Expr()
        stamp = format_ts(now)
        condition = f"attribute_not_exists({expr.name('takenAt')}) OR {expr.name('takenAt')} <= {expr.value(stamp)}"
        update = f"SET {expr.name('takenAt')} = {expr.value(stamp)}, {expr.name('data')} = " \
                 f"{expr.value(json.dumps(data, sort_keys=True))}"
        try:
            self.table.call(
                "update_item", Key=serialize({"alertId": SNAPSHOT_ID}), UpdateExpression=update,
                ConditionExpression=condition, **expr.kwargs(),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def add_notification_counts(self, outcomes: Mapping[tuple[str, str], int]) -> None:
        """Add a sender tick's attempt outcomes per (channel kind, outcome) to the counters
        behind ``runmon_notifications_total`` (one UpdateItem with ADD: atomic, so any number
        of senders count into the same item; counters only grow)."""
        counts = {
            f"{COUNTER_PREFIX}{kind}#{outcome}": int(n)
            for (kind, outcome), n in sorted(outcomes.items())
            if n > 0 and _is_label(kind) and _is_label(outcome)
        }
        if not counts:
            return
        expr = Expr()
        self.table.call(
            "update_item", Key=serialize({"alertId": SNAPSHOT_ID}), UpdateExpression=expr.update(add_values=counts),
            **expr.kwargs(),
        )

    def snapshot(self) -> dict[str, Any] | None:
        """The last metrics snapshot, or None when none was ever written (one GetItem): the
        gauge data with ``takenAt`` (absent when only counters exist yet) and
        ``notifications``, the counters as ``[{"channelKind", "outcome", "count"}]``."""
        item = self.table.get({"alertId": SNAPSHOT_ID})
        if item is None:
            return None
        out: dict[str, Any] = {}
        try:
            data = json.loads(str(item["data"])) if "data" in item else {}
            if isinstance(data, dict):
                out.update(data)
            if "takenAt" in item:
                out["takenAt"] = parse_ts(str(item["takenAt"]))
        except ValueError:
            out = {}  # unreadable gauges (a hand edit): served as absent, the counters still count
        notifications = []
        for name, value in sorted(item.items()):
            if not name.startswith(COUNTER_PREFIX):
                continue
            kind, _, outcome = name.removeprefix(COUNTER_PREFIX).partition("#")
            if kind and outcome and isinstance(value, int | float | Decimal):
                notifications.append({"channelKind": kind, "outcome": outcome, "count": int(value)})
        out["notifications"] = notifications
        return out


def _is_label(value: str) -> bool:
    # Counter names come from channel kinds and outcomes: short words, never user text.
    return bool(value) and len(value) <= 32 and value.replace("_", "").isalnum()


def _kind(value: AlertKind | str) -> AlertKind:
    try:
        return AlertKind(value)
    except ValueError as exc:
        allowed = ", ".join(k.value for k in AlertKind)
        raise ValidationFailed(
            f"kind must be one of {allowed}.", fields={"kind": f"{value!r} is not one of {allowed}"}
        ) from exc


def _state(value: AlertState | str) -> AlertState:
    try:
        return AlertState(value)
    except ValueError as exc:
        allowed = ", ".join(s.value for s in AlertState)
        raise ValidationFailed(
            f"state must be one of {allowed}.", fields={"state": f"{value!r} is not one of {allowed}"}
        ) from exc


def alert_ack(p: Pipeline, *, alert_id: str, note: str | None, actor: Actor, now: datetime | None = None) -> Alert:
    """Acknowledge an episode for `actor` (repeats stop; the episode stays active until its
    condition clears). One audit record per call, allowed or refused (unknown alert,
    resolved alert, invalid note); an ack of an acknowledged episode is allowed and changes
    nothing (``noop``)."""
    moment = now or utc_now()
    target = f"alert#{alert_id}"
    try:
        before = p.alerts.get(alert_id, consistent=True)
        alert = p.alerts.ack(alert_id, by=actor.name, now=moment, note=note)
    except PipelineError as exc:
        _audit_ack(p, actor, target, alert_id, "refused", error=exc, note=note)
        raise
    noop = before.state is AlertState.ACKNOWLEDGED
    _audit_ack(p, actor, target, alert_id, "allowed", note=note, detail={
        "noop": noop, "kind": alert.kind.value, "datasetName": alert.dataset_name,
        "environment": alert.environment.value, "businessDate": alert.business_date.isoformat(),
        "runId": alert.run_id,
    })
    return alert


def _audit_ack(
    p: Pipeline, actor: Actor, target: str, alert_id: str, outcome: Outcome, *, note: str | None,
    error: PipelineError | None = None, detail: dict[str, Any] | None = None,
) -> None:
    info = dict(detail or {})
    if error is not None:
        info.update({"error": error.code, "message": error.message})
    reason = note if isinstance(note, str) and note else (error.message if error is not None else None)
    try:
        p.audit.record(
            target_id=target, actor=actor.name, action="ack", target=f"alert:{alert_id}", outcome=outcome,
            reason=reason, detail=info, request_id=actor.request_id,
        )
    except (PipelineError, ClientError):
        # The ack stands (or stays refused); its log line went out before the write failed.
        logging.getLogger("dataplatform.audit").exception("audit record of ack on %s could not be stored", alert_id)
