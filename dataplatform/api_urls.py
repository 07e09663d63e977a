from django.urls import URLPattern, URLResolver

# Filled by the REST API work (issue 4).
urlpatterns: list[URLPattern | URLResolver] = []
