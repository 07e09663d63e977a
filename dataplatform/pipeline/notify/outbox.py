"""The NotificationTable side of delivery: reads and conditional writes of its four item types.

NotificationTable (HASH `notificationId`; GSIs `deliveryState-dueAt-index` — sparse — and
`alertId-createdAt-index`) holds, all keyed by `notificationId`:

- **notification** (`itemType` absent or "notification"): the outbox item the watch writes in
  the transaction that opens/resolves an episode (`type` alert.opened | alert.resolved), or one
  this package writes (alert.reminder; the one notification after a silence). While it is
  being delivered `deliveryState` = "pending" and `dueAt` = when to look at it next; fan-out
  records `channelIds` (the channels told) then `fannedOutAt`; when every delivery is final
  `deliveryState` is REMOVEd and `outcome` (sent | failed | skipped | silenced | unrouted) set.
- **delivery** (`itemType` "delivery", id `d-<hash(notificationId, channelId)>`): one
  notification to one channel: `status` pending | sent | failed | skipped, `attemptCount`,
  `nextAttemptAt`, `attempts` (time, statusCode, durationMs, error, messageId per attempt),
  `messageId` (the webhook-id: the notification id alone, or a group id shared by the
  deliveries sent as one message; persisted before the first attempt), `messageMembers`.
- **reminder** (`itemType` "reminder", id `r-<hash(alertId, channelId)>`): the repeat schedule
  of one episode on one channel told of its opening: `deliveryState` = "remind" while it runs,
  `dueAt` = next reminder, `count` = reminders made.
- **hold** (`itemType` "hold", id `h-<hash(alertId)>`): notifications of an episode held by a
  silence: `deliveryState` = "held" while held, `dueAt` = when the silence ends, `heldSince`,
  `heldType` (what to send on release).

Every item carries `alertId` and `createdAt`, so the alert page reads its whole history with
one Query on `alertId-createdAt-index`."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..config import PipelineConfig
from ..cursor import CursorCodec
from ..dynamo import Expr, Table, deserialize, is_condition_failure, serialize, unavailable_as_domain_error
from ..errors import StoreUnavailable
from ..schema import NOTIFICATION_ALERT_INDEX, NOTIFICATION_DUE_INDEX, page_keys
from ..timeutil import format_ts

PENDING = "pending"
REMIND = "remind"
HELD = "held"
FINAL_DELIVERY = frozenset({"sent", "failed", "skipped"})


def stable_id(prefix: str, *parts: str) -> str:
    """A deterministic id: the same inputs give the same id in every sender (idempotent creates)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
    return f"{prefix}-{digest}"


def delivery_id(notification_id: str, channel_id: str) -> str:
    return stable_id("d", notification_id, channel_id)


def is_notification(item: dict[str, Any]) -> bool:
    return bool(item.get("itemType", "notification") == "notification")


class NotificationRepository:
    """Outbox, deliveries, reminder schedules and holds in NotificationTable; episodes read
    (never written) from AlertTable."""

    def __init__(self, client: Any, config: PipelineConfig, codec: CursorCodec) -> None:
        self.client = client
        self.table = Table(client, config.notification_table, codec, page_keys(config, config.notification_table))
        self.alert_table_name = config.alert_table

    def due(self, state: str, *, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Items in `state` whose dueAt has come, oldest first, following pages up to `limit`."""
        expr = Expr()
        request = {
            "IndexName": NOTIFICATION_DUE_INDEX,
            "KeyConditionExpression": (
                f"{expr.name('deliveryState')} = {expr.value(state)} AND "
                f"{expr.name('dueAt')} <= {expr.value(format_ts(now))}"
            ),
            "ScanIndexForward": True,
            **expr.kwargs(),
        }
        items: list[dict[str, Any]] = []
        for item in self.table.query_all(dict(request, Limit=min(limit, 500))):
            items.append(item)
            if len(items) >= limit:
                break
        return items

    def for_alert(self, alert_id: str) -> list[dict[str, Any]]:
        """Every item of one alert (notifications, deliveries, schedules, holds), oldest first."""
        expr = Expr()
        request = {
            "IndexName": NOTIFICATION_ALERT_INDEX,
            "KeyConditionExpression": f"{expr.name('alertId')} = {expr.value(alert_id)}",
            **expr.kwargs(),
        }
        return list(self.table.query_all(request))

    def get(self, notification_id: str) -> dict[str, Any] | None:
        return self.table.get({"notificationId": notification_id}, consistent=True)

    def get_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Strongly consistent BatchGetItem by id (100 a request, unprocessed keys retried)."""
        return _batch_get(self.client, self.table.name, "notificationId", ids)

    def episodes(self, alert_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Alert episodes by id (strongly consistent): their `state` decides repeats and releases."""
        return _batch_get(self.client, self.alert_table_name, "alertId", alert_ids)

    def put_new(self, item: dict[str, Any]) -> bool:
        """Create an item unless its id exists; False when it did (someone made it first)."""
        expr = Expr()
        try:
            self.table.call(
                "put_item",
                Item=serialize(item),
                ConditionExpression=f"attribute_not_exists({expr.name('notificationId')})",
                **expr.kwargs(),
            )
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def update(
        self,
        notification_id: str,
        *,
        expr: Expr,
        update: str,
        condition: str,
        return_new: bool = False,
    ) -> dict[str, Any] | None:
        """One conditional UpdateItem; None when the condition was refused (someone else acted)."""
        kwargs: dict[str, Any] = {"ReturnValues": "ALL_NEW"} if return_new else {}
        try:
            response = self.table.call(
                "update_item",
                Key=serialize({"notificationId": notification_id}),
                UpdateExpression=update,
                ConditionExpression=condition,
                **expr.kwargs(),
                **kwargs,
            )
        except Exception as exc:
            if is_condition_failure(exc):
                return None
            raise
        return deserialize(response["Attributes"]) if return_new else {}

    def alert_history(self, alert_id: str) -> list[dict[str, Any]]:
        """What the alert page shows: each notification (oldest first) with its deliveries and
        their attempts, plus the repeat schedules and holds of the alert."""
        items = self.for_alert(alert_id)
        deliveries: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if item.get("itemType") == "delivery":
                deliveries.setdefault(str(item.get("parentId")), []).append(item)
        history: list[dict[str, Any]] = []
        for item in items:
            if is_notification(item):
                history.append({**item, "deliveries": deliveries.get(str(item["notificationId"]), [])})
            elif item.get("itemType") in {"reminder", "hold"}:
                history.append(item)
        return history


def _batch_get(client: Any, table: str, key: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = list(dict.fromkeys(ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 100):
        keys = [serialize({key: i}) for i in wanted[start : start + 100]]
        request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(8):
            with unavailable_as_domain_error():
                response = client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(table, []):
                item = deserialize(raw)
                found[str(item[key])] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(0.05 * 2**attempt, 1.0))
        if request:
            raise StoreUnavailable(f"{table}: some items could not be read after retries.")
    return found
