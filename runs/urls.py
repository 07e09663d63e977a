"""Routes of the runs app: its pages (HTML + htmx) and its part of the admin API."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from runs import views
from runs.api import RunViewSet
from runs.search import SearchViewSet, search_page

urlpatterns: list[URLPattern | URLResolver] = [
    path("runs/", views.runs_page, name="runs-page"),
    path("runs/poll/", views.runs_poll, name="runs-poll"),
    path("search/", search_page, name="search-page"),
    path("runs/<str:run_id>/", views.run_page, name="run-page"),
    path("runs/<str:run_id>/live/", views.run_live, name="run-live"),
    path("runs/<str:run_id>/retry/", views.run_retry, name="run-retry"),
    path("runs/<str:run_id>/redispatch/", views.run_redispatch, name="run-redispatch"),
    path("runs/<str:run_id>/recount/", views.run_recount, name="run-recount"),
    path("runs/<str:run_id>/cancel/", views.run_cancel, name="run-cancel"),
]

router = SimpleRouter(trailing_slash=True)
router.register("runs", RunViewSet, basename="run")
router.register("search", SearchViewSet, basename="search")
# Mounted under /api/v1/ by dataplatform/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = list(router.urls)
