"""Search: the header box of every page (`/search/?q=`) and `GET /api/v1/search/?q=`.

An exact run id or file id jumps to its page; a dataset name prefix (ignoring case) lists
the matching registered datasets."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from dataplatform.api.base import PipelineViewSet
from dataplatform.api.fields import StrictCharField
from dataplatform.api.permissions import READ
from dataplatform.api.represent import represent
from dataplatform.api.schema import READ_ERRORS, error_responses
from dataplatform.datasets.api import DatasetSerializer
from dataplatform.pipeline import selectors
from dataplatform.web.decorators import dashboard_page, render_page
from dataplatform.web.wiring import get_pipeline
from files.serializers import FileSerializer
from runs.serializers import RunSerializer

PAGE_FOR = {"run": "run-page", "file": "file-page", "dataset": "dataset-page"}


@require_GET
@dashboard_page
def search_page(request: HttpRequest) -> HttpResponse:
    """One match: straight to its page. Otherwise the matches (or a clear "nothing found")."""
    text = request.GET.get("q", "")
    result = selectors.search(get_pipeline(), text=text)
    only = result.only_match()
    if only is not None:
        kind, ident = only
        return redirect(PAGE_FOR[kind], ident)
    too_long = len(text.strip()) > selectors.MAX_SEARCH_LENGTH
    context = {"q": text.strip()[:200], "result": result, "too_long": too_long}
    return render_page(request, "runs/search.html", context)


class SearchQuery(serializers.Serializer):  # type: ignore[type-arg]
    q = StrictCharField(
        max_length=selectors.MAX_SEARCH_LENGTH, trim_whitespace=False,
        help_text="a run id, a file id or a dataset name prefix",
    )


class SearchResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    runs = RunSerializer(many=True)
    files = FileSerializer(many=True)
    datasets = DatasetSerializer(many=True)


class OneObjectSchema(AutoSchema):
    """The search answers one object (three lists), not a list of results."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        return False


class SearchViewSet(PipelineViewSet):
    """GET /api/v1/search/?q=: runs and files with exactly that id, datasets by name prefix."""

    action_roles = {"list": READ}
    schema = OneObjectSchema()

    @extend_schema(
        summary="Find a run, a file or datasets",
        parameters=[SearchQuery],
        responses={200: SearchResultSerializer, **error_responses(*READ_ERRORS)},
    )
    def list(self, request: Request) -> Response:
        query = self.parse_query(SearchQuery)
        result = selectors.search(self.pipeline, text=query["q"])
        return Response({
            "runs": [represent(RunSerializer, r) for r in result.runs],
            "files": [represent(FileSerializer, f) for f in result.files],
            "datasets": [represent(DatasetSerializer, d) for d in result.datasets],
        })
