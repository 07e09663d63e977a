"""Delivery settings of the notify core, read from environment variables (no Django needed)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..config import _float, _int

DEFAULT_REPEAT_MINUTES = (30, 60, 120, 240)


@dataclass(frozen=True)
class NotifySettings:
    """How the sender behaves: attempts, backoff, timeouts, per-tick bounds, links."""

    max_attempts: int = 8
    backoff_base_minutes: int = 1
    backoff_max_minutes: int = 60
    attempt_timeout: float = 5.0
    batch_size: int = 200
    max_group_size: int = 20
    lease_seconds: int = 120
    public_base_url: str = "http://localhost:8000"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotifySettings:
        """NOTIFY_MAX_ATTEMPTS, NOTIFY_BACKOFF_BASE_MINUTES, NOTIFY_BACKOFF_MAX_MINUTES,
        NOTIFY_TIMEOUT_SECONDS, NOTIFY_BATCH_SIZE, NOTIFY_GROUP_SIZE, NOTIFY_LEASE_SECONDS, PUBLIC_BASE_URL."""
        env = os.environ if env is None else env
        base_url = (env.get("PUBLIC_BASE_URL", "").strip() or cls.public_base_url).rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"PUBLIC_BASE_URL must be an http(s) URL, got {base_url!r}")
        timeout = _float(env, "NOTIFY_TIMEOUT_SECONDS", 5.0)
        if not 0.1 <= timeout <= 60:
            raise ValueError(f"NOTIFY_TIMEOUT_SECONDS must be between 0.1 and 60, got {timeout}")
        return cls(
            max_attempts=_int(env, "NOTIFY_MAX_ATTEMPTS", 8, 1, 50),
            backoff_base_minutes=_int(env, "NOTIFY_BACKOFF_BASE_MINUTES", 1, 1, 60),
            backoff_max_minutes=_int(env, "NOTIFY_BACKOFF_MAX_MINUTES", 60, 1, 24 * 60),
            attempt_timeout=timeout,
            batch_size=_int(env, "NOTIFY_BATCH_SIZE", 200, 1, 5000),
            max_group_size=_int(env, "NOTIFY_GROUP_SIZE", 20, 1, 45),
            lease_seconds=_int(env, "NOTIFY_LEASE_SECONDS", 120, 10, 3600),
            public_base_url=base_url,
        )

    def backoff_minutes(self, attempts_made: int) -> int:
        """Minutes to wait after the n-th failed attempt: base, 2x base, 4x base ... capped."""
        return int(min(self.backoff_base_minutes * 2 ** max(attempts_made - 1, 0), self.backoff_max_minutes))
