"""Holiday and exchange calendars for schedules, built once per process.

Two sources (SPEC section 9):

- the ``holidays`` package: a country (``GB``), a country with a subdivision (``GB-ENG``,
  ``US-NY``) or one of its financial markets (``NYSE``); a date it lists is a holiday, with
  its name;
- ``exchange_calendars``: an exchange code (``XNYS``, ``XLON``); a weekday that is not one of
  its sessions is a closure. Its calendars are slow to build (pandas), so each is built once
  per process and kept; outside the range it covers (20 years back to 1 year ahead of when it
  was built) it has no opinion and the schedule's weekdays alone decide.

The heavy imports happen on first use, so a Lambda that never evaluates schedules does not
pay for pandas.
"""

from __future__ import annotations

import re
import threading
from datetime import date
from functools import lru_cache
from typing import Any

_CODE = re.compile(r"^([A-Z]{2,4})(?:-([A-Z0-9]{1,10}))?$")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _supported() -> tuple[dict[str, list[str]], frozenset[str]]:
    import holidays

    countries: dict[str, list[str]] = {
        code: [str(s) for s in subdivisions] for code, subdivisions in holidays.list_supported_countries().items()
    }
    markets = frozenset(holidays.list_supported_financial())
    return countries, markets


def check_holidays_code(code: str) -> str:
    """`code` normalised (upper case); ValueError naming what the holidays package accepts."""
    value = code.strip().upper()
    match = _CODE.match(value)
    countries, markets = _supported()
    if match is None:
        raise ValueError(
            f"holidays {code!r} must be a country code (GB), a country and subdivision (GB-ENG) "
            "or a financial market code (NYSE)"
        )
    country, subdivision = match.group(1), match.group(2)
    if subdivision is None and value in markets:
        return value
    if country not in countries:
        raise ValueError(f"holidays {code!r}: {country!r} is not a country or market the holidays package knows")
    if subdivision is not None and subdivision not in countries[country]:
        known = ", ".join(countries[country][:20]) or "none"
        raise ValueError(f"holidays {code!r}: {subdivision!r} is not a subdivision of {country} (known: {known})")
    return value


@lru_cache(maxsize=256)
def _holiday_table(code: str) -> Any:
    import holidays

    _countries, markets = _supported()
    if code in markets:
        return holidays.financial_holidays(code)
    country, _, subdivision = code.partition("-")
    return holidays.country_holidays(country, subdiv=subdivision or None)


def holiday_name(code: str, day: date) -> str | None:
    """The name of the holiday on `day` in the `holidays` calendar `code`, or None."""
    table = _holiday_table(code)
    # The table fills in a year on first lookup; the lock keeps two threads from doing it at once.
    with _lock:
        name = table.get(day)
    return str(name) if name else None


@lru_cache(maxsize=1)
def exchange_codes() -> frozenset[str]:
    """Every exchange code (and alias) exchange_calendars knows."""
    import exchange_calendars  # type: ignore[import-untyped]

    return frozenset(exchange_calendars.get_calendar_names(include_aliases=True))


def check_exchange_code(code: str) -> str:
    """`code` normalised (upper case); ValueError when exchange_calendars does not know it."""
    value = code.strip().upper()
    if value not in exchange_codes():
        raise ValueError(f"calendar {code!r} is not an exchange code of exchange_calendars (e.g. XNYS, XLON, XTKS)")
    return value


class _Exchange:
    """One exchange calendar's sessions and holiday names as plain dates (fast membership)."""

    def __init__(self, code: str) -> None:
        import exchange_calendars

        calendar = exchange_calendars.get_calendar(code)
        self.first: date = calendar.first_session.date()
        self.last: date = calendar.last_session.date()
        self.sessions: frozenset[date] = frozenset(ts.date() for ts in calendar.sessions)
        self.names: dict[date, str] = {}
        regular = calendar.regular_holidays
        if regular is not None:
            named = regular.holidays(start=calendar.first_session, end=calendar.last_session, return_name=True)
            self.names = {ts.date(): str(name) for ts, name in named.items()}

    def closure(self, day: date) -> str | None:
        if day < self.first or day > self.last or day in self.sessions:
            return None
        return self.names.get(day, "closed")


@lru_cache(maxsize=64)
def _exchange(code: str) -> _Exchange:
    with _lock:
        return _Exchange(code)


def exchange_closure(code: str, day: date) -> str | None:
    """Why exchange `code` has no session on `day` (a holiday name or "closed"), or None when
    it has one or the date is outside the calendar's range."""
    return _exchange(code).closure(day)
