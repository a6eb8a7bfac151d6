"""`briefing serve`: the service under waitress, a production WSGI server in pure Python."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from pathlib import Path

from briefing.audience.access import expire_sign_ups, open_store
from briefing.config import Config, load_config
from briefing.errors import BriefingError, Problem
from briefing.render.theme import Theme
from briefing.send.credentials import Credentials
from briefing.serve.app import SubscriberService
from briefing.serve.mail import Mailer
from briefing.serve.pages import Pages

log = logging.getLogger("briefing")


def make_service(config: Config, credentials: Credentials | None = None) -> SubscriberService:
    """The WSGI application for one publication (secret from the environment)."""
    credentials = credentials or Credentials.from_env()
    secret = credentials.secret()
    with open_store(config) as store:  # created (the CSV files moved in) before serving
        expire_sign_ups(store, config)
    theme = Theme.load(config)
    return SubscriberService(
        config, Pages(config, theme), secret, Mailer(config, theme, credentials)
    )


def application_for(project: Path) -> SubscriberService:
    return make_service(load_config(project.resolve()))


def serve(
    service: SubscriberService,
    bind: str,
    threads: int,
    ready: Callable[[str], None],
    origin: str = "--bind",
) -> None:
    """Serve until interrupted; ready(url) is called once the socket listens. origin
    names where bind came from, for the error when it cannot be listened on."""
    from waitress import create_server

    host, _, port = bind.rpartition(":")
    try:
        server = create_server(
            service,
            host=host.strip("[]"),
            port=int(port),
            threads=threads,
            ident="briefing",
            clear_untrusted_proxy_headers=False,  # the app reads X-Forwarded-For itself
            connection_limit=1000,
            channel_timeout=30,
        )
    except (OSError, ValueError) as exc:  # waitress says ValueError for a host it cannot resolve
        service.close()
        if getattr(exc, "errno", None) == errno.EADDRINUSE:
            why = "the address is in use; stop what listens there or choose another port"
        else:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            why = f"{reason.rstrip('.')}; use an address of this machine, e.g. 127.0.0.1:8025"
        raise BriefingError(Problem(origin, f"cannot listen on {bind}: {why}")) from None
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    url = f"http://{shown}:{server.effective_port}/"
    if not service.config.service.url:  # local use: links point where it listens
        service.public_url = url
    ready(url)
    try:
        server.run()
    finally:
        server.close()
        service.close()
