"""Session engines: Django's database (and cached database) sessions whose per-request read
is one prepared primary-key query (see dataplatform.auth). Writes, expiry and clean-up are
Django's own."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from dataplatform.auth import fetch_by


class PreparedSessionRead:
    """Mixin over django.contrib.sessions.backends.db.SessionStore (and cached_db)."""

    model: Any
    session_key: str | None
    _session_key: str | None

    def _get_session_from_db(self) -> Any:
        key = self.session_key
        found = fetch_by(self.model, self.model._meta.pk.column, key) if key else None
        if found is None or found.expire_date <= timezone.now():
            self._session_key = None
            return None
        return found
