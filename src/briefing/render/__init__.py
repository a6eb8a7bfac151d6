"""Renderers: one module per output kind."""
