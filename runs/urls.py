"""Routes of the runs app: its pages (HTML + htmx) and its part of the admin API."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from runs import views
from runs.api import RunViewSet

urlpatterns: list[URLPattern | URLResolver] = [
    path("runs/", views.runs_page, name="runs-page"),
    path("runs/<str:run_id>/", views.run_page, name="run-page"),
    path("runs/<str:run_id>/row/", views.run_row, name="run-row"),
    path("runs/<str:run_id>/retry/", views.run_retry, name="run-retry"),
    path("runs/<str:run_id>/cancel/", views.run_cancel, name="run-cancel"),
]

router = SimpleRouter(trailing_slash=True)
router.register("runs", RunViewSet, basename="run")
# Mounted under /api/v1/ by dataplatform/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = list(router.urls)
