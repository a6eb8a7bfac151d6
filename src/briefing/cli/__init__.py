"""The `briefing` command. Thin: parse options, call the services, print."""

from briefing.cli import audience, inbox, send, serve, site, theme
from briefing.cli.app import cli, main

__all__ = ["audience", "cli", "inbox", "main", "send", "serve", "site", "theme"]
