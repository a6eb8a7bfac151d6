"""The `briefing` command. Thin: parse options, call the services, print.

Command modules load on demand (see app.COMMANDS), so start-up costs only what runs."""

from briefing.cli.app import cli, main

__all__ = ["cli", "main"]
