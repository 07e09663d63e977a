"""X-Forwarded-* believed only from the proxies named in TRUSTED_PROXIES.

Behind a load balancer the TCP peer is the proxy, and the client's address and scheme arrive
in X-Forwarded-For and X-Forwarded-Proto. From any other peer those headers are whatever the
client chose to send: honoured, they would fake HTTPS (SECURE_PROXY_SSL_HEADER) and a client
address (login throttling per address). So: from a trusted peer, REMOTE_ADDR becomes the
nearest untrusted address of X-Forwarded-For; from anyone else, the forwarding headers are
dropped before Django sees them. gunicorn itself trusts no forwarding headers (gunicorn.conf.py)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# WSGI names of the headers a proxy sets about the client.
FORWARDING_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PROTOCOL",
    "HTTP_X_FORWARDED_SSL",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
)


@lru_cache(maxsize=8)
def parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """Addresses or networks ('10.0.0.0/16', '127.0.0.1', '::1'); ImproperlyConfigured on a bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES: {entry!r} is not an IP address or network") from exc
    return tuple(networks)


def is_trusted(address: str | None, networks: Iterable[Network]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_from_forwarded_for(header: str, networks: tuple[Network, ...]) -> str | None:
    """The rightmost address of X-Forwarded-For that is not a trusted proxy (entries to its
    left were written by the client and prove nothing); None if there is no valid one."""
    for raw in reversed([part.strip() for part in header.split(",")]):
        try:
            ip = ipaddress.ip_address(raw)
        except ValueError:
            return None  # garbage in the chain: trust nothing beyond the proxy
        if not any(ip in network for network in networks):
            return str(ip)
    return None


class TrustedProxyMiddleware:
    """See the module docstring. Must come first in MIDDLEWARE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.networks = parse_networks(tuple(settings.TRUSTED_PROXIES))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        if self.networks and is_trusted(meta.get("REMOTE_ADDR"), self.networks):
            client = client_from_forwarded_for(meta.get("HTTP_X_FORWARDED_FOR", ""), self.networks)
            if client:
                meta["REMOTE_ADDR"] = client
        else:
            for name in FORWARDING_HEADERS:
                meta.pop(name, None)
        return self.get_response(request)
