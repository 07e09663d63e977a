"""Routes of the datasets app: the registry and calendar pages and their API."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from dataplatform.datasets import views
from dataplatform.datasets.api import DatasetViewSet

urlpatterns: list[URLPattern | URLResolver] = [
    path("datasets/", views.datasets_page, name="datasets-page"),
    path("suggest/datasets/", views.dataset_suggestions, name="dataset-suggestions"),
    path("datasets/<str:name>/", views.dataset_page, name="dataset-page"),
]

router = SimpleRouter(trailing_slash=True)
router.register("datasets", DatasetViewSet, basename="dataset")
# Mounted under /api/v1/ by dataplatform/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = list(router.urls)
