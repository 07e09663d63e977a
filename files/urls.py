"""Routes of the files app: the file page and its part of the admin API."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from files import views
from files.api import FileViewSet

urlpatterns: list[URLPattern | URLResolver] = [
    path("files/<str:file_id>/", views.file_page, name="file-page"),
    path("files/<str:file_id>/retry/", views.file_retry, name="file-retry"),
]

router = SimpleRouter(trailing_slash=True)
router.register("files", FileViewSet, basename="file")
# Mounted under /api/v1/ by dataplatform/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = list(router.urls)
