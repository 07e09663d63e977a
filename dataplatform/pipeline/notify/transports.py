"""Transports: how one rendered message reaches one channel. Each returns an `AttemptOutcome`
(never raises for a delivery failure) saying whether it worked, the HTTP status, how long it
took, the error, and whether the failure is permanent (the channel gets disabled).

HTTP goes through an injectable `HttpPost` (default: urllib, no redirects followed, a short
timeout); email through an injectable `EmailSender` so the core stays Django-free: the Django
side passes one built on its email backend, the Lambda uses `SmtpSender` (EMAIL_* variables)."""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from ..timeutil import utc_now
from .channels import Channel
from .payloads import Rendered
from .signing import signed_headers

# Slack answers these (with a 4xx) when the webhook can never work again.
SLACK_PERMANENT_ERRORS = frozenset(
    {"invalid_token", "channel_not_found", "channel_is_archived", "no_service", "no_team", "team_disabled",
     "action_prohibited", "posting_to_general_channel_denied", "no_active_hooks"}
)
PERMANENT_HTTP = frozenset({404, 410})
MAX_ERROR_LENGTH = 300


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: str


@dataclass(frozen=True)
class AttemptOutcome:
    """The result of one delivery attempt."""

    ok: bool
    status_code: int | None
    duration_ms: int
    error: str | None = None
    permanent: bool = False


@dataclass(frozen=True)
class OutgoingEmail:
    """One email: plain text and HTML alternatives of the same message."""

    subject: str
    to: list[str]
    text: str
    html: str
    message_id: str


