"""The one pagination of the admin API: the core's signed cursor pages as
`{"results": [...], "next": URL|null}`, with `limit` and `cursor` in the query string."""

from __future__ import annotations

from functools import cache
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from dataplatform.api.fields import StrictCharField
from dataplatform.api.represent import represent
from dataplatform.pipeline.cursor import MAX_CURSOR_LENGTH
from dataplatform.pipeline.dynamo import Page

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class PageQuery(serializers.Serializer):  # type: ignore[type-arg]
    """`limit` and `cursor` of every list endpoint."""

    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    cursor = StrictCharField(required=False, max_length=MAX_CURSOR_LENGTH)


class CursorPagination:
    """Pages that the core already cut (a Query with Limit and a signed, query-bound cursor):
    this class only writes them out and documents their shape."""

    query_serializer = PageQuery
    cursor_query_param = "cursor"

    @staticmethod
    @cache
    def page_serializer(item: type[serializers.Serializer]) -> type[serializers.Serializer]:  # type: ignore[type-arg]
        """The documented page of `item`s (`RunSerializer` -> `RunPageSerializer`)."""
        name = item.__name__.removesuffix("Serializer") + "PageSerializer"
        fields = {
            "results": item(many=True),
            "next": serializers.URLField(allow_null=True),
            "unreadable": serializers.ListField(
                child=serializers.CharField(), required=False,
                help_text="Only when some items of this page could not be read (another tool stored values "
                          "this monitor does not know): their ids. They are left out of `results`; the log "
                          "says what each holds.",
            ),
            "__module__": item.__module__,
            "__doc__": f"One page of {item.__name__.removesuffix('Serializer').lower()}s.",
        }
        page = type(name, (serializers.Serializer,), fields)
        # A page object, even on "list" actions.
        return extend_schema_serializer(many=False)(page)  # type: ignore[no-any-return]

    def get_paginated_response(
        self, request: Request, page: Page[Any], item: type[serializers.Serializer]  # type: ignore[type-arg]
    ) -> Response:
        """The page's items through `item`, and the URL of the next page (null on the last)."""
        url = request.build_absolute_uri()
        next_url = replace_query_param(url, self.cursor_query_param, page.cursor) if page.cursor else None
        body: dict[str, Any] = {"results": [represent(item, row) for row in page.items], "next": next_url}
        if page.unreadable:
            body["unreadable"] = page.unreadable
        return Response(body)
