"""`deliver_notifications`: one sender tick. At least once, never two senders at once per
channel, grouped per channel, retried with backoff, repeated until acknowledged, held by
silences. Any number of senders may run the same tick concurrently; every step is a
conditional write on a deterministic id, so they converge on one result.

A tick, in order:
1. **Reminders**: due repeat schedules (`deliveryState` = remind). An episode still `open` gets
   one `alert.reminder` notification per channel (id from alert, channel and reminder number:
   created once however many senders), then the schedule advances (conditional on its count).
   An acknowledged, resolved or vanished episode ends the schedule: ack stops repeats.
2. **Holds**: due holds (`deliveryState` = held). When no silence holds the episode any more
   and it is still open, ONE notification goes out (alert.opened if the opening was held, else
   alert.reminder to the channels that heard the opening); then the hold ends.
3. **Fan-out** of due pending notifications (bounded per tick): the channels are decided once
   (`channelIds`, conditional), then one delivery per channel is created (`attribute_not_exists`).
   alert.opened goes to the enabled channels whose subscriptions match; a reminder to its
   channel; alert.resolved to every channel that was told of the opening (subscribed or not any
   more). An opening or reminder that a silence holds is recorded `silenced` and a hold is set.
4. **Send**, per channel under a lease (conditional `leaseUntil < now` on the channel): due
   deliveries that already have a message id are retried as that message (same webhook-id);
   fresh ones form one message (a group id when several, the notification id when alone),
   persisted on the deliveries BEFORE the first attempt. Every attempt is appended to its
   deliveries. 2xx: sent. 404/410 (or Slack's invalid_token & co.): failed, and the channel is
   disabled with the reason. Otherwise retried after 1, 2, 4 … minutes until max attempts.
5. **Settle**: a notification whose deliveries are all final loses `deliveryState` and gets its
   outcome; otherwise its `dueAt` moves to its next retry.

A process killed anywhere leaves a state the next tick completes: an un-fanned notification is
still pending; a delivery recorded but not sent is still pending and its channel lease expires."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..dynamo import Expr
from ..errors import InvalidTransition, NotFound
from ..timeutil import format_ts, parse_ts, utc_now
from .channels import Channel
from .models import OPENED, REMINDER, RESOLVED
from .outbox import FINAL_DELIVERY, HELD, PENDING, REMIND, delivery_id, is_notification, stable_id
from .payloads import SNAPSHOT_FIELDS, AlertSnapshot, render
from .settings import NotifySettings
from .silences import Silence, silenced_until
from .transports import AttemptOutcome, SmtpSender, Transports

if TYPE_CHECKING:
    from ..app import Pipeline

logger = logging.getLogger("dataplatform.notify")
SENDER = "notifier"
DEFER = timedelta(minutes=1)


@dataclass
class DeliveryResult:
    """What one tick did (for the evaluator's tick result, logs and metrics)."""

    sent: int = 0  # messages delivered
    failed: int = 0  # attempts that failed
    retried: int = 0  # deliveries rescheduled after a failed attempt
    given_up: int = 0  # deliveries that ended failed
    skipped: int = 0  # deliveries ended because their channel is disabled or gone
    silenced: int = 0  # notifications held by a silence
    reminders: int = 0  # reminder notifications created
    released: int = 0  # notifications created because a silence ended
    finished: int = 0  # notifications that reached their final outcome
    busy_channels: int = 0  # channels another sender was sending to
    disabled_channels: list[str] = field(default_factory=list)
    # (channel kind, outcome) -> count, for runmon_notifications_total.
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "outcomes"}
        data["outcomes"] = {f"{k}:{o}": n for (k, o), n in sorted(self.outcomes.items())}
        return data


def deliver_notifications(
    pipeline: Pipeline,
    now: datetime | None = None,
    *,
    settings: NotifySettings | None = None,
    transports: Transports | None = None,
) -> DeliveryResult:
    """One sender tick (see the module docstring); fits the evaluator's `deliver(pipeline, now)`
    hook. `now` defaults to the wall clock; settings from the environment; transports: urllib
    for HTTP and `SmtpSender` from EMAIL_* (the Django side passes its email backend instead)."""
    settings = settings or NotifySettings.from_env()
    transports = transports or Transports(timeout=settings.attempt_timeout, email_sender=SmtpSender.from_env())
    return Notifier(pipeline, settings, transports).tick(now or utc_now())


