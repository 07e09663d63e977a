"""Page-test fixtures: the web app's Pipeline on fresh dynalite tables and signed-in clients."""

from tests.web.page_fixtures import operator_client, pipeline, viewer_client

__all__ = ["operator_client", "pipeline", "viewer_client"]
