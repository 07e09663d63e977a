"""Sign-in and sign-out pages (Django's own views, with the dashboard's CSP), the user's API
token page, and Django's admin for superusers."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from dataplatform.accounts import views
from dataplatform.web.decorators import csp

urlpatterns: list[URLPattern | URLResolver] = [
    path("accounts/login/", csp(views.LoginView.as_view()), name="login"),
    path("accounts/logout/", csp(auth_views.LogoutView.as_view()), name="logout"),
    path("accounts/tokens/", views.tokens_page, name="api-tokens"),
    path("admin/", admin.site.urls),
]
