"""`briefing serve`: run the subscriber service."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import signal
import sys

import click

from briefing.cli.app import State, cli


def _host_port(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from briefing.config import is_host_port  # the rule service.bind follows, port 0 too

    if value is not None and not is_host_port(value, any_port=True):
        raise click.BadParameter(f"{value!r}: use HOST:PORT, e.g. 127.0.0.1:8025 (port 0: any)")
    return value


@cli.command("serve")
@click.option(
    "--bind", metavar="HOST:PORT", callback=_host_port, help="Where to listen (service.bind)."
)
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads (service.threads).")
@click.pass_obj
def serve_command(state: State, bind: str | None, threads: int | None) -> None:
    """Run the subscriber service: one-click unsubscribe, sign-up and confirmation.

    Listens on loopback unless told otherwise; put it behind a reverse proxy
    for the public (see the README). Needs BRIEFING_UNSUBSCRIBE_SECRET, the
    same one `briefing send` signs unsubscribe links with.

    \b
    Example:
      briefing serve
      briefing serve --bind 127.0.0.1:9000 --threads 4
    """
    # The service (werkzeug, waitress) loads here, not at import: `briefing --help` stays quick.
    from briefing.config import load_config
    from briefing.serve.server import make_service, serve

    config = load_config(state.root)
    service = make_service(config)
    # waitress warns on every queued request under load: noise, not a problem to act on.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    def ready(url: str) -> None:
        click.echo(f"Subscriber service for {config.publication.title} on {url} (Ctrl-C stops)")
        sys.stdout.flush()
        host = url.split("//", 1)[1].rsplit(":", 1)[0].strip("[]")
        if not (host == "localhost" or ipaddress.ip_address(host).is_loopback):
            click.echo("note: not on loopback: serve the public through a TLS proxy", err=True)

    # SIGTERM (systemd, docker stop) stops it as Ctrl-C does: pending commits are finished.
    signal.signal(signal.SIGTERM, _interrupt)
    # waitress ends its loop on KeyboardInterrupt and returns; so does this.
    with contextlib.suppress(KeyboardInterrupt):
        origin = "--bind" if bind else "briefing.toml: service.bind"
        threads = threads or config.service.threads
        serve(service, bind or config.service.bind, threads, ready, origin)
    click.echo("Stopped.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
