"""Strict DRF fields and the strict base serializer of the admin API.

DRF's stock fields coerce (1 -> "1", "true" -> True, "7" -> 7); at this boundary a wrong JSON
type is a 400, as are unknown fields, blank strings, and NUL or other control characters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dataplatform.pipeline.alerts import AlertState
from dataplatform.pipeline.expectations import AlertKind, ExpectationState
from dataplatform.pipeline.models import Environment, parse_business_date
from dataplatform.pipeline.states import FileStatus, RunStatus

CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def no_control_characters(value: str) -> None:
    if CONTROL_CHARS.search(value):
        raise serializers.ValidationError("Control characters (including NUL) are not allowed.", code="invalid")


class StrictCharField(serializers.CharField):
    """A JSON string only; trimmed, never blank, no control characters."""

    default_error_messages = {"invalid": "Must be a string."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(no_control_characters)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """A JSON true/false only."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only (no strings, floats or booleans)."""

    default_error_messages = {"invalid": "Must be a whole number."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictChoiceField(serializers.ChoiceField):
    """One of the choices, given as a JSON string."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=str(data)[:64])
        return super().to_internal_value(data)


class StrictDictField(serializers.DictField):
    """A JSON object with string keys (values checked by the core)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        return dict(super().to_internal_value(data))


@extend_schema_field(OpenApiTypes.DATE)
class DateStringField(serializers.Field):
    """A calendar date written YYYY-MM-DD (validated as a real date); kept as that string."""

    default_error_messages = {"invalid": "Must be a date written YYYY-MM-DD."}

    def to_internal_value(self, data: Any) -> str:
        try:
            return parse_business_date(data).isoformat()
        except (ValueError, TypeError):
            self.fail("invalid")
        raise AssertionError("unreachable")

    def to_representation(self, value: Any) -> str:
        return value.isoformat() if isinstance(value, date) else str(value)


def regex_id(pattern: str, what: str) -> RegexValidator:
    return RegexValidator(rf"\A{pattern}\Z", f"Not a valid {what}.", code="invalid")


class StrictSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Refuses fields it does not declare (a typo must not be silently ignored)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({str(name)[:64]: ["Unknown field."] for name in unknown[:20]})
        return super().to_internal_value(data)


# Choice lists of the API (also named in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
RUN_STATUSES = [member.value for member in RunStatus]
FILE_STATUSES = [member.value for member in FileStatus]
ENVIRONMENTS = [member.value for member in Environment]
ALERT_KINDS = [member.value for member in AlertKind]
ALERT_STATES = [member.value for member in AlertState]
EXPECTATION_STATES = [member.value for member in ExpectationState]
CHANNEL_KINDS = ["webhook", "slack", "email"]
