"""Forms of the channel and silence pages. They only shape what a browser sends (text boxes,
checkboxes, datetime-local in UTC) into the API's bodies; the core validates the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from dataplatform.pipeline.notify.channels import MAX_NAME_LENGTH, MAX_URL_LENGTH
from dataplatform.pipeline.notify.models import ALERT_KINDS
from dataplatform.pipeline.notify.settings import DEFAULT_REPEAT_MINUTES
from dataplatform.pipeline.notify.silences import DAY_NAMES, MAX_REASON_LENGTH

from .serializers import CHANNEL_KINDS, ENVIRONMENTS

KIND_CHOICES = [(k, k) for k in ALERT_KINDS]
ENVIRONMENT_CHOICES = [(e, e) for e in ENVIRONMENTS]
DAY_CHOICES = [(d, d.capitalize()) for d in DAY_NAMES]


def _split(value: str) -> list[str]:
    """A comma- or newline-separated list, blanks dropped."""
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


class SubscriptionFields(forms.Form):
    """What a channel listens to (empty = all) and how often it repeats."""

    datasets = forms.CharField(required=False, max_length=20_000, widget=forms.TextInput(
        attrs={"placeholder": "all datasets (or: sales, bond-prices)"}))
    environments = forms.MultipleChoiceField(required=False, choices=ENVIRONMENT_CHOICES,
                                             widget=forms.CheckboxSelectMultiple)
    kinds = forms.MultipleChoiceField(required=False, choices=KIND_CHOICES, label="Alert kinds",
                                      widget=forms.CheckboxSelectMultiple)
    repeat_minutes = forms.CharField(required=False, max_length=200, label="Repeat after (minutes)",
                                     widget=forms.TextInput(attrs={"placeholder": "30, 60, 120, 240"}))

    def clean_repeat_minutes(self) -> list[int] | None:
        raw = self.cleaned_data.get("repeat_minutes", "")
        if raw.strip().lower() in {"none", "no", "0"}:
            return []
        parts = _split(raw)
        if not parts:
            return None
        try:
            return [int(part) for part in parts]
        except ValueError as exc:
            raise ValidationError("Write whole minutes separated by commas (or 'none').") from exc

    def subscription_body(self) -> dict[str, Any]:
        data = self.cleaned_data
        body: dict[str, Any] = {
            "datasets": _split(data.get("datasets", "")),
            "environments": list(data.get("environments") or []),
            "kinds": list(data.get("kinds") or []),
        }
        if data.get("repeat_minutes") is not None:
            body["repeatMinutes"] = data["repeat_minutes"]
        return body


class ChannelCreateForm(SubscriptionFields):
    # What the channel is and where it sends first, then what it listens to.
    field_order = ["name", "kind", "url", "to", "secret", "datasets", "environments", "kinds", "repeat_minutes"]

    kind = forms.ChoiceField(choices=[(k, k) for k in CHANNEL_KINDS], label="Channel kind")
    name = forms.CharField(max_length=MAX_NAME_LENGTH)
    url = forms.CharField(required=False, max_length=MAX_URL_LENGTH, label="URL",
                          help_text="webhook: http(s) URL; slack: the https incoming-webhook URL")
    to = forms.CharField(required=False, max_length=5000, label="Email recipients",
                         help_text="email: addresses separated by commas")
    secret = forms.CharField(required=False, max_length=200, widget=forms.PasswordInput,
                             help_text="webhook: leave empty to generate one (shown once)")

    def body(self) -> dict[str, Any]:
        """The POST /api/v1/channels/ body."""
        data = self.cleaned_data
        body: dict[str, Any] = {"kind": data["kind"], "name": data["name"], **self.subscription_body()}
        if data.get("url"):
            body["url"] = data["url"].strip()
        if data.get("to"):
            body["to"] = _split(data["to"])
        if data.get("secret"):
            body["secret"] = data["secret"].strip()
        return body


class ChannelEditForm(SubscriptionFields):
    field_order = ["name", "datasets", "environments", "kinds", "repeat_minutes"]

    name = forms.CharField(max_length=MAX_NAME_LENGTH)

    def body(self) -> dict[str, Any]:
        """The PATCH body: name and subscriptions (URL and secret are changed through the API)."""
        return {"name": self.cleaned_data["name"], **self.subscription_body()}

    @classmethod
    def for_channel(cls, channel: Any) -> ChannelEditForm:
        return cls(initial={
            "name": channel.name,
            "datasets": ", ".join(channel.datasets),
            "environments": channel.environments,
            "kinds": channel.kinds,
            "repeat_minutes": ", ".join(str(m) for m in channel.repeat_minutes) or "none",
        }, prefix=f"edit-{channel.channel_id}")


class DisableForm(forms.Form):
    reason = forms.CharField(max_length=MAX_REASON_LENGTH, required=False)


def _utc(value: datetime | None) -> str | None:
    """A datetime-local value (labelled UTC on the page) as an aware ISO-8601 instant."""
    if value is None:
        return None
    # Django made it aware in TIME_ZONE; the wall time typed is UTC whatever that is.
    return value.replace(tzinfo=None).replace(tzinfo=UTC).isoformat()


class SilenceForm(forms.Form):
    """A silence: matchers (blank = any), a UTC span, a reason, and an optional weekly window."""

    dataset_name = forms.CharField(required=False, max_length=128, label="Dataset")
    environment = forms.ChoiceField(required=False, choices=[("", "any"), *ENVIRONMENT_CHOICES])
    kind = forms.ChoiceField(required=False, choices=[("", "any"), *KIND_CHOICES])
    starts_at = forms.DateTimeField(required=False, label="Starts (UTC)", input_formats=["%Y-%m-%dT%H:%M"],
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label="Ends (UTC)", input_formats=["%Y-%m-%dT%H:%M"],
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    reason = forms.CharField(max_length=MAX_REASON_LENGTH)
    window_days = forms.MultipleChoiceField(required=False, choices=DAY_CHOICES, label="Only on",
                                            widget=forms.CheckboxSelectMultiple)
    window_start = forms.CharField(required=False, max_length=5, label="from (local HH:MM)",
                                   widget=forms.TextInput(attrs={"placeholder": "22:00"}))
    window_end = forms.CharField(required=False, max_length=5, label="to (local HH:MM)",
                                 widget=forms.TextInput(attrs={"placeholder": "02:00"}))
    window_timezone = forms.CharField(required=False, max_length=64, label="timezone",
                                      widget=forms.TextInput(attrs={"placeholder": "UTC"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        window = [data.get("window_days"), data.get("window_start"), data.get("window_end")]
        if any(window) and not all(window):
            raise ValidationError("A maintenance window needs days, a start and an end.")
        return data

    def body(self) -> dict[str, Any]:
        """The POST /api/v1/silences/ body, in the core's flat shape."""
        data = self.cleaned_data
        body: dict[str, Any] = {"endsAt": _utc(data["ends_at"]), "reason": data["reason"]}
        if data.get("starts_at"):
            body["startsAt"] = _utc(data["starts_at"])
        for field, key in (("dataset_name", "datasetName"), ("environment", "environment"), ("kind", "kind")):
            if data.get(field):
                body[key] = data[field].strip()
        if data.get("window_days"):
            body["window"] = {
                "days": list(data["window_days"]),
                "start": data["window_start"].strip(),
                "end": data["window_end"].strip(),
                "timezone": (data.get("window_timezone") or "").strip() or "UTC",
            }
        return body


DEFAULT_REPEAT_TEXT = ", ".join(str(m) for m in DEFAULT_REPEAT_MINUTES)
