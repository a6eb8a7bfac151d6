"""The audience: subscribers, their statuses and history, in one SQLite store."""
