"""The dataset calendar's query-string form."""

from __future__ import annotations

from django import forms

from runs.forms import QueryForm


class CalendarForm(QueryForm):
    days = forms.IntegerField(
        required=False, min_value=1, max_value=366,
        error_messages={
            "invalid": "days must be a whole number between 1 and 366.",
            "min_value": "days must be a whole number between 1 and 366.",
            "max_value": "days must be a whole number between 1 and 366.",
        },
    )
