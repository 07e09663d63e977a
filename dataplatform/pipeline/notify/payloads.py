"""What each channel kind receives: the webhook JSON (SPEC section 9), a Slack Block Kit
message, an email (plain text + HTML). One snapshot of the episode feeds all three.

Several notifications of one tick to one channel become ONE message: a webhook body with
`"type": "alert.batch"` and `data.alerts` (each entry is a single message's `data` plus its
`type` and `notificationId`), one Slack message with a section per alert, one email."""

from __future__ import annotations

import html
import json
import string
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import Field

from ..models import UtcTimestamp, _Item
from ..timeutil import format_ts
from .models import BATCH, OPENED, REMINDER, RESOLVED

SNAPSHOT_FIELDS = (
    "alertId", "kind", "datasetName", "environment", "businessDate", "state", "openedAt",
    "resolvedAt", "summary", "runId", "lateMinutes", "openMinutes",
)
TITLES = {OPENED: "Alert opened", REMINDER: "Still open", RESOLVED: "Resolved"}


class AlertSnapshot(_Item):
    """The episode as one notification tells it (copied into the outbox item when recorded)."""

    notification_id: str = Field(alias="notificationId")
    type: str
    created_at: UtcTimestamp = Field(alias="createdAt")
    alert_id: str = Field(alias="alertId")
    kind: str = ""
    dataset_name: str = Field(alias="datasetName", default="")
    environment: str = ""
    business_date: str = Field(alias="businessDate", default="")
    state: str = ""
    opened_at: UtcTimestamp | None = Field(alias="openedAt", default=None)
    resolved_at: UtcTimestamp | None = Field(alias="resolvedAt", default=None)
    summary: str = ""
    run_id: str | None = Field(alias="runId", default=None)
    late_minutes: float | None = Field(alias="lateMinutes", default=None)
    open_minutes: float | None = Field(alias="openMinutes", default=None)

    def url(self, base_url: str) -> str:
        """A link to the run behind the alert, else to the dataset."""
        if self.run_id:
            return f"{base_url}/runs/{quote(self.run_id, safe='')}/"
        return f"{base_url}/datasets/{quote(self.dataset_name, safe='')}/"

    def how_long_open(self) -> float | None:
        """Minutes the episode has been (or was) open."""
        if self.open_minutes is not None:
            return self.open_minutes
        if self.opened_at is None:
            return None
        end = self.resolved_at or self.created_at
        return max((end - self.opened_at).total_seconds() / 60, 0.0)

    def data(self, base_url: str) -> dict[str, Any]:
        """The webhook `data` object, exactly the SPEC's fields."""
        return {
            "alertId": self.alert_id,
            "kind": self.kind,
            "datasetName": self.dataset_name,
            "environment": self.environment,
            "businessDate": self.business_date,
            "state": self.state,
            "openedAt": format_ts(self.opened_at) if self.opened_at else None,
            "resolvedAt": format_ts(self.resolved_at) if self.resolved_at else None,
            "summary": self.summary,
            "url": self.url(base_url),
        }

    def headline(self) -> str:
        title = TITLES.get(self.type, self.type)
        return f"{title}: {self.kind} {self.dataset_name} {self.business_date} ({self.environment})"


