"""Page-test fixtures: the web app's Pipeline on fresh DynamoDB Local tables and signed-in clients."""

from tests.web.page_fixtures import operator_client, pipeline, viewer_client

__all__ = ["operator_client", "pipeline", "viewer_client"]
