"""Sign-in and sign-out pages (Django's own views, with the dashboard's CSP)."""

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from dataplatform.web.decorators import csp

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "accounts/login/",
        csp(auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True)),
        name="login",
    ),
    path("accounts/logout/", csp(auth_views.LogoutView.as_view()), name="logout"),
]
