"""What DynamoDB can store and every later read can show: checked before a write, repaired on read.

Write side (`storable_problem`): a request body is refused, before anything is written, when it
holds a string that is not valid Unicode (a lone surrogate, in a value or a key), JSON nested
deeper than `MAX_NESTING`, or a number DynamoDB cannot keep exactly (more than 38 significant
digits, magnitude outside 1E-130..9.99E+125, NaN, infinity).

Read side (`readable_text`): items other tools wrote may hold such strings anyway (DynamoDB Local
keeps a JSON `\\ud800` escape); they are shown with U+FFFD in place of the broken character
instead of failing every page that renders them."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

# Levels of JSON objects/arrays a body may have (the body itself is level 1). DynamoDB keeps
# documents up to 32 levels; a body's attributes start one level down, so 32 always fits.
MAX_NESTING = 32
MAX_DIGITS = 38
MIN_EXPONENT = -130  # smallest positive magnitude: 1E-130
MAX_EXPONENT = 125  # largest magnitude: 9.99...E+125
# DynamoDB key attributes: a partition key value is at most 2048 bytes of UTF-8, a sort key 1024.
MAX_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024


def is_valid_text(value: str) -> bool:
    """True when `value` is valid Unicode (encodes as UTF-8: no lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def readable_text(value: str) -> str:
    """`value` with each lone surrogate replaced by U+FFFD (surrogate pairs are joined)."""
    if is_valid_text(value):
        return value
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def number_problem(value: int | float | Decimal) -> str | None:
    """Why DynamoDB cannot store `value` exactly, or None when it can."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "NaN and infinity cannot be stored"
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        return "is not a number"
    if not number.is_finite():
        return "NaN and infinity cannot be stored"
    if number == 0:
        return None
    digits = number.as_tuple().digits
    if isinstance(value, int) and len(digits) > MAX_DIGITS:
        # boto3 writes an int with all its digits (its context refuses to round them away).
        return f"numbers may have at most {MAX_DIGITS} digits"
    significant = len("".join(map(str, digits)).strip("0"))
    if significant > MAX_DIGITS:
        return f"numbers may have at most {MAX_DIGITS} significant digits"
    if not MIN_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        return "numbers must be 0 or of magnitude 1E-130 to 9.99E+125"
    return None


def storable_problem(value: Any, *, max_depth: int = MAX_NESTING) -> tuple[str, str] | None:
    """Where (a dotted path, "" for the whole value) and why `value` (a parsed JSON body or
    part of one) cannot be stored and read back, or None. Iterative, so a body nested thousands
    of levels deep costs no recursion."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        current, depth, where = stack.pop()
        problem: str | None = None
        if isinstance(current, str):
            if not is_valid_text(current):
                problem = "contains a string that is not valid Unicode (a lone surrogate)"
        elif isinstance(current, bool) or current is None:
            continue
        elif isinstance(current, int | float | Decimal):
            problem = number_problem(current)
        elif isinstance(current, dict | list | tuple):
            if depth > max_depth:
                problem = f"is nested deeper than {max_depth} levels"
            elif isinstance(current, dict):
                for key, item in current.items():
                    name = str(key)
                    if not is_valid_text(name):
                        return where, "has a key that is not valid Unicode (a lone surrogate)"
                    stack.append((item, depth + 1, f"{where}.{name}" if where else name))
            else:
                for index, item in enumerate(current):
                    stack.append((item, depth + 1, f"{where}[{index}]"))
        if problem is not None:
            return where, problem
    return None


def describe_problem(found: tuple[str, str]) -> str:
    """One message for a `storable_problem` result."""
    where, problem = found
    return f"{where}: {problem}" if where else problem


def key_fits(value: str, *, limit: int = MAX_KEY_BYTES) -> bool:
    """True when `value` can be a DynamoDB key value: 1-`limit` bytes of valid UTF-8. An id
    that cannot be a key cannot name a stored item (a read answers NotFound without a call)."""
    if not isinstance(value, str) or not value or not is_valid_text(value):
        return False
    return len(value.encode("utf-8")) <= limit