def _snapshot_of(episode: dict[str, Any], base: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The episode as it is now, over an older snapshot (the episode's own values win)."""
    snap = {k: base[k] for k in SNAPSHOT_FIELDS if base.get(k) is not None}
    snap.update({k: episode[k] for k in SNAPSHOT_FIELDS if episode.get(k) is not None})
    if snap.get("openedAt"):
        snap["openMinutes"] = round((now - parse_ts(str(snap["openedAt"]))).total_seconds() / 60, 1)
    return snap


class Notifier:
    """One sender: the steps of a tick over the pipeline's repositories."""

    def __init__(self, pipeline: Pipeline, settings: NotifySettings, transports: Transports) -> None:
        self.p = pipeline
        self.store = pipeline.notifications
        self.settings = settings
        self.transports = transports
        self.owner = uuid.uuid4().hex
        self.result = DeliveryResult()
        self.channels: dict[str, Channel] = {}
        self.silences: list[Silence] = []

    def tick(self, now: datetime) -> DeliveryResult:
        self.channels = {c.channel_id: c for c in self.p.channels.all()}
        self.silences = self.p.silences.all()
        self.reminders(now)
        self.holds(now)
        pending = self.store.due(PENDING, now=now, limit=self.settings.batch_size)
        pending = [n for n in pending if is_notification(n)]
        ready: list[dict[str, Any]] = []
        for notification in sorted(pending, key=lambda n: (str(n.get("createdAt")), str(n["notificationId"]))):
            fanned = self.fan_out(notification, now)
            if fanned is not None:
                ready.append(fanned)
        deliveries = self.store.get_many(
            delivery_id(str(n["notificationId"]), c) for n in ready for c in n.get("channelIds", [])
        )
        self.send(deliveries, now)
        for notification in ready:
            self.settle(notification, now)
        logger.info("notify tick %s", self.result.as_dict())
        return self.result

    # 1. Reminders -------------------------------------------------------------------------
    def reminders(self, now: datetime) -> None:
        schedules = self.store.due(REMIND, now=now, limit=self.settings.batch_size)
        episodes = self.store.episodes(str(s["alertId"]) for s in schedules)
        for schedule in schedules:
            episode = episodes.get(str(schedule["alertId"]))
            channel = self.channels.get(str(schedule.get("channelId")))
            count = int(schedule.get("count", 0))
            if episode is None or episode.get("state") != "open":
                self._end_schedule(schedule, str(episode.get("state") if episode else "gone"))
                continue
            if channel is None or not channel.enabled or not channel.repeat_minutes:
                self._end_schedule(schedule, "channel_gone" if channel is None else "channel_off")
                continue
            nid = stable_id("n", str(schedule["alertId"]), "reminder", channel.channel_id, str(count + 1))
            created = self.store.put_new(
                {
                    **_snapshot_of(episode, schedule, now),
                    "notificationId": nid,
                    "itemType": "notification",
                    "type": REMINDER,
                    "alertId": schedule["alertId"],
                    "createdAt": format_ts(now),
                    "dueAt": format_ts(now),
                    "deliveryState": PENDING,
                    "targetChannelId": channel.channel_id,
                    "reminderCount": count + 1,
                }
            )
            self.result.reminders += int(created)
            delay = channel.repeat_minutes[min(count + 1, len(channel.repeat_minutes) - 1)]
            expr = Expr()
            following = format_ts(now + timedelta(minutes=delay))
            update = expr.update(set_values={"count": count + 1, "dueAt": following, "lastReminderId": nid})
            self.store.update(
                str(schedule["notificationId"]),
                expr=expr,
                update=update,
                condition=f"{expr.name('count')} = {expr.value(count)}",
            )

    def _end_schedule(self, schedule: dict[str, Any], reason: str) -> None:
        expr = Expr()
        update = expr.update(set_values={"endReason": reason}, remove=["deliveryState"])
        condition = f"{expr.name('count')} = {expr.value(int(schedule.get('count', 0)))}"
        self.store.update(str(schedule["notificationId"]), expr=expr, update=update, condition=condition)

    # 2. Holds -----------------------------------------------------------------------------
    def _held(self, item: dict[str, Any], now: datetime) -> tuple[datetime, str] | None:
        return silenced_until(
            self.silences,
            dataset_name=item.get("datasetName"),
            environment=item.get("environment"),
            kind=item.get("kind"),
            at=now,
        )

    def holds(self, now: datetime) -> None:
        holds = self.store.due(HELD, now=now, limit=self.settings.batch_size)
        episodes = self.store.episodes(str(h["alertId"]) for h in holds)
        for hold in holds:
            since = str(hold["heldSince"])
            episode = episodes.get(str(hold["alertId"]))
            expr = Expr()
            condition = f"{expr.name('heldSince')} = {expr.value(since)}"
            if episode is None or episode.get("state") != "open":
                state = str(episode.get("state")) if episode else "gone"
                update = expr.update(set_values={"endReason": state}, remove=["deliveryState"])
                self.store.update(str(hold["notificationId"]), expr=expr, update=update, condition=condition)
                continue
            held = self._held(episode, now)
            if held is not None:
                update = expr.update(set_values={"dueAt": format_ts(held[0]), "silencedBy": held[1]})
                self.store.update(str(hold["notificationId"]), expr=expr, update=update, condition=condition)
                continue
            nid = stable_id("n", str(hold["alertId"]), "release", since)
            created = self.store.put_new(
                {
                    **_snapshot_of(episode, hold, now),
                    "notificationId": nid,
                    "itemType": "notification",
                    "type": hold.get("heldType", OPENED),
                    "alertId": hold["alertId"],
                    "createdAt": format_ts(now),
                    "dueAt": format_ts(now),
                    "deliveryState": PENDING,
                    "releasedFrom": hold["notificationId"],
                }
            )
            self.result.released += int(created)
            update = expr.update(set_values={"endReason": "released", "releasedAs": nid}, remove=["deliveryState"])
            self.store.update(str(hold["notificationId"]), expr=expr, update=update, condition=condition)

    def _hold(self, notification: dict[str, Any], until: datetime, silence_id: str, now: datetime) -> None:
        """Hold an episode's notifications (the first held type is what the release sends)."""
        alert_id = str(notification["alertId"])
        expr = Expr()
        values = {k: notification[k] for k in SNAPSHOT_FIELDS if notification.get(k) is not None}
        values.update(
            {
                "itemType": "hold",
                "deliveryState": HELD,
                "dueAt": format_ts(until),
                "heldSince": format_ts(now),
                "heldType": OPENED if notification.get("type") == OPENED else REMINDER,
                "silencedBy": silence_id,
                "createdAt": format_ts(now),
            }
        )
        update = expr.update(set_values=values)
        condition = f"attribute_not_exists({expr.name('deliveryState')})"
        self.store.update(stable_id("h", alert_id), expr=expr, update=update, condition=condition)

    # 3. Fan-out ---------------------------------------------------------------------------
    def _told_channels(self, alert_id: str) -> list[str] | None:
        """Channels told of the opening (a released opening counts); None while an opening of
        this alert still waits for its fan-out (the resolution must not overtake it)."""
        openings = [
            i for i in self.store.for_alert(alert_id)
            if is_notification(i) and i.get("type") == OPENED
        ]
        current = self.store.get_many(str(i["notificationId"]) for i in openings)
        told: list[str] = []
        for item in current.values():
            if "channelIds" not in item and item.get("deliveryState") == PENDING:
                return None
            told += [c for c in item.get("channelIds", []) if c not in told]
        return told

    def _targets(self, notification: dict[str, Any]) -> list[str] | None:
        kind = notification.get("type")
        enabled = {cid for cid, c in self.channels.items() if c.enabled}
        if kind == RESOLVED or (kind == REMINDER and not notification.get("targetChannelId")):
            told = self._told_channels(str(notification["alertId"]))
            return None if told is None else [c for c in told if c in enabled]
        if kind == REMINDER:
            target = str(notification["targetChannelId"])
            return [target] if target in enabled else []
        return [
            c.channel_id
            for c in self.channels.values()
            if c.enabled
            and c.subscribed(
                dataset_name=notification.get("datasetName"),
                environment=notification.get("environment"),
                kind=notification.get("kind"),
            )
        ]

    def fan_out(self, notification: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        """Decide the channels once, create the deliveries; the notification when it has some
        to send, None when it ended (silenced, unrouted) or must wait."""
        nid = str(notification["notificationId"])
        if "channelIds" not in notification:
            held = self._held(notification, now) if notification.get("type") in {OPENED, REMINDER} else None
            targets = [] if held else self._targets(notification)
            if targets is None:
                self._reschedule(nid, now + DEFER)
                return None
            # The decision is written once (conditional): a stale copy from the index never
            # decides again, so a notification another sender already told is never held.
            expr = Expr()
            decided = self.store.update(
                nid,
                expr=expr,
                update=expr.update(
                    set_values={"channelIds": targets, "silencedBy": held[1] if held else None}
                ),
                condition=(
                    f"attribute_not_exists({expr.name('channelIds')}) AND "
                    f"{expr.name('deliveryState')} = {expr.value(PENDING)}"
                ),
                return_new=True,
            )
            notification = decided if decided is not None else (self.store.get(nid) or notification)
            if notification.get("deliveryState") != PENDING or "channelIds" not in notification:
                return None
        if notification.get("silencedBy"):
            # Held (also completes a sender that died between the decision and the hold).
            held = self._held(notification, now)
            until = held[0] if held else now
            self._hold(notification, until, str(notification["silencedBy"]), now)
            self.result.silenced += 1
            self._finish(nid, "silenced", now)
            return None
        channel_ids = [str(c) for c in notification.get("channelIds", [])]
        if "fannedOutAt" not in notification:
            for channel_id in channel_ids:
                self._create_delivery(notification, channel_id, now)
            if notification.get("type") == OPENED:
                for channel_id in channel_ids:
                    self._start_schedule(notification, channel_id, now)
            expr = Expr()
            fanned = expr.name("fannedOutAt")
            self.store.update(
                nid,
                expr=expr,
                update=f"SET {fanned} = if_not_exists({fanned}, {expr.value(format_ts(now))})",
                condition=f"attribute_exists({expr.name('notificationId')})",
            )
        if not channel_ids:
            self._finish(nid, "unrouted", now)
            return None
        return notification

    def _create_delivery(self, notification: dict[str, Any], channel_id: str, now: datetime) -> None:
        channel = self.channels.get(channel_id)
        snapshot = {k: notification[k] for k in SNAPSHOT_FIELDS if notification.get(k) is not None}
        self.store.put_new(
            {
                **snapshot,
                "notificationId": delivery_id(str(notification["notificationId"]), channel_id),
                "itemType": "delivery",
                "parentId": notification["notificationId"],
                "type": notification["type"],
                "eventAt": notification.get("createdAt") or format_ts(now),
                "alertId": notification["alertId"],
                "channelId": channel_id,
                "channelKind": channel.kind if channel else None,
                "channelName": channel.name if channel else None,
                "createdAt": format_ts(now),
                "status": "pending",
                "attemptCount": 0,
                "nextAttemptAt": format_ts(now),
            }
        )

    def _start_schedule(self, notification: dict[str, Any], channel_id: str, now: datetime) -> None:
        channel = self.channels.get(channel_id)
        if channel is None or not channel.repeat_minutes:
            return
        snapshot = {k: notification[k] for k in SNAPSHOT_FIELDS if notification.get(k) is not None}
        self.store.put_new(
            {
                **snapshot,
                "notificationId": stable_id("r", str(notification["alertId"]), channel_id),
                "itemType": "reminder",
                "alertId": notification["alertId"],
                "channelId": channel_id,
                "createdAt": format_ts(now),
                "deliveryState": REMIND,
                "dueAt": format_ts(now + timedelta(minutes=channel.repeat_minutes[0])),
                "count": 0,
            }
        )

    # 4. Send ------------------------------------------------------------------------------
    def send(self, deliveries: dict[str, dict[str, Any]], now: datetime) -> None:
        by_channel: dict[str, list[dict[str, Any]]] = {}
        for d in deliveries.values():
            if d.get("status") == "pending" and str(d.get("nextAttemptAt", "")) <= format_ts(now):
                by_channel.setdefault(str(d["channelId"]), []).append(d)
        for channel_id, items in sorted(by_channel.items()):
            channel = self.channels.get(channel_id)
            if channel is None or not channel.enabled:
                self._skip(items, now, "channel deleted" if channel is None else "channel disabled")
                continue
            if not self.p.channels.acquire_lease(
                channel_id, owner=self.owner, now=now, seconds=self.settings.lease_seconds
            ):
                self.result.busy_channels += 1
                continue
            try:
                self._send_channel(channel_id, [str(d["notificationId"]) for d in items], now)
            finally:
                self.p.channels.release_lease(channel_id, owner=self.owner)

    def _send_channel(self, channel_id: str, ids: list[str], now: datetime) -> None:
        try:
            channel = self.p.channels.get(channel_id)
        except NotFound:
            channel = None
        # Re-read under the lease: another sender may have finished some of them meanwhile.
        current = self.store.get_many(ids)
        due = [
            d for d in current.values()
            if d.get("status") == "pending" and str(d.get("nextAttemptAt", "")) <= format_ts(now)
        ]
        if channel is None or not channel.enabled:
            self._skip(due, now, "channel deleted" if channel is None else "channel disabled")
            return
        for members in self._messages(due, now):
            outcome = self._attempt(channel, members, now)
            if outcome.permanent:
                self._disable(channel, outcome, now)
                sent = {m["notificationId"] for m in members}
                rest = self.store.get_many(str(d["notificationId"]) for d in due if d["notificationId"] not in sent)
                self._skip(rest.values(), now, "channel disabled")
                return

    def _messages(self, due: list[dict[str, Any]], now: datetime) -> list[list[dict[str, Any]]]:
        """Retries keep their message; fresh deliveries form new ones, ids persisted first."""
        messages: dict[str, list[dict[str, Any]]] = {}
        fresh: list[dict[str, Any]] = []
        for d in sorted(due, key=lambda d: (str(d.get("eventAt")), str(d["notificationId"]))):
            if d.get("messageId"):
                messages.setdefault(str(d["messageId"]), []).append(d)
            else:
                fresh.append(d)
        for message_id, members in list(messages.items()):
            # A message is retried whole: members not due in this read are fetched by id.
            wanted = [str(m) for m in members[0].get("messageMembers", [])]
            missing = [m for m in wanted if m not in {str(d["notificationId"]) for d in members}]
            extra = self.store.get_many(missing).values() if missing else []
            messages[message_id] = members + [
                d for d in extra if d.get("status") == "pending" and d.get("messageId") == message_id
            ]
        size = self.settings.max_group_size
        for start in range(0, len(fresh), size):
            chunk = fresh[start : start + size]
            message_id = str(chunk[0]["parentId"]) if len(chunk) == 1 else f"msg_{uuid.uuid4().hex}"
            member_ids = [str(d["notificationId"]) for d in chunk]
            assigned = []
            for d in chunk:
                expr = Expr()
                update = expr.update(
                    set_values={"messageId": message_id, "messageAt": format_ts(now), "messageMembers": member_ids}
                )
                condition = (
                    f"attribute_not_exists({expr.name('messageId')}) AND "
                    f"{expr.name('status')} = {expr.value('pending')}"
                )
                new = self.store.update(
                    str(d["notificationId"]), expr=expr, update=update, condition=condition, return_new=True
                )
                if new is not None:
                    assigned.append(new)
            if assigned:
                messages[message_id] = assigned
        return list(messages.values())

    def _attempt(self, channel: Channel, members: list[dict[str, Any]], now: datetime) -> AttemptOutcome:
        message_id = str(members[0]["messageId"])
        at = parse_ts(str(members[0].get("messageAt") or format_ts(now)))
        snapshots = [
            AlertSnapshot.from_item({**d, "notificationId": d["parentId"], "createdAt": d.get("eventAt")})
            for d in members
        ]
        rendered = render(message_id, at, snapshots, self.settings.public_base_url)
        outcome = self.transports.send(channel, rendered)
        attempted_at = utc_now()
        for d in members:
            self._record(d, channel, outcome, attempted_at, now)
        if outcome.ok:
            self.result.sent += 1
        else:
            self.result.failed += 1
        logger.info(
            "notify attempt channel=%s kind=%s message=%s alerts=%d ok=%s status=%s ms=%d error=%s",
            channel.channel_id, channel.kind, message_id, len(members), outcome.ok, outcome.status_code,
            outcome.duration_ms, outcome.error,
        )
        return outcome

    def _record(
        self, d: dict[str, Any], channel: Channel, outcome: AttemptOutcome, attempted_at: datetime, now: datetime
    ) -> None:
        made = int(d.get("attemptCount", 0)) + 1
        attempt = {
            "at": format_ts(attempted_at),
            "attempt": made,
            "messageId": d.get("messageId"),
            "statusCode": outcome.status_code,
            "durationMs": outcome.duration_ms,
            "error": outcome.error,
        }
        values: dict[str, Any] = {"attemptCount": made, "lastAttemptAt": format_ts(attempted_at)}
        if outcome.ok:
            values.update(status="sent", sentAt=format_ts(attempted_at))
            result = "sent"
        elif outcome.permanent or made >= self.settings.max_attempts:
            reason = outcome.error if outcome.permanent else f"gave up after {made} attempts: {outcome.error}"
            values.update(status="failed", failReason=reason)
            self.result.given_up += 1
            result = "failed"
        else:
            values["nextAttemptAt"] = format_ts(now + timedelta(minutes=self.settings.backoff_minutes(made)))
            self.result.retried += 1
            result = "retried"
        self.result.outcomes[(channel.kind, result)] += 1
        expr = Expr()
        sets = [f"{expr.name(k)} = {expr.value(v)}" for k, v in values.items()]
        sets.append(
            f"{expr.name('attempts')} = list_append(if_not_exists({expr.name('attempts')}, {expr.value([])}), "
            f"{expr.value([{k: v for k, v in attempt.items() if v is not None}])})"
        )
        condition = (
            f"{expr.name('status')} = {expr.value('pending')} AND "
            f"{expr.name('attemptCount')} = {expr.value(made - 1)}"
        )
        self.store.update(str(d["notificationId"]), expr=expr, update="SET " + ", ".join(sets), condition=condition)

    def _disable(self, channel: Channel, outcome: AttemptOutcome, now: datetime) -> None:
        reason = f"permanent delivery failure: {outcome.error}"
        try:
            self.p.channels.disable(channel.channel_id, reason=reason, actor=SENDER, now=now)
        except (InvalidTransition, NotFound):
            return  # someone disabled or deleted it meanwhile
        self.result.disabled_channels.append(channel.channel_id)
        self.channels[channel.channel_id] = channel.model_copy(update={"enabled": False, "disabled_reason": reason})
        logger.warning("notify channel disabled channel=%s kind=%s reason=%s", channel.channel_id, channel.kind, reason)

    def _skip(self, deliveries: Any, now: datetime, reason: str) -> None:
        for d in deliveries:
            expr = Expr()
            update = expr.update(set_values={"status": "skipped", "failReason": reason, "endedAt": format_ts(now)})
            condition = f"{expr.name('status')} = {expr.value('pending')}"
            if self.store.update(str(d["notificationId"]), expr=expr, update=update, condition=condition) is not None:
                self.result.skipped += 1
                self.result.outcomes[(str(d.get("channelKind")), "skipped")] += 1

    # 5. Settle ----------------------------------------------------------------------------
    def settle(self, notification: dict[str, Any], now: datetime) -> None:
        nid = str(notification["notificationId"])
        ids = [delivery_id(nid, str(c)) for c in notification.get("channelIds", [])]
        current = self.store.get_many(ids)
        statuses = [str(current[i].get("status")) if i in current else "missing" for i in ids]
        if all(s in FINAL_DELIVERY for s in statuses):
            outcome = "failed" if "failed" in statuses else "sent" if "sent" in statuses else "skipped"
            self._finish(nid, outcome, now)
            return
        nexts = [
            str(current[i].get("nextAttemptAt")) if i in current else format_ts(now)
            for i, s in zip(ids, statuses, strict=True)
            if s not in FINAL_DELIVERY
        ]
        self._reschedule(nid, parse_ts(min(nexts)))

    def _reschedule(self, nid: str, due: datetime) -> None:
        expr = Expr()
        update = expr.update(set_values={"dueAt": format_ts(due)})
        condition = f"{expr.name('deliveryState')} = {expr.value(PENDING)}"
        self.store.update(nid, expr=expr, update=update, condition=condition)

    def _finish(self, nid: str, outcome: str, now: datetime, extra: dict[str, Any] | None = None) -> None:
        expr = Expr()
        values = {"outcome": outcome, "finishedAt": format_ts(now), **(extra or {})}
        update = expr.update(set_values=values, remove=["deliveryState"])
        condition = f"{expr.name('deliveryState')} = {expr.value(PENDING)}"
        done = self.store.update(nid, expr=expr, update=update, condition=condition)
        if done is not None:
            self.result.finished += 1