def _minutes(value: float | None) -> str:
    if value is None:
        return "-"
    total = round(value)
    hours, minutes = divmod(total, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _facts(s: AlertSnapshot) -> list[tuple[str, str]]:
    facts = [
        ("Dataset", s.dataset_name),
        ("Business date", s.business_date),
        ("Environment", s.environment),
        ("Kind", s.kind),
        ("State", s.state),
    ]
    if s.late_minutes is not None:
        facts.append(("How late", _minutes(s.late_minutes)))
    facts.append(("Open for" if s.type != RESOLVED else "Was open for", _minutes(s.how_long_open())))
    return facts


@dataclass(frozen=True)
class Rendered:
    """One message, ready for a transport."""

    message_id: str
    webhook_body: str
    slack_body: str
    subject: str
    text: str
    html: str


def render(message_id: str, at: datetime, alerts: list[AlertSnapshot], base_url: str) -> Rendered:
    """The message for one or several notifications going to one channel at once."""
    if not alerts:
        raise ValueError("a message needs at least one alert")
    return Rendered(
        message_id=message_id,
        webhook_body=_webhook(at, alerts, base_url),
        slack_body=json.dumps(_slack(alerts, base_url), separators=(",", ":")),
        subject=_subject(alerts),
        text=_text(alerts, base_url),
        html=_html(alerts, base_url),
    )


def _webhook(at: datetime, alerts: list[AlertSnapshot], base_url: str) -> str:
    if len(alerts) == 1:
        single = alerts[0]
        body: dict[str, Any] = {
            "type": single.type, "timestamp": format_ts(single.created_at), "data": single.data(base_url)
        }
    else:
        entries = [{"type": a.type, "notificationId": a.notification_id, **a.data(base_url)} for a in alerts]
        body = {"type": BATCH, "timestamp": format_ts(at), "data": {"alerts": entries}}
    return json.dumps(body, separators=(",", ":"), sort_keys=False)


def _mrkdwn(value: str) -> str:
    """Slack's three control characters, escaped as its docs require."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_section(s: AlertSnapshot, base_url: str) -> list[dict[str, Any]]:
    fields = [{"type": "mrkdwn", "text": f"*{name}*\n{_mrkdwn(value)}"} for name, value in _facts(s)]
    link = "Open the run" if s.run_id else "Open the dataset"
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_mrkdwn(s.headline())}*\n{_mrkdwn(s.summary)}"}},
        {"type": "section", "fields": fields[:10]},
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": link}, "url": s.url(base_url)}],
        },
    ]


def _slack(alerts: list[AlertSnapshot], base_url: str) -> dict[str, Any]:
    title = alerts[0].headline() if len(alerts) == 1 else f"{len(alerts)} alert notifications"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}}]
    for index, alert in enumerate(alerts):
        if index:
            blocks.append({"type": "divider"})
        blocks.extend(_slack_section(alert, base_url))
    return {"text": title, "blocks": blocks}


def _subject(alerts: list[AlertSnapshot]) -> str:
    if len(alerts) == 1:
        return f"[Run Monitor] {alerts[0].headline()}"
    return f"[Run Monitor] {len(alerts)} alert notifications"


def _text(alerts: list[AlertSnapshot], base_url: str) -> str:
    parts = []
    for s in alerts:
        lines = [s.headline(), s.summary, ""]
        lines += [f"{name}: {value}" for name, value in _facts(s)]
        lines += [f"Link: {s.url(base_url)}", ""]
        parts.append("\n".join(lines))
    return "\n".join(parts)


# The emails' HTML lives in templates beside this module (the core runs without Django, in the
# Lambda too): string.Template files whose every value is escaped unless it is Markup, i.e.
# already rendered from one of them.
EMAIL_TEMPLATES = Path(__file__).with_name("email")


class Markup(str):
    """HTML rendered from an email template: inserted as it is, never escaped again."""


@lru_cache(maxsize=16)
def _email_template(template: str) -> string.Template:
    return string.Template((EMAIL_TEMPLATES / template).read_text(encoding="utf-8").strip())


def render_email_html(template: str, /, **values: Any) -> Markup:
    """`email/<template>` with `values` substituted, each escaped unless it is Markup."""
    escaped = {key: value if isinstance(value, Markup) else html.escape(str(value)) for key, value in values.items()}
    return Markup(_email_template(template).substitute(escaped))


def _html(alerts: list[AlertSnapshot], base_url: str) -> str:
    sections = [
        render_email_html(
            "alert.html",
            headline=s.headline(),
            summary=s.summary,
            facts=Markup("".join(render_email_html("fact.html", name=n, value=v) for n, v in _facts(s))),
            url=s.url(base_url),
            link="Open the run" if s.run_id else "Open the dataset",
        )
        for s in alerts
    ]
    return render_email_html("alerts.html", sections=Markup(render_email_html("divider.html").join(sections)))


def channel_test_body(channel_name: str, at: datetime, base_url: str) -> dict[str, Any]:
    """The body of a channel's test message (webhook); Slack and email get the same words."""
    return {
        "type": "channel.test",
        "timestamp": format_ts(at),
        "data": {"channel": channel_name, "summary": "Test message from Run Monitor.", "url": base_url + "/"},
    }


def render_channel_test(channel_name: str, at: datetime, base_url: str, message_id: str) -> Rendered:
    """A channel's test message for every transport: the webhook body, a Slack message and an
    email (text and HTML from `email/channel_test.html`, the channel name escaped)."""
    text = f"Test message from Run Monitor for channel {channel_name}. Open {base_url}/"
    slack = {
        "text": f"Run Monitor test message for {channel_name}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*Run Monitor test message*\n{text}"}}],
    }
    page = render_email_html("channel_test.html", channel=channel_name, url=base_url)
    return Rendered(
        message_id=message_id,
        webhook_body=json.dumps(channel_test_body(channel_name, at, base_url), separators=(",", ":")),
        slack_body=json.dumps(slack, separators=(",", ":")),
        subject=f"[Run Monitor] Test message for {channel_name}",
        text=text,
        html=page,
    )
