"""The dataset calendar's query-string form."""

from __future__ import annotations

from django import forms

from dataplatform.pipeline.models import Environment
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
    environment = forms.ChoiceField(
        required=False, choices=[("", "the registry's"), *((e.value, e.value) for e in Environment)],
        error_messages={"invalid_choice": "environment must be staging or prod."},
    )
