"""The web plumbing tests use the API tests' fixtures (users per role, the app's Pipeline)."""

from tests.api.conftest import _fresh_throttle_cache, client_for, pipeline

__all__ = ["_fresh_throttle_cache", "client_for", "pipeline"]
