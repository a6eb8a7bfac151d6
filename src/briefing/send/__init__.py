"""Delivering an issue: audience, per-recipient messages, transports and the ledger."""
