"""The `briefing` command. Thin: parse options, call the services, print."""

from briefing.cli import audience, send, site, theme
from briefing.cli.app import cli, main

__all__ = ["audience", "cli", "main", "send", "site", "theme"]
