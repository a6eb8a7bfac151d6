"""The `briefing` command. Thin: parse options, call the services, print."""

from briefing.cli import audience, inbox, schedule, send, serve, site, theme
from briefing.cli.app import cli, main

__all__ = ["audience", "cli", "inbox", "main", "schedule", "send", "serve", "site", "theme"]
