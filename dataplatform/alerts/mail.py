"""The notify core's email sender on Django's email framework (EMAIL_* settings, any backend)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import make_msgid

from dataplatform.pipeline.notify.transports import EmailSender, OutgoingEmail

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class DjangoEmailSender:
    """Sends an `OutgoingEmail` as a text/plain message with a text/html alternative.

    Raises what the backend raises: `smtplib.SMTPRecipientsRefused` is the notify core's
    permanent failure, anything else one failed attempt that it retries."""

    def __call__(self, email: OutgoingEmail) -> None:
        message = EmailMultiAlternatives(
            subject=email.subject,
            body=email.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=list(email.to),
            headers={
                # The same id on every retry of this message: receivers and mail logs can match them.
                "Message-ID": make_msgid(idstring=email.message_id[:40], domain="run-monitor"),
                "X-Run-Monitor-Message-Id": email.message_id,
            },
            connection=get_connection(fail_silently=False),
        )
        message.attach_alternative(email.html, "text/html")
        message.send(fail_silently=False)


def django_email_sender() -> EmailSender | None:
    """The sender for `Transports(email_sender=...)`; None when email is not configured (the
    SMTP backend without EMAIL_HOST), so email deliveries fail with a clear reason instead
    of trying localhost:25. Other backends (console, file, locmem in tests) always send."""
    if settings.EMAIL_BACKEND == SMTP_BACKEND and not settings.EMAIL_HOST:
        return None
    return DjangoEmailSender()
