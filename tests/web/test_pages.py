"""Dashboard views through the Django test client, on DynamoDB Local."""

from __future__ import annotations

import pytest
from django.test import Client

from dataplatform.pipeline.app import Pipeline
from tests.web.page_fixtures import htmx

pytestmark = [pytest.mark.django_db, pytest.mark.ddb_local]


def html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["/", "/runs/", "/runs/x/", "/files/x/", "/datasets/", "/datasets/x/"])
def test_pages_need_login(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_htmx_request_without_session_gets_hx_redirect(client: Client) -> None:
    response = client.get("/runs/", **htmx("load-more"), HTTP_HX_CURRENT_URL="http://testserver/runs/?status=failed")
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")
    assert "status%3Dfailed" in response["HX-Redirect"]
    assert "<form" not in html(response)


def test_store_unavailable_is_a_503_page_and_an_htmx_banner(operator_client: Client, settings: object) -> None:
    from dataplatform.pipeline.engine import free_port
    from dataplatform.web import wiring
    from tests.conftest import unique_config

    settings.PIPELINE_CONFIG = unique_config(  # type: ignore[attr-defined]
        endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1, connect_timeout=0.5
    )
    wiring.reset()
    try:
        page = operator_client.get("/runs/")
        assert page.status_code == 503
        assert "Data store unavailable" in html(page)
        assert page["Retry-After"]
        fragment = operator_client.get("/runs/", **htmx("results"))
        assert fragment.status_code == 503
        assert "<html" not in html(fragment)
        assert "data-message" in html(fragment)
    finally:
        wiring.reset()


def test_csrf_failure_on_htmx_refreshes(db: None, django_user_model: type) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user(username="o", password="x-123456789"))  # type: ignore[attr-defined]
    response = client.post("/runs/r/retry/", **htmx("run-actions"))
    assert response.status_code == 403
    assert response["HX-Refresh"] == "true"
    plain = client.post("/runs/r/retry/")
    assert plain.status_code == 403
    assert "HX-Refresh" not in plain


def test_pages_send_a_content_security_policy(operator_client: Client, pipeline: Pipeline) -> None:
    response = operator_client.get("/runs/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "<script>" not in html(response)  # only external scripts


def test_htmx_comes_from_local_static_files(operator_client: Client, pipeline: Pipeline) -> None:
    body = html(operator_client.get("/runs/"))
    assert '<script src="/static/django_htmx/htmx-2.min.js" defer></script>' in body
    assert '<script src="/static/js/app.js" defer></script>' in body
    assert "https://" not in body.split("</head>")[0]  # no CDN, no external fonts
    assert '"allowEval": false' in body
    assert 'hx-headers=\'{"X-CSRFToken": "' in body


def test_the_brand_leads_to_the_attention_page_and_the_token_page_is_highlighted(
    operator_client: Client, pipeline: Pipeline
) -> None:
    body = html(operator_client.get("/accounts/tokens/"))
    assert '<a class="brand" href="/">' in body  # "/" is the attention page, the home
    nav = body.split('aria-label="Main"')[1].split("</nav>")[0]
    assert '<a href="/accounts/tokens/" aria-current="page">API token</a>' in nav
    assert nav.count('aria-current="page"') == 1


def test_favicon_ico_leads_to_the_svg_icon(client: Client) -> None:
    response = client.get("/favicon.ico")  # the admin has no <link rel="icon">: browsers ask here
    assert response.status_code == 302
    assert response["Location"].endswith("favicon.svg")
