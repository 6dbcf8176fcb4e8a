"""E-mail alerts through the commune's own SMTP server, as a Prefect notification block.

Prefect's bundled e-mail block needs SendGrid, and the Cloud-only e-mail action is not on a
self-hosted server; a local government usually has an SMTP relay. The block is registered
through the `prefect.collections` entry point so that the Prefect server, which sends the
automation's notification, can load it.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Literal

from prefect.blocks.abstract import NotificationBlock
from pydantic import Field, SecretStr


class SmtpEmail(NotificationBlock):
    """Send notifications as e-mails through an SMTP server.

    Attributes:
        host: SMTP server name.
        port: 587 for STARTTLS, 465 for TLS, 25 inside a trusted network.
        security: `starttls`, `tls` (implicit, port 465) or `none`.
        username: Login, when the server asks for one.
        password: Password (stored encrypted by Prefect, never shown).
        sender: From address, e.g. `moisson@ville.fr`.
        to: Recipients, e.g. the data team's functional address.
        timeout: Seconds to wait for the server.
    """

    _block_type_name = "Email SMTP"
    _block_type_slug = "email-smtp"
    _description = "Notifications par courriel via votre propre serveur SMTP (moisson)."

    host: str
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    to: list[str] = Field(min_length=1)
    timeout: float = 30

    async def notify(self, body: str, subject: str | None = None) -> None:
        """Send one e-mail to every recipient.

        Raises:
            OSError: The server could not be reached or refused the message, only inside
                `raise_on_failure()`; otherwise the failure is logged.
        """
        message = EmailMessage()
        message["From"], message["To"] = self.sender, ", ".join(self.to)
        message["Subject"] = subject or "moisson"
        message.set_content(body)
        try:
            self._send(message)
        except OSError as exc:  # smtplib errors are OSErrors
            self.logger.error("l'envoi du courriel à %s via %s:%s a échoué : %s", message["To"], self.host,
                              self.port, exc)
            if self._raise_on_failure:
                raise

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        if self.security == "tls":
            server: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with server:
            if self.security == "starttls":
                server.starttls(context=context)
            if self.username and self.password:
                server.login(self.username, self.password.get_secret_value())
            server.send_message(message)
