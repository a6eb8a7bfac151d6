"""The `briefing` command. Thin: parse options, call the services, print."""

from briefing.cli import audience, send, serve, site, theme
from briefing.cli.app import cli, main

__all__ = ["audience", "cli", "main", "send", "serve", "site", "theme"]