HttpPost = Callable[[str, bytes, dict[str, str], float], HttpResponse]
EmailSender = Callable[[OutgoingEmail], None]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: report the 3xx instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def urllib_post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, *, context: ssl.SSLContext | None = None
) -> HttpResponse:
    """POST with urllib: any HTTP status comes back as a response; network errors raise OSError.
    `context` replaces the default certificate checks (tests trust a local certificate)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only, checked at write
    opener = _opener if context is None else urllib.request.build_opener(
        _NoRedirect, urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return HttpResponse(response.status, response.read(4096).decode("utf-8", errors="replace"))
    except urllib.error.HTTPError as exc:
        text = exc.read(4096).decode("utf-8", errors="replace") if exc.fp else ""
        return HttpResponse(exc.code, text)


def _short(text: str) -> str:
    return text.strip().replace("\n", " ")[:MAX_ERROR_LENGTH]


def describe_failure(exc: BaseException, timeout: float) -> str:
    """What went wrong, in words an admin can act on, with the technical cause after it
    (`could not connect: connection refused (URLError: ...)`)."""
    cause: BaseException = exc
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        cause = exc.reason
    technical = f"{type(exc).__name__}: {exc}"
    if isinstance(cause, ssl.SSLCertVerificationError):
        words = "the receiver's TLS certificate was not accepted"
    elif isinstance(cause, ssl.SSLError):
        words = "the TLS handshake with the receiver failed"
    elif isinstance(cause, TimeoutError):
        words = f"no answer within {timeout:g} s"
    elif isinstance(cause, socket.gaierror):
        words = "the receiver's host name does not resolve"
    elif isinstance(cause, ConnectionRefusedError):
        words = "could not connect: connection refused (nothing listens at that address and port)"
    elif isinstance(cause, ConnectionError):
        words = "the connection to the receiver was dropped"
    elif isinstance(cause, smtplib.SMTPAuthenticationError):
        words = "the mail server refused the sign-in (EMAIL_HOST_USER / EMAIL_HOST_PASSWORD)"
    elif isinstance(cause, smtplib.SMTPException):
        words = "the mail server refused the message"
    elif isinstance(cause, OSError):
        words = "could not reach the receiver"
    else:
        return _short(technical)
    return _short(f"{words} ({technical})")


class Transports:
    """Sends a rendered message to a channel of any kind."""

    def __init__(
        self, *, http_post: HttpPost = urllib_post, email_sender: EmailSender | None = None, timeout: float = 5.0
    ) -> None:
        self.http_post = http_post
        self.email_sender = email_sender
        self.timeout = timeout

    def send(self, channel: Channel, message: Rendered) -> AttemptOutcome:
        """One attempt; never raises for a delivery failure."""
        started = time.monotonic()
        try:
            if channel.kind == "webhook":
                return self._webhook(channel, message, started)
            if channel.kind == "slack":
                return self._slack(channel, message, started)
            return self._email(channel, message, started)
        except Exception as exc:  # any transport failure is one failed attempt
            return AttemptOutcome(False, None, _elapsed(started), describe_failure(exc, self.timeout))

    def _post(self, url: str, body: str, headers: dict[str, str]) -> HttpResponse:
        return self.http_post(url, body.encode("utf-8"), headers, self.timeout)

    def _webhook(self, channel: Channel, message: Rendered, started: float) -> AttemptOutcome:
        if not channel.url or not channel.secret:
            return AttemptOutcome(False, None, 0, "the webhook channel has no url or secret", permanent=True)
        # The timestamp is the attempt's wall clock: receivers reject stale signatures.
        headers = signed_headers(
            channel.secret, msg_id=message.message_id, timestamp=int(utc_now().timestamp()), body=message.webhook_body
        )
        headers["user-agent"] = "run-monitor-webhooks/1"
        response = self._post(channel.url, message.webhook_body, headers)
        ok = 200 <= response.status < 300
        error = None if ok else _short(f"HTTP {response.status}: {response.body}")
        permanent = response.status in PERMANENT_HTTP
        return AttemptOutcome(ok, response.status, _elapsed(started), error, permanent=permanent)

    def _slack(self, channel: Channel, message: Rendered, started: float) -> AttemptOutcome:
        if not channel.url:
            return AttemptOutcome(False, None, 0, "the slack channel has no url", permanent=True)
        response = self._post(channel.url, message.slack_body, {"content-type": "application/json"})
        ok = 200 <= response.status < 300
        code = response.body.strip()
        refused = 400 <= response.status < 500 and code in SLACK_PERMANENT_ERRORS
        permanent = response.status in PERMANENT_HTTP or refused
        error = None if ok else _short(f"HTTP {response.status}: {code}")
        return AttemptOutcome(ok, response.status, _elapsed(started), error, permanent=permanent)

    def _email(self, channel: Channel, message: Rendered, started: float) -> AttemptOutcome:
        if self.email_sender is None:
            return AttemptOutcome(False, None, 0, "no email sender is configured (EMAIL_HOST)")
        email = OutgoingEmail(message.subject, list(channel.to), message.text, message.html, message.message_id)
        try:
            self.email_sender(email)
        except smtplib.SMTPRecipientsRefused as exc:
            return AttemptOutcome(False, None, _elapsed(started), _short(f"recipients refused: {exc}"), permanent=True)
        return AttemptOutcome(True, None, _elapsed(started))


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpSender:
    """An `EmailSender` over smtplib for the Lambda (same variable names as Django's settings)."""

    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    use_ssl: bool = False
    timeout: float = 10.0
    from_address: str = "run-monitor@localhost"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SmtpSender | None:
        """EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS,
        EMAIL_USE_SSL, EMAIL_TIMEOUT, DEFAULT_FROM_EMAIL; None when EMAIL_HOST is unset."""
        env = os.environ if env is None else env
        host = env.get("EMAIL_HOST", "").strip()
        if not host:
            return None
        use_tls, use_ssl = _flag(env, "EMAIL_USE_TLS"), _flag(env, "EMAIL_USE_SSL")
        if use_tls and use_ssl:
            raise ValueError("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive; set one")
        port_raw = env.get("EMAIL_PORT", "").strip()
        try:
            port = int(port_raw) if port_raw else (465 if use_ssl else 587 if use_tls else 25)
            timeout = float(env.get("EMAIL_TIMEOUT", "").strip() or 10)
        except ValueError as exc:
            raise ValueError(f"EMAIL_PORT / EMAIL_TIMEOUT must be numbers: {exc}") from exc
        return cls(
            host=host,
            port=port,
            username=env.get("EMAIL_HOST_USER", "").strip() or None,
            password=env.get("EMAIL_HOST_PASSWORD") or None,
            use_tls=use_tls,
            use_ssl=use_ssl,
            timeout=timeout,
            from_address=env.get("DEFAULT_FROM_EMAIL", "").strip() or cls.from_address,
        )

    def build(self, email: OutgoingEmail) -> EmailMessage:
        """The MIME message: text/plain with a text/html alternative."""
        message = EmailMessage()
        message["Subject"] = email.subject
        message["From"] = self.from_address
        message["To"] = ", ".join(email.to)
        message["Message-ID"] = make_msgid(idstring=email.message_id[:40], domain="run-monitor")
        message["X-Run-Monitor-Message-Id"] = email.message_id
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        return message

    def __call__(self, email: OutgoingEmail) -> None:
        message = self.build(email)
        context = ssl.create_default_context()
        smtp: smtplib.SMTP = (
            smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            if self.use_ssl
            else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        )
        with smtp:
            if self.use_tls:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
