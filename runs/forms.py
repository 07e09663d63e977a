"""Query-string forms of the run pages: every value is validated before it reaches the core."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.forms import DeclarativeFieldsMetaclass

from dataplatform.pipeline.cursor import MAX_CURSOR_LENGTH
from dataplatform.pipeline.listing import RunFilters
from dataplatform.pipeline.models import MAX_REASON_LENGTH, Environment, validate_dataset_name
from dataplatform.pipeline.states import FileStatus, RunStatus
from dataplatform.pipeline.triage import MAX_GROUP_MESSAGE


class _SharedFields(dict[str, forms.Field]):
    """Fields that every instance of a form may use as they are: deep-copying them returns them."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedFields:
        return self


class _QueryFormMetaclass(DeclarativeFieldsMetaclass):
    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> type:
        cls = super().__new__(mcs, name, bases, attrs)
        cls.base_fields = _SharedFields(cls.base_fields)
        return cls


class QueryForm(forms.Form, metaclass=_QueryFormMetaclass):
    """A read-only query-string form: validates GET parameters, never changes its fields.

    Django deep-copies a form's fields for every instance so that one request may alter its
    own; these forms never do, and the copy was most of their cost on every page view
    (~0.3 ms). Subclasses share their fields instead; tests/pages/test_components.py checks
    that validating one request leaves the shared fields unchanged."""


def _choices(enum: Any, blank: str) -> list[tuple[str, str]]:
    return [("", blank), *((member.value, member.value) for member in enum)]


class RunFilterForm(QueryForm):
    """The runs page filters, kept in the URL (`?datasetName=..&businessDate=..`)."""

    datasetName = forms.CharField(required=False, max_length=128, label="Dataset")
    businessDate = forms.DateField(
        required=False, input_formats=["%Y-%m-%d"], label="Business date",
        error_messages={"invalid": "Business date must be a real date written YYYY-MM-DD."},
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    status = forms.ChoiceField(required=False, choices=_choices(RunStatus, "any status"))
    environment = forms.ChoiceField(required=False, choices=_choices(Environment, "any environment"))
    cursor = forms.CharField(required=False, max_length=MAX_CURSOR_LENGTH, widget=forms.HiddenInput)

    def clean_datasetName(self) -> str:
        value: str = self.cleaned_data["datasetName"].strip()
        if value:
            try:
                validate_dataset_name(value)
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc
        return value

    def filters(self) -> RunFilters:
        """The valid filters (None where not given)."""
        data = self.cleaned_data
        business_date: date | None = data.get("businessDate")
        return RunFilters(
            dataset_name=data.get("datasetName") or None,
            business_date=business_date.isoformat() if business_date else None,
            status=RunStatus(data["status"]) if data.get("status") else None,
            environment=Environment(data["environment"]) if data.get("environment") else None,
        )


# The files tab that shows every status (no `fileStatus` opens on `failed` when there are any).
ALL_FILES = "all"


class FileFilterForm(QueryForm):
    """The files table of a run page (`?fileStatus=failed&error=..&filesCursor=..`)."""

    fileStatus = forms.ChoiceField(
        required=False, choices=[("", "default"), (ALL_FILES, ALL_FILES), *((s.value, s.value) for s in FileStatus)]
    )
    # One failure group: failed files whose error message is exactly this ('' = no message).
    error = forms.CharField(required=False, max_length=MAX_GROUP_MESSAGE, strip=False, empty_value=None)
    filesCursor = forms.CharField(required=False, max_length=MAX_CURSOR_LENGTH)
    eventsCursor = forms.CharField(required=False, max_length=MAX_CURSOR_LENGTH)

    def clean_error(self) -> str | None:
        # Present but empty means "errors without a message"; absent means no error filter.
        return self.data.get("error") if "error" in self.data else None


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=MAX_REASON_LENGTH, strip=True,
        error_messages={"required": "Say why the run is cancelled (it goes into the audit trail)."},
    )
