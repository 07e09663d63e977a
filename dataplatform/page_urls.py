from django.urls import URLPattern, URLResolver

# Filled by the dashboard work (issue 5).
urlpatterns: list[URLPattern | URLResolver] = []
