"""Dashboard routes (HTML + htmx). Every view needs a signed-in user (see dataplatform.web)."""

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from dataplatform.web import csp
from files import views as file_views
from runs import dataset_views
from runs import views as run_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", run_views.runs_page, name="home"),
    path("runs/", run_views.runs_page, name="runs-page"),
    path("runs/<str:run_id>/", run_views.run_page, name="run-page"),
    path("runs/<str:run_id>/row/", run_views.run_row, name="run-row"),
    path("runs/<str:run_id>/retry/", run_views.run_retry, name="run-retry"),
    path("runs/<str:run_id>/cancel/", run_views.run_cancel, name="run-cancel"),
    path("files/<str:file_id>/", file_views.file_page, name="file-page"),
    path("files/<str:file_id>/retry/", file_views.file_retry, name="file-retry"),
    path("datasets/", dataset_views.datasets_page, name="datasets-page"),
    path("datasets/<str:name>/", dataset_views.dataset_page, name="dataset-page"),
    path(
        "accounts/login/",
        csp(auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True)),
        name="login",
    ),
    path("accounts/logout/", csp(auth_views.LogoutView.as_view()), name="logout"),
]
