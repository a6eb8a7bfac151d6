"""The `briefing` command. Thin: parse options, call the services, print."""

from briefing.cli import send, site
from briefing.cli.app import cli, main

__all__ = ["cli", "main", "send", "site"]
