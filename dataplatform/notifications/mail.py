"""The core's `EmailSender` built on Django's email backend (EMAIL_* settings)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from dataplatform.pipeline.notify import OutgoingEmail
from dataplatform.pipeline.notify.transports import EmailSender

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def send_with_django(email: OutgoingEmail) -> None:
    """Send one message (plain text + HTML alternative) through Django's configured backend;
    SMTP errors propagate so the transport records them (refused recipients are permanent)."""
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(email.to),
        headers={"X-Run-Monitor-Message-Id": email.message_id},
    )
    message.attach_alternative(email.html, "text/html")
    message.send(fail_silently=False)


def django_email_sender() -> EmailSender | None:
    """The sender, or None when the SMTP backend has no EMAIL_HOST (email is not configured:
    the attempt then fails with a message saying so instead of trying localhost:25)."""
    if settings.EMAIL_BACKEND == SMTP_BACKEND and not settings.EMAIL_HOST:
        return None
    return send_with_django
