"""X-Forwarded-* are believed only from TRUSTED_PROXIES (addresses or networks)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from dataplatform.web.proxies import TrustedProxyMiddleware, client_from_forwarded_for, parse_networks


def seen(settings: Any, *, peer: str, **headers: str) -> HttpRequest:
    """The request as the view sees it after the middleware."""
    captured: list[HttpRequest] = []

    def view(request: HttpRequest) -> HttpResponse:
        captured.append(request)
        return HttpResponse()

    TrustedProxyMiddleware(view)(RequestFactory().get("/", REMOTE_ADDR=peer, **headers))
    return captured[0]


@pytest.fixture
def behind_proxy(settings: Any) -> Any:
    settings.TRUSTED_PROXIES = ["10.0.0.0/16", "127.0.0.1"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


def test_a_trusted_proxy_gives_the_scheme_and_the_client_address(behind_proxy: Any) -> None:
    request = seen(behind_proxy, peer="10.0.3.4", HTTP_X_FORWARDED_PROTO="https",
                   HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.1.1")
    assert request.is_secure()
    assert request.META["REMOTE_ADDR"] == "203.0.113.9"


def test_other_peers_cannot_fake_https_or_an_address(behind_proxy: Any) -> None:
    request = seen(behind_proxy, peer="198.51.100.4", HTTP_X_FORWARDED_PROTO="https",
                   HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_X_REAL_IP="203.0.113.9", HTTP_FORWARDED="for=1.2.3.4")
    assert not request.is_secure()
    assert request.META["REMOTE_ADDR"] == "198.51.100.4"
    for name in ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED"):
        assert name not in request.META


def test_without_trusted_proxies_no_forwarding_header_is_believed(settings: Any) -> None:
    settings.TRUSTED_PROXIES = []
    request = seen(settings, peer="127.0.0.1", HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert not request.is_secure()
    assert request.META["REMOTE_ADDR"] == "127.0.0.1"


def test_the_client_is_the_rightmost_untrusted_address() -> None:
    networks = parse_networks(("10.0.0.0/8",))
    # The client may write anything on the left; only what our proxies appended counts.
    assert client_from_forwarded_for("1.1.1.1, 203.0.113.9, 10.1.1.1, 10.2.2.2", networks) == "203.0.113.9"
    assert client_from_forwarded_for("10.1.1.1", networks) is None
    assert client_from_forwarded_for("garbage, 10.1.1.1", networks) is None
    assert client_from_forwarded_for("2001:db8::1", networks) == "2001:db8::1"


def test_a_bad_trusted_proxy_entry_is_a_configuration_error() -> None:
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        parse_networks(("10.0.0.0/8", "proxy.example.com"))
