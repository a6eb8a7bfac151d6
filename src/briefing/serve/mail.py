"""The confirmation email of a sign-up: text and HTML from the theme, the publication's
From and Reply-To, DKIM when configured, through the configured transport."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from briefing.config import Config
from briefing.render.theme import Theme
from briefing.send.channel import Channel, Relay, open_channel
from briefing.send.credentials import Credentials
from briefing.send.dkim_signing import make_signer
from briefing.send.states import DeliveryState

OUTBOX_FOLDER = "confirmations"  # outbox/confirmations/ with the outbox transport


class Mailer:
    """Builds and delivers confirmation emails; one transport session per message."""

    def __init__(self, config: Config, theme: Theme, credentials: Credentials) -> None:
        self.config, self.theme = config, theme
        self.channel: Channel = open_channel(
            config, config.send.transport, OUTBOX_FOLDER, Relay(), credentials
        )
        self.sign = make_signer(config)

    def message(self, address: str, name: str, confirm_url: str, now: float) -> bytes:
        pub, email = self.config.publication, self.config.email
        subject = f"Confirm your subscription to {pub.title}"
        context = {
            "pub": pub,
            "subject": subject,
            "confirm_url": confirm_url,
            "hours": self.config.service.confirm_hours,
            "postal_address": email.postal_address,
        }
        msg = EmailMessage(policy=SMTP)
        msg["From"] = email.sender
        msg["To"] = formataddr((name, address))
        msg["Subject"] = subject
        msg["Date"] = formatdate(now, usegmt=True)
        msg["Message-ID"] = make_msgid("confirm", domain=self.config.domain or None)
        if email.reply_to:
            msg["Reply-To"] = email.reply_to
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
        msg.set_content(self.theme.render("service/confirm.txt.j2", **context))
        msg.add_alternative(self.theme.render("service/confirm.html.j2", **context), subtype="html")
        raw = msg.as_bytes()
        return self.sign(raw) if self.sign else raw

    def send(self, address: str, name: str, confirm_url: str, now: float) -> bool:
        """Deliver one confirmation; False when the transport did not take it."""
        raw = self.message(address, name, confirm_url, now)
        sender = parseaddr(self.config.email.sender)[1]
        transport = self.channel.make()
        try:
            result = transport.deliver(sender, address, raw, lambda: None)
        finally:
            transport.close()
        return result.state == DeliveryState.SENT
