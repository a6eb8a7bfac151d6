"""The subscriber service: one-click unsubscribe, sign-up with double opt-in, confirmation."""
