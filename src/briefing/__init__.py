"""briefing: a static-site newsletter and RSS publisher."""

__version__ = "0.1.0"
