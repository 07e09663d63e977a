"""The web plumbing tests: signed-in page clients and the API tests' fixtures (users per
role, the app's Pipeline with an empty dispatch queue)."""

from tests.api.conftest import _fresh_throttle_cache, client_for, pipeline
from tests.web.page_fixtures import operator_client, viewer_client

__all__ = ["_fresh_throttle_cache", "client_for", "operator_client", "pipeline", "viewer_client"]
